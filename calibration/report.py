"""Plain-text tables and explanations of calibration results (for the CLI and logs)."""

from __future__ import annotations

from typing import Iterable


from calibration.extrinsics import ExtrinsicsResult
from calibration.intrinsics import IntrinsicsResult
from core.geometry.camera import CameraRig


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def intrinsics_table(results: Iterable[IntrinsicsResult]) -> str:
    """One row per camera: views used/rejected, RMS and worst view (px), focal lengths, principal point, coverage."""
    rows = []
    for r in results:
        K = r.camera.K
        found = f"{r.num_views + len(r.rejected)}/{r.frames_read}" if r.frames_read is not None else str(r.num_views)
        rows.append([r.camera.name, f"{r.camera.size[0]}x{r.camera.size[1]}", found, str(len(r.rejected)),
                     f"{r.rms:.3f}", f"{r.per_view_errors.max():.3f}", f"{K[0, 0]:.2f}", f"{K[1, 1]:.2f}",
                     f"{K[0, 2]:.2f}", f"{K[1, 2]:.2f}", f"{r.coverage.cell_fraction:.0%}"])
    return _table(["camera", "size", "boards", "rejected", "rms px", "worst px", "fx", "fy", "cx", "cy", "coverage"],
                  rows)


def intrinsics_notes(results: Iterable[IntrinsicsResult]) -> str:
    lines = []
    for r in results:
        for det, err in r.rejected:
            lines.append(f"{r.camera.name}: rejected {det.source} ({err:.2f} px; blurred, moving or mis-detected)")
        for w in r.warnings:
            lines.append(f"{r.camera.name}: {w}")
        if r.coverage.cell_fraction >= 0.5 and r.coverage.missing_regions():
            lines.append(f"{r.camera.name}: {r.coverage.advice()}")
    return "\n".join(lines)


def extrinsics_table(result: ExtrinsicsResult, rig: CameraRig | None = None) -> str:
    """One row per camera: frames, observations, reprojection error (mean/median/95th percentile px), position."""
    rig = rig or result.rig
    rows = []
    for cam in rig:
        s = result.per_camera[cam.name]
        c = cam.center
        rows.append([cam.name, str(s["frames"]), str(s["observations"]), f"{s['mean_px']:.3f}",
                     f"{s['median_px']:.3f}", f"{s['p95_px']:.3f}",
                     " ".join(f"{v:+.3f}" for v in c)])
    return _table(["camera", "frames", "corners", "mean px", "median px", "p95 px", f"position ({rig.units})"], rows)


def extrinsics_notes(result: ExtrinsicsResult) -> str:
    lines = [f"bundle adjustment: RMS {result.initial_rms_px:.3f} px -> {result.rms_px:.3f} px over "
             f"{len(result.board_poses)} frames ({result.evaluations} evaluations, {result.seconds:.1f} s)"]
    m = result.metric
    if m is not None:
        lines.append(f"metric check: neighbouring corners {m.mean_m * 1000:.3f} mm apart on average for "
                     f"{m.square_m * 1000:g} mm squares (scale error {m.relative_error * 100:+.3f} %, "
                     f"mean |error| {m.mean_abs_error_mm:.3f} mm, worst {m.max_abs_error_mm:.2f} mm)")
    if result.flips:
        lines.append(f"{len(result.flips)} view(s) had the board's corner order flipped and were relabelled")
    if result.outliers_removed:
        lines.append(f"{result.outliers_removed} corner observation(s) dropped as outliers")
    lines += result.warnings
    return "\n".join(lines)
