"""Write 3D joint trajectories to the formats other tools read, chosen by file extension.

``.trc`` (OpenSim/Pose2Sim, Y-up, see :mod:`core.session.trc`), ``.csv`` (one row per frame:
``frame, time, <joint>_x, <joint>_y, <joint>_z, ...`` in the world frame), ``.npz`` (arrays plus names)
and ``.json`` (``{"fps", "units", "up", "joints", "frames": [[[x, y, z] | null, ...], ...]}``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from core.session.trc import write_trc

EXPORT_FORMATS = (".trc", ".csv", ".npz", ".json")


def write_points(path, points: np.ndarray, joint_names: list[str], fps: float, units: str = "m",
                 up: str = "z", extra: dict | None = None) -> Path:
    """Write world points (T, J, 3) to ``path``; the format follows the extension (:data:`EXPORT_FORMATS`).

    ``extra`` arrays (e.g. ``reprojection_error (T, J)``) are stored in ``.npz`` files only.
    """
    path = Path(path)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"expected points of shape (T, J, 3), got {points.shape}")
    if len(joint_names) != points.shape[1]:
        raise ValueError(f"{len(joint_names)} joint names for {points.shape[1]} joints")
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".trc":
        return write_trc(path, points, list(joint_names), fps, units=units, world_up=up)
    if suffix == ".csv":
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["frame", "time"] + [f"{n}_{a}" for n in joint_names for a in "xyz"])
            for t, frame in enumerate(points):
                writer.writerow([t, f"{t / fps:.6f}"] + ["" if not np.isfinite(v) else f"{v:.6f}"
                                                        for v in frame.reshape(-1)])
        return path
    if suffix == ".npz":
        np.savez_compressed(path, points_3d=points, joint_names=np.asarray(joint_names), fps=fps, units=units,
                            up=up, **(extra or {}))
        return path
    if suffix == ".json":
        frames = [[None if not np.all(np.isfinite(p)) else [round(float(v), 6) for v in p] for p in frame]
                  for frame in points]
        path.write_text(json.dumps({"fps": fps, "units": units, "up": up, "joints": list(joint_names),
                                    "frames": frames}))
        return path
    raise ValueError(f"unknown output format {suffix!r} for {path}; expected one of {EXPORT_FORMATS}")
