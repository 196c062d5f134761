"""Calibration files: read and write camera rigs.

Written format: the Anipose / Pose2Sim TOML layout (read unchanged by Anipose, Pose2Sim and FreeMoCap)::

    [cam_00]
    name = "cam01"
    size = [1920, 1080]                 # width, height (px)
    matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    distortions = [k1, k2, p1, p2, k3]  # 4 values + fisheye = true for a fisheye lens
    rotation = [rx, ry, rz]             # Rodrigues, world -> camera
    translation = [tx, ty, tz]          # in metadata.units
    fisheye = false

    [metadata]
    units = "m"
    up = "z"

Read formats (chosen by :func:`load_rig` from the file): that TOML as written by ppt-mocap, Anipose,
Pose2Sim and FreeMoCap (v1 and v2); Caliscope's ``camera_array.toml`` (``[cameras.N]`` tables, rotation as a
Rodrigues vector or a legacy 3x3 matrix, world -> camera, metres; cameras named ``cam_N``); CMU Panoptic ``calibration_*.json`` (cm); Campus
``calibration_campus.json`` (mm, ``X_cam = R (X - T)``); Human3.6M ``cameras.pkl`` (camera-to-world ``R``,
centre ``T`` in mm, Human3.6M distortion). Unit changes are explicit: the file's unit comes from the file
(``metadata.units``) or from the format's definition, and is converted only to the ``units`` asked for.
"""

from __future__ import annotations

import json
import logging
import pickle
import tomllib
from pathlib import Path

import numpy as np
import tomli_w

from core.geometry.camera import UNIT_SCALE_TO_M, Camera, CameraRig, matrix_to_rodrigues

log = logging.getLogger(__name__)

# Tables of other tools' TOML files that are not cameras (Pose2Sim's reader skips the same ones).
NON_CAMERA_TABLES = {"metadata", "capture_volume", "charuco", "checkerboard"}
REQUIRED_CAMERA_KEYS = ("size", "matrix", "distortions", "rotation", "translation")


class CalibrationFileError(ValueError):
    """A calibration file that is missing, malformed or of an unknown format (names the file and the problem)."""


def load_rig(path, units: str | None = None, *, camera_type: str = "hd", subject: str | None = None) -> CameraRig:
    """Load any supported calibration file into a :class:`CameraRig`.

    Args:
        path: a ``.toml``, Panoptic or Campus ``.json``, or Human3.6M ``cameras.pkl`` file.
        units: convert the rig to ``"m"`` or ``"mm"``; ``None`` keeps the file's unit (cm becomes m).
        camera_type: Panoptic only: ``"hd"``, ``"vga"`` or ``"kinect"`` cameras.
        subject: Human3.6M only: which subject's four cameras (default the first, ``"S1"``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"calibration file not found: {path}")
    if path.is_dir():
        raise CalibrationFileError(f"calibration path is a folder, expected a file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        rig = load_toml(path)
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise CalibrationFileError(f"{path}: not valid JSON ({exc})") from exc
        if isinstance(data, dict) and "cameras" in data:
            rig = _panoptic_from_dict(data, path, camera_type)
        elif isinstance(data, dict) and data and all(isinstance(v, dict) and "fx" in v for v in data.values()):
            rig = _campus_from_dict(data, path)
        else:
            raise CalibrationFileError(
                f"{path}: unknown JSON calibration layout; expected CMU Panoptic (a 'cameras' list) "
                "or Campus (camera id -> {R, T, fx, fy, cx, cy, k, p})"
            )
    elif suffix in (".pkl", ".pickle"):
        rig = load_h36m_cameras(path, subject=subject)
    else:
        raise CalibrationFileError(
            f"{path}: unknown calibration file type {suffix!r}; expected .toml, .json (Panoptic/Campus) "
            "or .pkl (Human3.6M)"
        )
    return rig if units is None else rig.to_units(units)


# ------------------------------------------------------------------------------------------------
# TOML (Anipose / Pose2Sim / FreeMoCap / ppt-mocap)
def _as_float_array(value, shape: tuple, where: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationFileError(f"{where}: expected numbers of shape {shape}, got {value!r}") from exc
    if shape and arr.shape != shape:
        raise CalibrationFileError(f"{where}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CalibrationFileError(f"{where}: contains non-finite values")
    return arr


def _toml_units(meta: dict, path: Path) -> str:
    """Length unit of a TOML file: stated in [metadata], or defined by the writer's format."""
    units = meta.get("units")
    if units is not None:
        if units not in UNIT_SCALE_TO_M:
            raise CalibrationFileError(f"{path}: [metadata] units = {units!r}, expected 'm', 'cm' or 'mm'")
        return units
    board = meta.get("board", {})
    if isinstance(board, dict) and "square_length_mm" in board:
        return "mm"  # FreeMoCap v2 writes translations in millimetres and says so in its board table.
    log.info("%s: no [metadata] units; reading translations as metres (Pose2Sim convention). "
             "Pass units explicitly or add units = \"mm\" to the file if it is in millimetres.", path)
    return "m"


