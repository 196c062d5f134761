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

from core.geometry.alignment import kabsch

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


# ---------------------------------------------------------------------------------------------------------------
# C3D (biomechanics: Vicon, Visual3D, OpenSim, Pose2Sim) through the maintained ``c3d`` package.

def write_c3d(path, points: np.ndarray, joint_names: list[str], fps: float, units: str = "m", up: str = "z") -> Path:
    """Write world points (T, J, 3) as a C3D file in millimetres (NaN -> residual -1, i.e. invalid).

    The world frame is written as is (C3D readers take the axes from the file; ``up`` is stored in the
    ``POINT:Y_SCREEN``/``X_SCREEN`` parameters for Z-up worlds).
    """
    try:
        import c3d
    except ImportError as exc:  # a base dependency; only a broken install gets here
        raise ImportError("C3D export needs the 'c3d' package (pip install c3d)") from exc
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"write_c3d: expected points of shape (T, J, 3), got {points.shape}")
    if len(joint_names) != points.shape[1]:
        raise ValueError(f"write_c3d: {len(joint_names)} names for {points.shape[1]} joints")
    scale = {"m": 1000.0, "mm": 1.0, "cm": 10.0}.get(units)
    if scale is None:
        raise ValueError(f"write_c3d: units must be 'm', 'cm' or 'mm', got {units!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = c3d.Writer(point_rate=float(fps), analog_rate=0.0, point_scale=-1.0, point_units="mm  ")
    writer.set_point_labels([n[:30] for n in joint_names])
    if up.lstrip("+") == "z":
        writer.set_screen_axis("+X", "+Z")
    frames = []
    for frame in points:
        data = np.zeros((len(joint_names), 5), dtype=np.float32)
        ok = np.isfinite(frame).all(axis=1)
        data[ok, :3] = frame[ok] * scale
        data[~ok, 3] = -1.0  # residual -1: not reconstructed
        frames.append((data, np.zeros((0, 0), dtype=np.float32)))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No analog data found": expected, we write none
        writer.add_frames(frames)
        with open(path, "wb") as f:
            writer.write(f)
    return path


def read_c3d(path) -> tuple[np.ndarray, list[str], float]:
    """Read a C3D file -> (points (T, J, 3) in millimetres with NaN for invalid markers, labels, fps)."""
    import c3d

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"C3D file not found: {path}")
    import warnings

    with open(path, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No analog data found": expected, we write none
        reader = c3d.Reader(f)
        labels = [s.strip() for s in reader.point_labels]
        fps = float(reader.point_rate)
        frames = []
        for _, pts, _ in reader.read_frames():
            xyz = pts[:, :3].astype(np.float64)
            xyz[pts[:, 3] < 0] = np.nan
            frames.append(xyz)
    return np.stack(frames) if frames else np.zeros((0, len(labels), 3)), labels, fps


# ---------------------------------------------------------------------------------------------------------------
# BVH (animation tools: Blender, MotionBuilder, Unity/Unreal importers).

#: Parent of each point in the BVH hierarchy, per skeleton; "pelvis"/"thorax" are derived (mid-hips /
#: mid-shoulders) for skeletons that lack them.
BVH_PARENTS = {
    "h36m17": {"right_hip": "pelvis", "right_knee": "right_hip", "right_ankle": "right_knee",
               "left_hip": "pelvis", "left_knee": "left_hip", "left_ankle": "left_knee", "spine": "pelvis",
               "thorax": "spine", "nose": "thorax", "head_top": "nose", "left_shoulder": "thorax",
               "left_elbow": "left_shoulder", "left_wrist": "left_elbow", "right_shoulder": "thorax",
               "right_elbow": "right_shoulder", "right_wrist": "right_elbow"},
    "coco17": {"left_hip": "pelvis", "right_hip": "pelvis", "left_knee": "left_hip", "right_knee": "right_hip",
               "left_ankle": "left_knee", "right_ankle": "right_knee", "thorax": "pelvis", "nose": "thorax",
               "left_eye": "nose", "right_eye": "nose", "left_ear": "left_eye", "right_ear": "right_eye",
               "left_shoulder": "thorax", "right_shoulder": "thorax", "left_elbow": "left_shoulder",
               "right_elbow": "right_shoulder", "left_wrist": "left_elbow", "right_wrist": "right_elbow"},
}
BVH_PARENTS["body25b"] = {**BVH_PARENTS["coco17"], "upper_neck": "thorax", "head_top": "upper_neck",
                          "left_big_toe": "left_ankle", "left_small_toe": "left_ankle", "left_heel": "left_ankle",
                          "right_big_toe": "right_ankle", "right_small_toe": "right_ankle",
                          "right_heel": "right_ankle"}

# Rest (T-pose) bone directions in the BVH frame: Y up, the character faces +Z, its left is +X.
_REST_DIRECTIONS = (
    (("hip",), None),  # sideways: sign from left/right
    (("shoulder", "elbow", "wrist", "ear"), None),
    (("knee", "ankle", "heel"), (0.0, -1.0, 0.0)),
    (("toe",), (0.0, 0.0, 1.0)),
)


def _rest_direction(name: str) -> np.ndarray:
    side = 1.0 if name.startswith("left") else -1.0 if name.startswith("right") else 0.0
    for keys, direction in _REST_DIRECTIONS:
        if any(k in name for k in keys):
            if direction is None:
                return np.array([side, 0.0, 0.0])
            return np.array(direction)
    return np.array([0.0, 1.0, 0.0])  # spine, neck, head, nose, eyes: up


def _world_to_bvh(points: np.ndarray, up: str) -> np.ndarray:
    up = up.lstrip("+")
    if up == "z":
        return points[..., [1, 2, 0]]  # (x, y, z) -> (y, z, x): a rotation, Y up (as for TRC)
    if up == "y":
        return points.copy()
    raise ValueError(f"BVH export supports worlds with up axis 'z' or 'y', got {up!r}")


def _bvh_to_world(points: np.ndarray, up: str) -> np.ndarray:
    up = up.lstrip("+")
    if up == "z":
        out = np.empty_like(points)
        out[..., [1, 2, 0]] = points
        return out
    return points.copy()


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (T, 3, 3) taking unit vectors a (T, 3) onto unit vectors b (T, 3)."""
    v = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    s = np.linalg.norm(v, axis=1)
    R = np.tile(np.eye(3), (len(a), 1, 1))
    K = np.zeros((len(a), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 0] = -v[:, 2], v[:, 1], v[:, 2]
    K[:, 1, 2], K[:, 2, 0], K[:, 2, 1] = -v[:, 0], -v[:, 1], v[:, 0]
    ok = s > 1e-12
    f = np.where(ok, (1 - c) / np.where(ok, s * s, 1.0), 0.0)
    R = R + K + K @ K * f[:, None, None]
    opposite = (~ok) & (c < 0)  # 180 degrees: rotate about any axis perpendicular to a
    for t in np.nonzero(opposite)[0]:
        axis = np.cross(a[t], [1.0, 0, 0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a[t], [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        R[t] = 2 * np.outer(axis, axis) - np.eye(3)
    return R


def _fill_missing(points: np.ndarray) -> np.ndarray:
    """Interpolate NaN over time per coordinate; hold the nearest value at the ends."""
    T = points.shape[0]
    flat = points.reshape(T, -1).copy()
    t = np.arange(T)
    for k in range(flat.shape[1]):
        good = np.isfinite(flat[:, k])
        if good.any() and not good.all():
            flat[:, k] = np.interp(t, t[good], flat[good, k])
    return flat.reshape(points.shape)


def write_bvh(path, points: np.ndarray, joint_names: list[str], fps: float, skeleton: str, units: str = "m",
              up: str = "z") -> Path:
    """Write world joints (T, J, 3) as a BVH animation with rotations solved from the joints.

    The hierarchy follows :data:`BVH_PARENTS` for ``skeleton`` (root ``pelvis``; ``pelvis``/``thorax`` derived as
    mid-hips / mid-shoulders when the joint set lacks them). Bone lengths (the rest offsets) are the median
    lengths over the take; the rest pose is a T-pose, Y up, facing +Z, in centimetres. Each point joint turns by the
    smallest rotation that aligns its bone with the data (segments with several children get zero-length helper
    joints ``<joint>_to_<child>`` so every child bone is matched); the root's orientation is the best rigid fit of
    its child bones. Forward kinematics of the file reproduces the joints up to each frame's deviation from the
    median bone lengths (:func:`read_bvh` + :func:`bvh_forward_kinematics`). Missing joints are interpolated.
    """
    from scipy.spatial.transform import Rotation

    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"write_bvh: expected points of shape (T, J, 3), got {points.shape}")
    if len(joint_names) != points.shape[1]:
        raise ValueError(f"write_bvh: {len(joint_names)} names for {points.shape[1]} joints")
    if skeleton not in BVH_PARENTS:
        raise ValueError(f"write_bvh: no BVH hierarchy for skeleton {skeleton!r}; known: {sorted(BVH_PARENTS)}")
    scale = {"m": 100.0, "cm": 1.0, "mm": 0.1}.get(units)
    if scale is None:
        raise ValueError(f"write_bvh: units must be 'm', 'cm' or 'mm', got {units!r}")
    T = points.shape[0]
    if T == 0:
        raise ValueError("write_bvh: no frames")
    parents = BVH_PARENTS[skeleton]
    pts = {n: _world_to_bvh(points[:, i], up) * scale for i, n in enumerate(joint_names)}
    missing = [n for n in set(parents) | set(parents.values()) if n not in pts and n not in ("pelvis", "thorax")]
    if missing:
        raise ValueError(f"write_bvh: joints {sorted(missing)} of skeleton {skeleton} are not in joint_names")
    if "pelvis" not in pts:
        pts["pelvis"] = (pts["left_hip"] + pts["right_hip"]) / 2
    if "thorax" not in pts:
        pts["thorax"] = (pts["left_shoulder"] + pts["right_shoulder"]) / 2
    if not np.isfinite(pts["pelvis"]).any():
        raise ValueError("write_bvh: the pelvis (root) is never reconstructed; nothing to animate")
    pts = {n: _fill_missing(p) for n, p in pts.items()}
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    length = {c: float(np.nanmedian(np.linalg.norm(pts[c] - pts[p], axis=1))) for c, p in parents.items()}
    rest = {c: _rest_direction(c) * (length[c] if np.isfinite(length[c]) else 1.0) for c in parents}

    def unit(v):
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return np.where(n > 1e-12, v / np.where(n > 1e-12, n, 1.0), 0.0)

    # Solve global rotations top-down (breadth first). Nodes: point joints and helpers "<p>_to_<c>".
    glob: dict[str, np.ndarray] = {}
    bvh_parent: dict[str, str | None] = {"pelvis": None}
    order = ["pelvis"]
    root_kids = children.get("pelvis", [])
    cur = np.stack([pts[c] - pts["pelvis"] for c in root_kids], axis=1)
    glob["pelvis"] = kabsch(np.stack([unit(rest[c]) for c in root_kids]), unit(cur))
    queue = ["pelvis"]
    while queue:
        j = queue.pop(0)
        ks = children.get(j, [])
        if j != "pelvis":
            base = glob[bvh_parent[j]]
            if len(ks) == 1:  # j's own rotation aligns its only bone
                c = ks[0]
                glob[j] = _align(unit(np.einsum("tij,j->ti", base, unit(rest[c]))), unit(pts[c] - pts[j])) @ base
            else:  # a leaf, or a segment with several bones (helpers align each)
                glob[j] = base
        for c in ks:
            if len(ks) == 1 and j != "pelvis":
                bvh_parent[c] = j
            else:
                h = f"{j}_to_{c}"
                glob[h] = _align(unit(np.einsum("tij,j->ti", glob[j], unit(rest[c]))),
                                 unit(pts[c] - pts[j])) @ glob[j]
                bvh_parent[h] = j
                bvh_parent[c] = h
                order.append(h)
            order.append(c)
            queue.append(c)

    local = {}
    for node in order:
        p = bvh_parent[node]
        local[node] = glob[node] if p is None else np.einsum("tji,tjk->tik", glob[p], glob[node])
    euler = {n: Rotation.from_matrix(local[n]).as_euler("ZXY", degrees=True) for n in order}

    def offset(node):
        return rest[node] if node in rest else np.zeros(3)  # the root and helpers sit on their parent

    lines = ["HIERARCHY"]

    def emit(node, depth):
        pad = "  " * depth
        kind = "ROOT" if node == "pelvis" else "JOINT"
        lines.append(f"{pad}{kind} {node}")
        lines.append(f"{pad}{{")
        off = offset(node)
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        if node == "pelvis":
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        kids_ = [n for n in order if bvh_parent.get(n) == node]
        if not kids_:
            lines.append(f"{pad}  End Site")
            lines.append(f"{pad}  {{")
            lines.append(f"{pad}    OFFSET 0.000000 {max(1.0, 0.1 * np.linalg.norm(off)):.6f} 0.000000")
            lines.append(f"{pad}  }}")
        for k in kids_:
            emit(k, depth + 1)
        lines.append(f"{pad}}}")

    emit("pelvis", 0)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / fps:.8f}"]
    emitted = [ln.split()[1] for ln in lines if ln.strip().startswith(("ROOT", "JOINT"))]
    root = pts["pelvis"]
    for t in range(T):
        vals = [f"{v:.6f}" for v in root[t]]
        for n in emitted:
            vals += [f"{v:.6f}" for v in euler[n][t]]
        lines.append(" ".join(vals))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_bvh(path) -> dict:
    """Parse a BVH file -> ``{"names", "parents" (index or -1), "offsets" (N, 3), "channels" (list of lists),
    "motion" (T, C), "frame_time"}``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"BVH file not found: {path}")
    tokens = path.read_text().split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise ValueError(f"{path}: not a BVH file (expected 'HIERARCHY')")
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = 1
    last = -1
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            last = len(names) - 1
            i += 2
        elif tok == "End":
            last = -2  # End Site: its OFFSET and braces are skipped
            i += 2
        elif tok == "{":
            stack.append(last)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            if stack and stack[-1] >= 0:
                offsets[stack[-1]] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2:i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"{path}: unexpected token {tok!r} in the hierarchy")
    frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    values = np.array([float(v) for v in tokens[i + 6:]])
    width = sum(len(c) for c in channels)
    if values.size != frames * width:
        raise ValueError(f"{path}: {values.size} motion values, expected {frames} x {width}")
    return {"names": names, "parents": parents, "offsets": np.stack(offsets), "channels": channels,
            "motion": values.reshape(frames, width), "frame_time": frame_time}


