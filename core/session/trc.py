"""TRC marker files (OpenSim, Pose2Sim): tab-separated, one row per frame, metres or millimetres.

OpenSim is Y-up. ppt-mocap worlds are Z-up by default, so writing maps world ``(x, y, z)`` to TRC
``(X, Y, Z) = (y, z, x)``, the same mapping Pose2Sim uses (its Z-up calibrations give Y-up TRC files);
reading applies the inverse. A Y-up world is written unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# world axis index feeding TRC X, Y, Z for each world up axis.
_WORLD_TO_TRC = {"z": (1, 2, 0), "y": (0, 1, 2)}


def _axes(up: str) -> tuple[int, int, int]:
    up = up.lstrip("+")
    if up not in _WORLD_TO_TRC:
        raise ValueError(f"TRC export supports worlds with up axis 'z' or 'y', got {up!r}")
    return _WORLD_TO_TRC[up]


def write_trc(path, points: np.ndarray, marker_names: list[str], fps: float, units: str = "m",
              world_up: str = "z", start_frame: int = 1) -> Path:
    """Write world points (T, J, 3) as a Y-up TRC file; NaN becomes an empty cell (a gap).

    Args:
        points: marker positions (T, J, 3) in ``units`` in the world frame.
        marker_names: J names.
        fps: frame rate (Hz).
        units: ``"m"`` or ``"mm"``.
        world_up: the world's up axis (``"z"`` or ``"y"``).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"write_trc: expected points of shape (T, J, 3), got {points.shape}")
    if len(marker_names) != points.shape[1]:
        raise ValueError(f"write_trc: {len(marker_names)} marker names for {points.shape[1]} markers")
    if units not in ("m", "mm"):
        raise ValueError(f"write_trc: units must be 'm' or 'mm', got {units!r}")
    trc = points[..., list(_axes(world_up))]
    T, J, _ = trc.shape
    path = Path(path)
    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:g}\t{fps:g}\t{T}\t{J}\t{units}\t{fps:g}\t{start_frame}\t{T}",
        "Frame#\tTime\t" + "\t\t\t".join(marker_names) + "\t\t",
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(J)),
    ]
    rows = []
    for t in range(T):
        values = "\t".join("" if not np.isfinite(v) else f"{v:.6f}" for v in trc[t].reshape(-1))
        rows.append(f"{start_frame + t}\t{t / fps:.6f}\t{values}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + rows) + "\n")
    return path


def read_trc(path, world_up: str = "z") -> tuple[np.ndarray, list[str], float, str]:
    """Read a TRC file -> ``(points (T, J, 3) in the world frame, marker names, fps, units)``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"TRC file not found: {path}")
    lines = path.read_text().splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise ValueError(f"{path}: not a TRC file (expected a 'PathFileType' header and 5 header lines)")
    keys = lines[1].split("\t")
    values = lines[2].split("\t")
    meta = dict(zip(keys, values))
    fps = float(meta.get("DataRate", 0) or 0)
    units = meta.get("Units", "m").strip()
    names = [n for n in lines[3].split("\t")[2:] if n.strip()]
    rows = []
    for line in lines[5:]:
        if not line.strip():
            continue
        cells = line.split("\t")[2:]
        cells = (cells + [""] * (3 * len(names)))[: 3 * len(names)]
        rows.append([float(c) if c.strip() else np.nan for c in cells])
    trc = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(names), 3)
    world = np.empty_like(trc)
    world[..., list(_axes(world_up))] = trc
    return world, names, fps, units
