"""The session folder: one format for studio renders, camera recordings and their results.

Layout (``FORMAT_VERSION`` 1)::

    SESSION/
      session.json        manifest (:class:`SessionManifest`): format version, created, cameras, fps, units,
                          up axis, source, seed, software versions, source settings, frame count, complete
      calibration.toml    the rig (Anipose / Pose2Sim layout, :meth:`core.geometry.CameraRig.save`)
      videos/<camera>.avi one video per camera, MJPEG; video frame k is frame set k (a dropped frame holds a
                          repeat of the previous image and is flagged in timestamps.csv)
      timestamps.csv      frame_index, camera, t_capture_ns, t_wall, dropped  (one row per camera per frame set)
      ground_truth.npz    studio sessions only: joints_3d (T, J, 3), joints_2d (T, C, J, 2), visible (T, C, J),
                          boxes (T, C, 4), joint_names (J,) for the first person; people_* arrays (P axis after
                          C) for everyone; frame_index (T,), t (T,), t_capture (T, C), dropped (T, C)
      results/<name>/     added by the estimation pipeline (a later format extension)
      exports/            TRC, CSV, JSON ... (core.session.export)

Writing is incremental: timestamps.csv is flushed at least every second, ground truth is appended as
``ground_truth.partNNNN.npz`` chunks (merged into ground_truth.npz on close) and the manifest is rewritten
with the frame count, so a killed process leaves a readable session (its videos lose at most their last
buffered frames). Times: ``t_capture_ns`` on the host's monotonic clock (studio: nanoseconds of scene time
from 0), ``t_wall`` Unix seconds.
"""

from __future__ import annotations

import csv
import json
import logging
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from core.geometry.calibration_io import CalibrationFileError, load_rig
from core.geometry.camera import CameraRig
from core.geometry.image_size import reconcile_size
from core.records import Frame, FrameSet

log = logging.getLogger(__name__)

FORMAT_NAME = "ppt-mocap-session"
FORMAT_VERSION = 1
MANIFEST = "session.json"
CALIBRATION = "calibration.toml"
TIMESTAMPS = "timestamps.csv"
GROUND_TRUTH = "ground_truth.npz"
VIDEO_DIR = "videos"
TIMESTAMP_COLUMNS = ("frame_index", "camera", "t_capture_ns", "t_wall", "dropped")
VIDEO_CODECS = {".avi": "MJPG"}


def software_versions() -> dict[str, str]:
    """Versions of the software that wrote a session."""
    versions = {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__}
    try:
        from importlib.metadata import version

        versions["ppt-mocap"] = version("ppt-mocap")
    except Exception:  # not installed as a package (running from a checkout)
        versions["ppt-mocap"] = "unknown"
    return versions


@dataclass
class SessionManifest:
    """Contents of ``session.json``.

    Attributes:
        cameras: camera names, in rig order (the ``C`` axis of every array).
        image_sizes: (width, height) per camera.
        fps: nominal frame rate, Hz.
        source: what produced the frames: ``"studio"``, ``"cameras"``, ``"files"``, ...
        units: length unit of the calibration and 3D data (``"m"``).
        up: the world's up axis.
        seed: random seed (studio sessions), else None.
        created: ISO 8601 creation time (UTC).
        frames: number of frame sets written.
        complete: True once the writer closed cleanly.
        video: ``{"ext": ".avi", "codec": "MJPG"}``.
        software: versions of the writing software.
        settings: source-specific settings (studio: preset, motion, people, imperfections, ...).
        weights: model weight hashes used for results (filled by later stages).
        size_mismatches: cameras whose frames differ in size from the calibration, and what was done
            (:class:`core.geometry.image_size.SizeMismatch` as dicts: camera, calibrated, actual, action, message).
        format: always :data:`FORMAT_NAME`.
        format_version: :data:`FORMAT_VERSION` of the writer.
    """

    cameras: list[str]
    image_sizes: list[list[int]]
    fps: float
    source: str
    units: str = "m"
    up: str = "z"
    seed: int | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    frames: int = 0
    complete: bool = False
    video: dict = field(default_factory=lambda: {"ext": ".avi", "codec": "MJPG"})
    software: dict = field(default_factory=software_versions)
    settings: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    size_mismatches: list = field(default_factory=list)
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=json_default)

    @classmethod
    def from_dict(cls, data: dict, where: str = "session.json") -> "SessionManifest":
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT_NAME:
            raise ValueError(f"{where}: not a ppt-mocap session manifest (format = {data.get('format')!r}, "
                             f"expected {FORMAT_NAME!r})")
        version = data.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"{where}: format_version must be a positive integer, got {version!r}")
        if version > FORMAT_VERSION:
            raise ValueError(f"{where}: session format version {version} is newer than this software reads "
                             f"({FORMAT_VERSION}); update ppt-mocap")
        missing = [k for k in ("cameras", "image_sizes", "fps", "source") if k not in data]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        known = {f for f in cls.__dataclass_fields__}
        manifest = cls(**{k: v for k, v in data.items() if k in known})
        if len(manifest.image_sizes) != len(manifest.cameras):
            raise ValueError(f"{where}: {len(manifest.cameras)} cameras but {len(manifest.image_sizes)} image sizes")
        return manifest