def bvh_forward_kinematics(bvh: dict) -> np.ndarray:
    """Joint positions (T, N, 3) in the BVH frame from a parsed BVH (:func:`read_bvh`)."""
    from scipy.spatial.transform import Rotation

    motion = bvh["motion"]
    T = len(motion)
    N = len(bvh["names"])
    pos = np.zeros((T, N, 3))
    rot = np.zeros((T, N, 3, 3))
    col = 0
    for j in range(N):
        chans = bvh["channels"][j]
        vals = motion[:, col:col + len(chans)]
        col += len(chans)
        trans = np.zeros((T, 3))
        rot_axes, rot_vals = "", []
        for k, ch in enumerate(chans):
            if ch.endswith("position"):
                trans[:, "XYZ".index(ch[0])] = vals[:, k]
            else:
                rot_axes += ch[0]
                rot_vals.append(vals[:, k])
        R = Rotation.from_euler(rot_axes, np.stack(rot_vals, axis=1), degrees=True).as_matrix() if rot_axes \
            else np.tile(np.eye(3), (T, 1, 1))
        p = bvh["parents"][j]
        if p < 0:
            pos[:, j] = trans + bvh["offsets"][j]
            rot[:, j] = R
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", rot[:, p], bvh["offsets"][j])
            rot[:, j] = rot[:, p] @ R
    return pos


