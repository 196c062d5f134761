"""``ppt-mocap bench JOB``: benchmarks that print ratios measured side by side in one run.

Each module in :mod:`core.bench` is one job with ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> dict``; the dict holds the figures and is printed as a table, or as one JSON object with
``--json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil

from core import bench as bench_pkg


def _jobs() -> dict:
    jobs = {}
    for info in sorted(pkgutil.iter_modules(bench_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"core.bench.{info.name}")
        if hasattr(module, "run") and hasattr(module, "NAME"):
            jobs[module.NAME] = module
    return jobs


def _print_table(figures: dict, indent: str = "") -> None:
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_table(value, indent + "  ")
        elif isinstance(value, float):
            print(f"{indent}{key:<40s} {value:.4g}")
        else:
            print(f"{indent}{key:<40s} {value}")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark (speed and accuracy figures)")
    jobs_parsers = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for name, module in _jobs().items():
        job = jobs_parsers.add_parser(name, help=module.HELP, description=module.HELP)
        job.add_argument("--json", action="store_true", help="print one JSON object with the figures")
        module.add_arguments(job)
        job.set_defaults(func=_make_runner(module))


def _make_runner(module):
    def _run(args: argparse.Namespace) -> int:
        figures = module.run(args)
        if args.json:
            print(json.dumps(figures, default=float))
        else:
            _print_table(figures)
        return 0

    return _run