def json_default(value, lenient: bool = False):
    """``json.dumps`` fallback for numpy values and paths; other types raise, or become ``str`` if ``lenient``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if lenient:
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a session's JSON files")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json_atomic(path: Path, data: dict, lenient: bool = False) -> None:
    """Write ``data`` as JSON through a temporary file, so a kill never leaves a half-written file."""
    _atomic_write(Path(path), json.dumps(data, indent=2, default=lambda v: json_default(v, lenient)))


def read_json(path: Path) -> dict:
    """Read a session JSON file; a damaged one raises ``ValueError`` naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc


# ------------------------------------------------------------------------------------------------
class SessionWriter:
    """Write a session folder incrementally.

    Args:
        path: the session folder to create.
        rig: the cameras (their names and image sizes fix the videos).
        fps: nominal frame rate, Hz.
        source: ``"studio"``, ``"cameras"``, ``"files"``, ...
        seed: random seed of a studio session.
        settings: source-specific settings stored in the manifest.
        overwrite: replace an existing folder (else :class:`FileExistsError`).
        video_ext: ``".avi"`` (MJPEG, readable everywhere OpenCV runs; FFmpeg's writer streams to disk).
        flush_s: flush timestamps and ground truth at least this often, seconds.
        size_mismatches: mismatches already found upstream (the pipeline's), stored in the manifest.
        on_size_mismatch: called with each :class:`core.geometry.image_size.SizeMismatch` found while writing.

    Every frame given is written, whatever its size: a camera's video takes the size of its first frame. When that
    differs from the calibration, the size policy of :mod:`core.geometry.image_size` applies: for a small
    crop/padding or another resolution of the same aspect ratio the session's ``calibration.toml`` describes the
    recorded frames (adapted intrinsics); otherwise the calibration is kept as it was. Either way the mismatch is
    stored in the manifest (``size_mismatches``) and logged as a warning. A camera that changes resolution in the
    middle of a recording has its later frames resized to its video's size (noted once in the manifest).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path, rig: CameraRig, fps: float, source: str, *, seed: int | None = None,
                 settings: dict | None = None, overwrite: bool = False, video_ext: str = ".avi",
                 flush_s: float = 1.0, size_mismatches: list | None = None, on_size_mismatch=None) -> None:
        path = Path(path)
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if video_ext not in VIDEO_CODECS:
            raise ValueError(f"video_ext must be one of {sorted(VIDEO_CODECS)}, got {video_ext!r}")
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"output folder {path} already exists; choose another folder or pass "
                                      "overwrite=True (--overwrite) to replace it")
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        (path / VIDEO_DIR).mkdir(parents=True)
        self.path = path
        self.rig = rig
        self.names = rig.names
        self.manifest = SessionManifest(cameras=list(self.names), image_sizes=[list(c.size) for c in rig],
                                        fps=float(fps), source=source, units=rig.units, up=rig.up, seed=seed,
                                        video={"ext": video_ext, "codec": VIDEO_CODECS[video_ext]},
                                        settings=dict(settings or {}),
                                        size_mismatches=list(size_mismatches or []))
        self._on_size_mismatch = on_size_mismatch
        rig.save(path / CALIBRATION)
        self._video_ext = video_ext
        self._writers: dict[str, cv2.VideoWriter] = {}
        self._video_sizes: dict[str, tuple[int, int]] = {}
        self._last_image: dict[str, np.ndarray] = {}
        self._csv_file = open(path / TIMESTAMPS, "w", newline="")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(TIMESTAMP_COLUMNS)
        self._truth_rows: list = []
        self._truth_parts = 0
        self._flush_s = flush_s
        self._last_flush = time.monotonic()
        self._next_index = 0
        self._closed = False
        _atomic_write(path / MANIFEST, self.manifest.to_json())

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(complete=exc_type is None)

    # ----------------------------------------------------------------------------------------------
    def _size_mismatch(self, name: str, image: np.ndarray) -> None:
        """A camera's first frame differs in size from its calibration: adapt or note it (never refuse)."""

        cam, mismatch = reconcile_size(self.rig[name], (image.shape[1], image.shape[0]))
        if mismatch is None:
            return
        if mismatch.action != "refuse":  # the session's calibration describes the recorded frames
            self.rig = CameraRig([cam if c.name == name else c for c in self.rig.cameras], units=self.rig.units,
                                 up=self.rig.up, metadata=dict(self.rig.metadata))
            self.rig.save(self.path / CALIBRATION)
        idx = self.names.index(name)
        self.manifest.image_sizes[idx] = [int(image.shape[1]), int(image.shape[0])]
        known = {m.get("camera") for m in self.manifest.size_mismatches}
        if name not in known:
            self.manifest.size_mismatches.append(mismatch.as_dict())
        log.warning("recording: %s", mismatch.message)
        if self._on_size_mismatch is not None:
            self._on_size_mismatch(mismatch)

    def _writer(self, name: str, image: np.ndarray) -> cv2.VideoWriter:
        w = self._writers.get(name)
        if w is None:
            if (image.shape[1], image.shape[0]) != tuple(int(v) for v in self.rig[name].size):
                self._size_mismatch(name, image)
            size = (int(image.shape[1]), int(image.shape[0]))  # the video holds what arrives
            self._video_sizes[name] = size
            file = str(self.path / VIDEO_DIR / f"{name}{self._video_ext}")
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self._video_ext])
            w = cv2.VideoWriter(file, cv2.CAP_FFMPEG, fourcc, self.manifest.fps, tuple(size))
            if not w.isOpened():
                w = cv2.VideoWriter(file, fourcc, self.manifest.fps, tuple(size))
            if not w.isOpened():
                raise RuntimeError(f"cannot open a {VIDEO_CODECS[self._video_ext]} video writer for {file}")
            self._writers[name] = w
        return w

    def write(self, index: int, images: dict[str, np.ndarray], t_capture_ns: dict[str, int | None],
              t_wall: dict[str, float | None] | float) -> None:
        """Write frame set ``index`` (must be the next one): cameras missing from ``images`` are dropped.

        Args:
            index: frame-set index, consecutive from 0.
            images: camera name -> (H, W, 3) uint8 BGR for the cameras that delivered.
            t_capture_ns: camera name -> capture stamp (None or absent when unknown).
            t_wall: camera name -> wall time, or one wall time for all.
        """
        if self._closed:
            raise RuntimeError("session writer is closed")
        if index != self._next_index:
            raise ValueError(f"frame sets must be written in order: expected index {self._next_index}, got {index}")
        unknown = set(images) - set(self.names)
        if unknown:
            raise ValueError(f"images for cameras {sorted(unknown)} that are not in the rig {self.names}")
        for name in self.names:
            image = images.get(name)
            dropped = image is None
            if dropped:
                image = self._last_image.get(name)
                if image is None:
                    w, h = self._video_sizes.get(name) or self.rig[name].size
                    image = np.zeros((int(h), int(w), 3), np.uint8)
            else:
                image = np.ascontiguousarray(image)
                if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                    raise ValueError(f"camera {name!r}: expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
                video = self._video_sizes.get(name)
                if video is not None and (image.shape[1], image.shape[0]) != video:
                    image = self._resized_to_video(name, image, video)
                self._last_image[name] = image
            self._writer(name, image).write(image)
            stamp = t_capture_ns.get(name)
            wall = t_wall.get(name) if isinstance(t_wall, dict) else t_wall
            self._csv.writerow([index, name, "" if stamp is None else int(stamp),
                                "" if wall is None else f"{float(wall):.6f}", int(dropped)])
        self._next_index += 1
        self.manifest.frames = self._next_index
        self._maybe_flush()

    def _resized_to_video(self, name: str, image: np.ndarray, video: tuple[int, int]) -> np.ndarray:
        """A camera changed resolution mid-recording: keep the frame, resized to its video (noted once)."""
        note = f"camera {name!r} changed resolution to {image.shape[1]}x{image.shape[0]} during the recording; " \
               f"its later frames are resized to the video's {video[0]}x{video[1]}"
        if note not in self.manifest.settings.setdefault("resolution_changes", []):
            self.manifest.settings["resolution_changes"].append(note)
            log.warning("recording: %s", note)
        return cv2.resize(image, video, interpolation=cv2.INTER_AREA)

    def write_frame_set(self, frame_set: FrameSet, stamps_of_missing: dict[str, int] | None = None) -> None:
        """Write a :class:`FrameSet` as the next frame set (its missing cameras are written as dropped)."""
        images = {n: f.image for n, f in frame_set.frames.items()}
        stamps: dict[str, int | None] = {n: f.t_capture_ns for n, f in frame_set.frames.items()}
        stamps.update(stamps_of_missing or {})
        walls = {n: f.t_wall for n, f in frame_set.frames.items()}
        self.write(self._next_index, images, stamps, walls)

    def add_truth(self, truth) -> None:
        """Append one frame's :class:`core.studio.studio.FrameTruth` (studio sessions)."""
        self._truth_rows.append(truth)
        self._maybe_flush()

    # ----------------------------------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= self._flush_s:
            self.flush()

    def flush(self) -> None:
        """Push timestamps, a ground-truth chunk and the manifest to disk."""
        self._csv_file.flush()
        if self._truth_rows:
            _save_truth(self.path / f"ground_truth.part{self._truth_parts:04d}.npz", self._truth_rows, self.names)
            self._truth_parts += 1
            self._truth_rows = []
        _atomic_write(self.path / MANIFEST, self.manifest.to_json())
        self._last_flush = time.monotonic()

    def close(self, complete: bool = True) -> Path:
        """Finish the videos, merge ground-truth chunks and mark the manifest complete. Returns the folder."""
        if self._closed:
            return self.path
        self.flush()
        for w in self._writers.values():
            w.release()
        self._csv_file.close()
        parts = sorted(self.path.glob("ground_truth.part*.npz"))
        if parts:
            merged = _concatenate_truth([dict(np.load(p, allow_pickle=False)) for p in parts])
            np.savez_compressed(self.path / GROUND_TRUTH, **merged)
            for p in parts:
                p.unlink()
        self.manifest.complete = bool(complete)
        _atomic_write(self.path / MANIFEST, self.manifest.to_json())
        self._closed = True
        return self.path


def _save_truth(path: Path, truths: list, camera_names: list[str]) -> None:
    """Stack FrameTruth records into the ground-truth arrays and save them."""
    j3 = np.stack([t.joints_3d for t in truths])  # (T, P, J, 3)
    j2 = np.stack([t.joints_2d for t in truths])  # (T, C, P, J, 2)
    vis = np.stack([t.visible for t in truths])  # (T, C, P, J)
    box = np.stack([t.boxes for t in truths])  # (T, C, P, 4)
    arrays = {
        "joints_3d": j3[:, 0] if j3.shape[1] else np.zeros(j3.shape[:1] + j3.shape[2:]),
        "joints_2d": j2[:, :, 0] if j2.shape[2] else np.zeros(j2.shape[:2] + j2.shape[3:]),
        "visible": vis[:, :, 0] if vis.shape[2] else np.zeros(vis.shape[:2] + vis.shape[3:], bool),
        "boxes": box[:, :, 0] if box.shape[2] else np.zeros(box.shape[:2] + (4,)),
        "people_joints_3d": j3, "people_joints_2d": j2, "people_visible": vis, "people_boxes": box,
        "joint_names": np.asarray(truths[0].joint_names),
        "camera_names": np.asarray(camera_names),
        "frame_index": np.array([t.index for t in truths]),
        "t": np.array([t.t for t in truths]),
        "t_capture": np.stack([t.t_capture for t in truths]),
        "dropped": np.stack([t.dropped for t in truths]),
    }
    np.savez(path, **arrays)


def _concatenate_truth(chunks: list[dict]) -> dict:
    out = {}
    for key in chunks[0]:
        if key in ("joint_names", "camera_names"):
            out[key] = chunks[0][key]
        else:
            out[key] = np.concatenate([c[key] for c in chunks], axis=0)
    return out


# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GroundTruth:
    """A studio session's ground truth (T frames, C cameras, P people, J joints).

    Attributes:
        joints_3d: (T, J, 3) world metres, first person.
        joints_2d: (T, C, J, 2) pixels, first person.
        visible: (T, C, J) bool, first person.
        boxes: (T, C, 4) ``x0, y0, x1, y1`` pixels, first person (NaN = not seen).
        people_joints_3d, people_joints_2d, people_visible, people_boxes: the same for all people, with a
            P axis after T (3D) or after C (per camera).
        joint_names: (J,) names.
        frame_index: (T,); t: nominal times (T,) s; t_capture: (T, C) s; dropped: (T, C) bool.
    """

    joints_3d: np.ndarray
    joints_2d: np.ndarray
    visible: np.ndarray
    boxes: np.ndarray
    people_joints_3d: np.ndarray
    people_joints_2d: np.ndarray
    people_visible: np.ndarray
    people_boxes: np.ndarray
    joint_names: tuple[str, ...]
    frame_index: np.ndarray
    t: np.ndarray
    t_capture: np.ndarray
    dropped: np.ndarray

    @classmethod
    def from_arrays(cls, a: dict) -> "GroundTruth":
        return cls(**{k: a[k] for k in cls.__dataclass_fields__ if k != "joint_names"},
                   joint_names=tuple(str(n) for n in a["joint_names"]))


class SessionReader:
    """Read a session folder: manifest, calibration, timestamps, ground truth, and frames.

    Raises:
        FileNotFoundError: the folder or its manifest is missing.
        ValueError: the manifest or calibration does not parse, or the format is newer than this reader.
    """

    def __init__(self, path) -> None:
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"session folder not found: {path}")
        mpath = path / MANIFEST
        if not mpath.exists():
            raise FileNotFoundError(f"{path} is not a session folder: {MANIFEST} is missing")
        data = read_json(mpath)
        self.path = path
        self.manifest = SessionManifest.from_dict(data, str(mpath))
        try:
            self.rig = load_rig(path / CALIBRATION)
        except CalibrationFileError as exc:
            raise ValueError(f"{path}: bad calibration: {exc}") from exc
        if self.rig.names != self.manifest.cameras:
            raise ValueError(f"{path}: calibration cameras {self.rig.names} do not match the manifest's "
                             f"{self.manifest.cameras}")
        self.timestamps = self._read_timestamps()
        self._truth: GroundTruth | None | bool = False

    @property
    def camera_names(self) -> list[str]:
        return list(self.manifest.cameras)

    @property
    def fps(self) -> float:
        return float(self.manifest.fps)

    @property
    def num_frames(self) -> int:
        """Frame sets recorded (from timestamps.csv, so it is right for an interrupted session too)."""
        idx = self.timestamps["frame_index"]
        return int(idx.max()) + 1 if idx.size else 0

    def video_path(self, camera: str) -> Path:
        return self.path / VIDEO_DIR / f"{camera}{self.manifest.video.get('ext', '.avi')}"

    def _read_timestamps(self) -> dict[str, np.ndarray]:
        tpath = self.path / TIMESTAMPS
        if not tpath.exists():
            raise FileNotFoundError(f"{self.path}: {TIMESTAMPS} is missing")
        with open(tpath, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or tuple(rows[0]) != TIMESTAMP_COLUMNS:
            raise ValueError(f"{tpath}: expected the header {','.join(TIMESTAMP_COLUMNS)}")
        rows = [r for r in rows[1:] if len(r) == len(TIMESTAMP_COLUMNS)]
        return {
            "frame_index": np.array([int(r[0]) for r in rows], dtype=np.int64),
            "camera": np.array([r[1] for r in rows]),
            "t_capture_ns": np.array([int(r[2]) if r[2] else -1 for r in rows], dtype=np.int64),
            "t_wall": np.array([float(r[3]) if r[3] else np.nan for r in rows]),
            "dropped": np.array([r[4] == "1" for r in rows], dtype=bool),
        }

    def ground_truth(self) -> GroundTruth | None:
        """The studio ground truth (merging leftover chunks of an interrupted session), or None."""
        if self._truth is False:
            full = self.path / GROUND_TRUTH
            if full.exists():
                self._truth = GroundTruth.from_arrays(dict(np.load(full, allow_pickle=False)))
            else:
                parts = sorted(self.path.glob("ground_truth.part*.npz"))
                self._truth = GroundTruth.from_arrays(_concatenate_truth(
                    [dict(np.load(p, allow_pickle=False)) for p in parts])) if parts else None
        return self._truth

    def recorded_plan(self) -> list[dict[str, int]]:
        """The recorded grouping: frame set k -> {camera: video frame k} for the cameras not marked dropped."""
        ts = self.timestamps
        plan: list[dict[str, int]] = [{} for _ in range(self.num_frames)]
        for i, c, d in zip(ts["frame_index"], ts["camera"], ts["dropped"]):
            if not d and 0 <= i < len(plan):
                plan[int(i)][str(c)] = int(i)
        return plan

    def frame_sets(self, start: int = 0, stop: int | None = None, plan: list[dict[str, int]] | None = None,
                   missing_video: str = "raise") -> Iterator[FrameSet]:
        """Frame sets ``start..stop-1`` in order, decoded sequentially (the one reader of a session's videos).

        Args:
            plan: frame set k -> {camera: recorded video frame} (default :meth:`recorded_plan`; replay passes a
                regrouping with clock offsets); dropped frames are missing from the sets.
            missing_video: ``"raise"`` (``FileNotFoundError``) or ``"skip"`` (the others replay without it) for a
                camera whose video cannot be opened.
        """
        plan = self.recorded_plan() if plan is None else plan
        stop = len(plan) if stop is None else min(stop, len(plan))
        ts = self.timestamps
        stamps = {(str(c), int(i)): (int(t), float(w))
                  for i, c, t, w in zip(ts["frame_index"], ts["camera"], ts["t_capture_ns"], ts["t_wall"])}
        caps: dict[str, cv2.VideoCapture] = {}
        next_frame: dict[str, int] = {}
        try:
            for name in self.camera_names:
                cap = cv2.VideoCapture(str(self.video_path(name)))
                if cap.isOpened():
                    caps[name], next_frame[name] = cap, 0
                    continue
                cap.release()
                if missing_video == "raise":
                    raise FileNotFoundError(f"cannot open video {self.video_path(name)}")
                log.warning("session %s: cannot read the video of camera %s; replaying without it", self.path, name)
            for k in range(start, stop):
                frames = {}
                for name, index in plan[k].items():
                    cap = caps.get(name)
                    if cap is None:
                        continue
                    if index != next_frame[name]:
                        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                    ok, image = cap.read()
                    next_frame[name] = index + 1
                    if not ok:
                        continue  # the video ends early (an interrupted recording)
                    t, wall = stamps.get((name, index), (-1, float("nan")))
                    frames[name] = Frame(camera=name, index=index, t_capture_ns=t, t_wall=wall, image=image)
                yield FrameSet.from_frames(k, frames, self.camera_names)
        finally:
            for cap in caps.values():
                cap.release()

    def read_frame_set(self, index: int) -> FrameSet:
        """Frame set ``index`` (random access)."""
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame set {index} out of range: the session has {self.num_frames}")
        return next(self.frame_sets(index, index + 1))

    def __repr__(self) -> str:
        return (f"SessionReader({str(self.path)!r}, cameras={self.camera_names}, frames={self.num_frames}, "
                f"source={self.manifest.source!r})")