def bvh_joint_positions(path, joint_names: list[str], units: str = "m", up: str = "z") -> np.ndarray:
    """Forward kinematics of a BVH written by :func:`write_bvh`, back in the world frame and ``units``:
    (T, J, 3) for ``joint_names`` (NaN for joints not in the file)."""
    bvh = read_bvh(path)
    pos = bvh_forward_kinematics(bvh)
    scale = {"m": 100.0, "cm": 1.0, "mm": 0.1}[units]
    out = np.full((len(pos), len(joint_names), 3), np.nan)
    for i, n in enumerate(joint_names):
        if n in bvh["names"]:
            out[:, i] = _bvh_to_world(pos[:, bvh["names"].index(n)], up) / scale
    return out


# ---------------------------------------------------------------------------------------------------------------
SESSION_EXPORT_FORMATS = ("trc", "c3d", "csv", "json", "bvh", "npz")


def export_points(path, points: np.ndarray, joint_names: list[str], fps: float, units: str = "m", up: str = "z",
                  skeleton: str | None = None, extra: dict | None = None) -> Path:
    """Write 3D joints (T, J, 3) in the format of ``path``'s extension: everything :func:`write_points` writes, plus
    ``.c3d`` and ``.bvh`` (which needs ``skeleton``, the joint set's name)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".c3d":
        return write_c3d(path, points, joint_names, fps, units=units, up=up)
    if suffix == ".bvh":
        if skeleton is None:
            raise ValueError("BVH export needs the skeleton name (its joint hierarchy)")
        return write_bvh(path, points, joint_names, fps, skeleton, units=units, up=up)
    if suffix.lstrip(".") not in SESSION_EXPORT_FORMATS:
        raise ValueError(f"unknown export format {suffix!r}; expected one of {SESSION_EXPORT_FORMATS}")
    return write_points(path, points, joint_names, fps, units=units, up=up, extra=extra)
