"""``ppt-mocap bench studio``: virtual-studio rendering speed (renders per second at 640x480).

Measured side by side in one run on the same preset rig and seed:

* ``full``: :meth:`core.studio.Studio.render` per camera image - poses, primitives, backdrop relighting,
  shadows, ray casting with z-buffer and shading, exact ground truth (2D, line-of-sight visibility, boxes);
* ``two_people``: the same with two actors;
* ``render_only``: only :meth:`core.studio.render.CameraRenderer.render` (no pose or ground-truth work);
* ``plain_backdrop``: ``full`` without the room (grey background, no shadows).

Rates are camera images per second by wall clock and by this process's CPU time (the CPU rate is what an
otherwise idle machine would give a single-threaded renderer; the wall rate is what this run got).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

NAME = "studio"
HELP = "virtual studio: 640x480 renders per second (target 60) and setup time"
TARGET_RENDERS_PER_S = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="ring4", help="rig preset (default ring4)")
    parser.add_argument("--frames", type=int, default=40, help="frame sets per variant (default 40)")
    parser.add_argument("--size", default="640x480", help="image size WxH (default 640x480)")
    parser.add_argument("--seed", type=int, default=0)


def _timed(fn, n: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``n`` calls fn(i)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return time.perf_counter() - w0, time.process_time() - c0


def run(args: argparse.Namespace) -> dict:
    from core.studio.studio import make_studio

    try:
        w, h = (int(v) for v in str(args.size).lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 640x480, got {args.size!r}") from None
    if args.frames < 2:
        raise ValueError(f"--frames must be at least 2, got {args.frames}")
    n = int(args.frames)
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
                     "preset": args.preset, "image_size": f"{w}x{h}", "frame_sets_per_variant": n}

    t0 = time.perf_counter()
    studio = make_studio(args.preset, motion="walk", seed=args.seed, size=(w, h))
    figures["setup_s (scene + backdrop bake)"] = round(time.perf_counter() - t0, 2)
    C = len(studio.rig)
    studio.render(0)  # warm-up

    results = {}
    wall, cpu = _timed(lambda i: studio.render(i + 1), n)
    results["full"] = (wall, cpu)

    two = make_studio(args.preset, motion="walk", people=2, seed=args.seed, size=(w, h))
    two.render(0)
    results["two_people"] = _timed(lambda i: two.render(i + 1), n)

    scene = studio.scene
    frames = [(scene.primitives(scene.poses(np.array([(i + 1) / studio.fps]))), scene.lighting.at((i + 1) / studio.fps))
              for i in range(n)]

    def render_only(i: int) -> None:
        prims, light = frames[i]
        for r in studio.renderers:
            r.render(prims, scene.materials, light)

    results["render_only"] = _timed(render_only, n)

    plain = make_studio(args.preset, motion="walk", seed=args.seed, size=(w, h), room=False, props=False)
    plain.render(0)
    results["plain_backdrop"] = _timed(lambda i: plain.render(i + 1), n)

    for name, (wall, cpu) in results.items():
        figures[f"{name}: renders/s (wall)"] = round(n * C / wall, 1)
        figures[f"{name}: renders/s (cpu)"] = round(n * C / max(cpu, 1e-9), 1)
    full_wall, full_cpu = results["full"]
    figures["full: ms per render (wall)"] = round(1000 * full_wall / (n * C), 2)
    figures["full: frame sets/s (wall)"] = round(n / full_wall, 1)
    figures["ratio two_people / full (time)"] = round(results["two_people"][0] / full_wall, 2)
    figures["ratio render_only / full (time)"] = round(results["render_only"][0] / full_wall, 2)
    figures["target renders/s"] = TARGET_RENDERS_PER_S
    figures["meets target (wall)"] = bool(n * C / full_wall >= TARGET_RENDERS_PER_S)
    try:
        figures["load average (1 min) after"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return figures
