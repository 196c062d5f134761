"""The ``ppt-mocap`` command line.

Every module in :mod:`app.commands` contributes one subcommand through ``register(subparsers)``; the
module sets ``func`` on its parser, which receives the parsed ``argparse.Namespace`` and returns an exit
code. With no subcommand the desktop GUI opens (when it is installed), otherwise help is printed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from app import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppt-mocap",
        description="Real-time multi-camera markerless 3D motion capture with multi-view PPT. "
        "With no subcommand the desktop app opens.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"app.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def _open_gui_or_help(parser: argparse.ArgumentParser) -> int:
    try:
        gui = importlib.import_module("app.gui.main")
    except ModuleNotFoundError:
        parser.print_help()
        return 0
    return int(gui.run_app() or 0)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        return _open_gui_or_help(parser)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, NotADirectoryError, FileExistsError) as exc:
        # Input errors name what is wrong; show them without a traceback.
        print(f"ppt-mocap {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