def load_toml(path) -> CameraRig:
    """Read an Anipose / Pose2Sim / FreeMoCap / ppt-mocap calibration TOML, in the file's camera order."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationFileError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise CalibrationFileError(f"{path}: not a text file ({exc})") from exc
    if isinstance(data.get("cameras"), dict) and all(isinstance(v, dict) for v in data["cameras"].values()):
        return _caliscope_from_dict(data["cameras"], path)
    meta = data.get("metadata", {}) if isinstance(data.get("metadata", {}), dict) else {}
    cameras = []
    for section, table in data.items():
        if section in NON_CAMERA_TABLES or not isinstance(table, dict):
            continue
        missing = [k for k in REQUIRED_CAMERA_KEYS if k not in table]
        if missing:
            raise CalibrationFileError(
                f"{path}: camera table [{section}] is missing {missing}; a camera needs {list(REQUIRED_CAMERA_KEYS)}"
            )
        where = f"{path} [{section}]"
        fisheye = bool(table.get("fisheye", False))
        dist = _as_float_array(table["distortions"], (), f"{where} distortions").reshape(-1)
        model = "fisheye" if fisheye else "opencv"
        if not fisheye and dist.size not in (4, 5, 8):
            raise CalibrationFileError(f"{where} distortions: expected 4, 5 or 8 values, got {dist.size}")
        if fisheye and dist.size != 4:
            raise CalibrationFileError(f"{where} distortions: a fisheye camera needs 4 values, got {dist.size}")
        size = _as_float_array(table["size"], (2,), f"{where} size")
        try:
            cameras.append(
                Camera.from_rodrigues(
                    name=str(table.get("name", section)),
                    size=tuple(size),
                    K=_as_float_array(table["matrix"], (3, 3), f"{where} matrix"),
                    dist=dist,
                    rvec=_as_float_array(table["rotation"], (3,), f"{where} rotation"),
                    tvec=_as_float_array(table["translation"], (3,), f"{where} translation"),
                    distortion_model=model,
                )
            )
        except ValueError as exc:
            if isinstance(exc, CalibrationFileError):
                raise
            raise CalibrationFileError(f"{where}: {exc}") from exc
    if not cameras:
        raise CalibrationFileError(f"{path}: no camera tables found (expected [cam_00], [cam_01], ...)")
    units = _toml_units(meta, path)
    extra = {k: v for k, v in meta.items() if k not in ("units", "up")}
    rig = CameraRig(cameras, units="m" if units == "cm" else units, up=str(meta.get("up", "z")), metadata=extra)
    if units == "cm":
        rig = CameraRig([c.scaled(0.01) for c in cameras], units="m", up=rig.up, metadata=extra)
    _warn_if_units_look_wrong(rig, path)
    return rig


def _caliscope_from_dict(tables: dict, path: Path) -> CameraRig:
    """Caliscope's ``camera_array.toml``: ``[cameras.N]`` with size, matrix, distortions (5, or 4 with
    ``fisheye = true``), rotation (Rodrigues (3,), or a 3x3 matrix in older files) and translation in metres, the
    world -> camera transform (Caliscope exports it unchanged as Anipose's). Cameras marked ``ignore`` are left
    out; a camera without a pose (Caliscope's extrinsic calibration did not reach it) is an error naming it."""
    cameras, unposed, ignored, rotated = [], [], [], {}
    for key in sorted(tables, key=lambda k: (not str(k).isdigit(), int(k) if str(k).isdigit() else 0, str(k))):
        table = tables[key]
        name = f"cam_{key}"
        where = f"{path} [cameras.{key}]"
        if table.get("ignore", False):
            ignored.append(name)
            continue
        for k in ("size", "matrix", "distortions"):
            if k not in table:
                raise CalibrationFileError(f"{where} has no {k}: Caliscope's intrinsic calibration did not run for "
                                           f"camera {key}")
        if "rotation" not in table or "translation" not in table:
            unposed.append(name)
            continue
        rotation = _as_float_array(table["rotation"], (), f"{where} rotation")
        if rotation.shape == (3, 3):
            rvec = matrix_to_rodrigues(rotation)
        elif rotation.size == 3:
            rvec = rotation.reshape(3)
        else:
            raise CalibrationFileError(f"{where} rotation: expected a Rodrigues vector (3,) or a 3x3 matrix, "
                                       f"got shape {rotation.shape}")
        fisheye = bool(table.get("fisheye", False))
        dist = _as_float_array(table["distortions"], (), f"{where} distortions").reshape(-1)
        if table.get("rotation_count", 0):
            rotated[name] = int(table["rotation_count"])
        try:
            cameras.append(Camera.from_rodrigues(
                name=name, size=tuple(_as_float_array(table["size"], (2,), f"{where} size")),
                K=_as_float_array(table["matrix"], (3, 3), f"{where} matrix"), dist=dist, rvec=rvec,
                tvec=_as_float_array(table["translation"], (3,), f"{where} translation").reshape(3),
                distortion_model="fisheye" if fisheye else "opencv"))
        except ValueError as exc:
            raise CalibrationFileError(f"{where}: {exc}") from exc
    if unposed:
        raise CalibrationFileError(f"{path}: cameras {unposed} have no pose (rotation/translation): Caliscope's "
                                   "extrinsic calibration has not placed them; finish it in Caliscope, or calibrate "
                                   "with `ppt-mocap calibrate extrinsics`")
    if not cameras:
        raise CalibrationFileError(f"{path}: no usable camera in [cameras.N] (ignored: {ignored})")
    if ignored:
        log.info("%s: cameras %s are marked ignore in Caliscope; left out", path, ignored)
    if rotated:
        log.warning("%s: Caliscope shows cameras %s rotated by 90-degree steps (rotation_count); ppt-mocap reads "
                    "frames as recorded, so give it the recordings Caliscope calibrated", path, rotated)
    rig = CameraRig(cameras, units="m", up="z",
                    metadata={"source": "caliscope camera_array.toml", **({"ignored": ignored} if ignored else {}),
                              **({"rotation_count": rotated} if rotated else {})})
    _warn_if_units_look_wrong(rig, path)
    return rig


def _warn_if_units_look_wrong(rig: CameraRig, path) -> None:
    distances = np.linalg.norm(rig.centers, axis=1)
    if rig.units == "m" and np.median(distances) > 100:
        log.warning("%s: cameras are %.0f m from the origin on median; is the file in millimetres?",
                    path, np.median(distances))


def save_toml(rig: CameraRig, path) -> None:
    """Write ``rig`` as Anipose / Pose2Sim TOML with zero-padded section names."""
    width = max(2, len(str(len(rig) - 1)))
    doc: dict = {}
    for i, cam in enumerate(rig.cameras):
        if cam.distortion_model == "h36m":
            raise ValueError(
                f"camera {cam.name!r} uses the Human3.6M distortion model, which the TOML layout cannot hold"
            )
        dist = cam.dist if cam.fisheye else cam.dist[:5]
        doc[f"cam_{i:0{width}d}"] = {
            "name": cam.name,
            "size": [int(cam.size[0]), int(cam.size[1])],
            "matrix": cam.K.tolist(),
            "distortions": dist.tolist(),
            "rotation": cam.rvec.tolist(),
            "translation": cam.t.tolist(),
            "fisheye": cam.fisheye,
        }
    meta = {"units": rig.units, "up": rig.up}
    meta.update(_toml_safe(rig.metadata))
    meta.setdefault("adjusted", False)
    meta.setdefault("error", 0.0)
    lines = []
    for section, table in doc.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_inline(value)}" for key, value in table.items())
        lines.append("")
    text = "\n".join(lines) + "\n" + tomli_w.dumps({"metadata": meta})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def _inline(value) -> str:
    """One TOML value on one line (arrays inline, floats with full precision)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[ " + ", ".join(_inline(v) for v in value) + ",]"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return tomli_w.dumps({"v": value})[4:].strip()


def _toml_safe(value):
    """Convert numpy values and None to types TOML can hold (None entries are dropped)."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _toml_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------------------------------------
# CMU Panoptic, Campus, Human3.6M
def _panoptic_from_dict(data: dict, path: Path, camera_type: str) -> CameraRig:
    cameras = []
    for entry in data["cameras"]:
        if entry.get("type") != camera_type:
            continue
        try:
            dist = np.asarray(
                json.loads(entry["distCoef"]) if isinstance(entry["distCoef"], str) else entry["distCoef"],
                dtype=np.float64,
            ).reshape(-1)
            cameras.append(
                Camera(
                    name=str(entry["name"]),
                    size=tuple(entry["resolution"]),
                    K=np.asarray(entry["K"], dtype=np.float64),
                    dist=dist,
                    R=np.asarray(entry["R"], dtype=np.float64),
                    t=np.asarray(entry["t"], dtype=np.float64).reshape(3) * 0.01,  # cm -> m
                )
            )
        except KeyError as exc:
            raise CalibrationFileError(f"{path}: Panoptic camera {entry.get('name')} lacks key {exc}") from exc
    if not cameras:
        types = sorted({e.get("type") for e in data["cameras"]})
        raise CalibrationFileError(f"{path}: no Panoptic cameras of type {camera_type!r} (types: {types})")
    return CameraRig(cameras, units="m", up="-y", metadata={"source": "CMU Panoptic", "source_units": "cm"})


def _campus_from_dict(data: dict, path: Path) -> CameraRig:
    cameras = []
    for cam_id, entry in data.items():
        try:
            R = np.asarray(entry["R"], dtype=np.float64)
            T = np.asarray(entry["T"], dtype=np.float64).reshape(3) * 0.001  # mm -> m, camera centre
            k = np.asarray(entry.get("k", [0, 0, 0]), dtype=np.float64).reshape(-1)
            p = np.asarray(entry.get("p", [0, 0]), dtype=np.float64).reshape(-1)
            K = np.array([[entry["fx"], 0, entry["cx"]], [0, entry["fy"], entry["cy"]], [0, 0, 1.0]])
        except KeyError as exc:
            raise CalibrationFileError(f"{path}: Campus camera {cam_id} lacks key {exc}") from exc
        size = (360, 288)  # not stored in the file; every Campus video is 360x288
        cameras.append(Camera(name=str(cam_id), size=size, K=K, dist=np.r_[k[:2], p[:2], k[2:3]], R=R, t=-R @ T))
    return CameraRig(cameras, units="m", up="z", metadata={"source": "Campus", "source_units": "mm"})


def load_h36m_cameras(path, subject: str | None = None) -> CameraRig:
    """Human3.6M ``cameras.pkl`` ({(subject, id): {R, T, f, c, k, p, w, h, name}}) -> the subject's rig (m).

    Human3.6M stores the camera-to-world rotation ``R`` and the camera centre ``T`` (mm):
    ``X_cam = R^T (X_world - T)``; its distortion model is kept as ``"h36m"``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except (pickle.UnpicklingError, EOFError) as exc:
        raise CalibrationFileError(f"{path}: not a readable Human3.6M cameras pickle ({exc})") from exc
    subjects = sorted({key[0] for key in data})
    subject = subject or subjects[0]
    if subject not in subjects:
        raise CalibrationFileError(f"{path}: no cameras for subject {subject!r} (subjects: {subjects})")
    cameras = []
    for (subj, cam_id), entry in sorted(data.items()):
        if subj != subject:
            continue
        R_c2w = np.asarray(entry["R"], dtype=np.float64)
        T = np.asarray(entry["T"], dtype=np.float64).reshape(3) * 0.001
        f = np.asarray(entry["f"], dtype=np.float64).reshape(2)
        c = np.asarray(entry["c"], dtype=np.float64).reshape(2)
        K = np.array([[f[0], 0, c[0]], [0, f[1], c[1]], [0, 0, 1.0]])
        dist = np.r_[np.asarray(entry["k"]).reshape(3), np.asarray(entry["p"]).reshape(2)]
        R = R_c2w.T
        cameras.append(
            Camera(name=str(cam_id), size=(int(entry["w"]), int(entry["h"])), K=K, dist=dist, R=R, t=-R @ T,
                   distortion_model="h36m")
        )
    return CameraRig(cameras, units="m", up="z", metadata={"source": "Human3.6M", "subject": subject,
                                                           "source_units": "mm"})
