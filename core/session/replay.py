"""Replay a recorded session: its synchronised frame sets with the recorded results, seeking, and re-processing
with other settings (model, filter, triangulation) into a new result set.

Built on :class:`core.session.folder.SessionReader` (manifest, calibration, videos, ``timestamps.csv``) plus the
``results/<name>/`` sets written by :mod:`core.session.recorder` (complete files, or the chunks a killed process
left behind).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from core.capture.sync import group_frames
from core.geometry.skeletons import get_skeleton
from core.records import Frame, FrameSet, Poses2D
from core.session.folder import SessionReader, read_json
from core.session.recorder import BOX_SOURCE_CODES, RESULTS_DIR, load_result_chunks

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ResultSet:
    """One ``results/<name>/`` set, loaded.

    Attributes:
        name: the set's name; settings: its ``settings.json``; complete: closed cleanly.
        arrays: ``frame_index (T,)``, ``keypoints (T, C, J, 2)``, ``confidence (T, C, J)``, ``points_3d (T, J, 3)``,
            ``kept_tokens_<s> (T, C, K_s)``, ... (see :mod:`core.session.recorder`).
    """

    name: str
    settings: dict
    arrays: dict
    complete: bool

    def __len__(self) -> int:
        return len(self.arrays.get("frame_index", ()))

    @property
    def skeleton(self):
        return get_skeleton(self.settings["skeleton"])

    def row_for_frame(self, frame_index: int) -> int | None:
        """Row of the result for recorded frame set ``frame_index`` (None if that set was not processed)."""
        idx = self.arrays.get("frame_index")
        if idx is None:
            return None
        hits = np.nonzero(idx == frame_index)[0]
        return int(hits[-1]) if hits.size else None

    def poses_2d(self, row: int, cameras: list[str]):
        """Row ``row`` as :class:`core.records.Poses2D` for ``cameras`` (the recording's camera order), with the
        kept tokens and their token-to-image affines when the recording has them (``None`` without 2D or without a
        known skeleton)."""
        a = self.arrays
        if "keypoints" not in a or "confidence" not in a:
            return None
        try:
            skeleton = self.skeleton
        except (KeyError, ValueError):  # settings.json without a known skeleton: the points alone are replayed
            return None
        stages = sorted((k for k in a if k.startswith("kept_tokens_")), key=lambda k: int(k.rsplit("_", 1)[1]))
        tokens = {}
        if (stages and all(k in a for k in ("token_to_image", "token_grid", "token_stride"))
                and (a[stages[0]][row] >= 0).any()):  # all -1: no person was found in this frame set
            tokens = {"kept_tokens": [a[k][row].astype(np.int64) for k in stages],
                      "token_grid": tuple(int(v) for v in a["token_grid"][row]),
                      "token_stride": tuple(int(v) for v in a["token_stride"][row]),
                      "token_to_image": a["token_to_image"][row].astype(np.float64)}
        if "boxes" in a:
            tokens["boxes"] = a["boxes"][row].astype(np.float64)
            if "box_source" in a:
                names = {v: k for k, v in BOX_SOURCE_CODES.items()}
                tokens["box_source"] = tuple(names.get(int(v), "none") for v in a["box_source"][row])
        frame = int(a["frame_index"][row]) if "frame_index" in a else row
        return Poses2D(list(cameras), a["keypoints"][row], a["confidence"][row], skeleton, frame_index=frame,
                       **tokens)

    def points_by_frame(self, num_frames: int) -> np.ndarray:
        """3D points laid out per recorded frame set, (num_frames, J, 3); NaN where nothing was processed."""
        pts = self.arrays["points_3d"]
        out = np.full((num_frames,) + pts.shape[1:], np.nan)
        idx = self.arrays["frame_index"]
        ok = (idx >= 0) & (idx < num_frames)
        out[idx[ok]] = pts[ok]
        return out


def load_results(session, name: str) -> ResultSet:
    """Load ``SESSION/results/<name>/`` (merged files, or leftover chunks of an interrupted recording)."""
    folder = Path(session) / RESULTS_DIR / name
    if not folder.is_dir():
        available = list_results(session)
        raise FileNotFoundError(f"no result set {name!r} in {session} (available: {available})")
    spath = folder / "settings.json"
    if not spath.exists():
        raise FileNotFoundError(f"{folder}: settings.json is missing")
    settings = read_json(spath)
    arrays: dict = {}
    for fname in ("poses_2d.npz", "poses_3d.npz"):
        p = folder / fname
        if p.exists():
            try:
                with np.load(p, allow_pickle=False) as z:
                    arrays.update({k: z[k] for k in z.files})
            except Exception as exc:
                raise ValueError(f"{p}: truncated or corrupt ({exc}); delete it to fall back to the chunks") from exc
    chunks = load_result_chunks(folder)
    if chunks and not arrays:
        arrays = chunks
    elif chunks:
        log.warning("%s has both merged results and chunks; using the merged files", folder)
    return ResultSet(name, settings, arrays, bool(settings.get("complete")))


def list_results(session) -> list[str]:
    """Names of the result sets of a session."""
    root = Path(session) / RESULTS_DIR
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


@dataclass(frozen=True, eq=False)
class ReplayItem:
    """One replayed frame set with the results recorded for it (None where that set was not processed)."""

    index: int
    frame_set: FrameSet
    keypoints: np.ndarray | None
    confidence: np.ndarray | None
    points_3d: np.ndarray | None
    poses_2d: Poses2D | None = None  # with the kept tokens, when recorded


class Session:
    """A recorded session opened for replay.

    Args:
        path: the session folder.
        offsets_ms: per-camera clock offsets (ms, subtracted from that camera's stamps) to regroup the frames
            into new sets (``None``: the recorded grouping, video frame k = set k).
    """

    def __init__(self, path, offsets_ms: dict[str, float] | None = None) -> None:

        self.path = Path(path)
        self.reader = SessionReader(self.path)
        self.rig = self.reader.rig
        self.fps = self.reader.fps
        self.cameras = self.reader.camera_names
        for cam in self.cameras:
            if not self.reader.video_path(cam).exists():
                log.warning("session %s: video of camera %s is missing (%s); it will be missing from every set",
                            self.path, cam, self.reader.video_path(cam))
        self._plan = self._regroup(offsets_ms) if offsets_ms else self.reader.recorded_plan()

    def __len__(self) -> int:
        return len(self._plan)

    @property
    def manifest(self):
        return self.reader.manifest

    def results(self, name: str) -> ResultSet:
        """Result set ``name``, with each result's recorded frame-set index resolved from the capture stamps
        (live results are written before the recorder has grouped their frames)."""
        res = load_results(self.path, name)
        idx = res.arrays.get("frame_index")
        stamps = res.arrays.get("frame_t_capture_ns")
        if idx is not None and stamps is not None and (idx < 0).any():
            ts = self.reader.timestamps
            lookup = {(str(c), int(t)): int(i) for i, c, t in zip(ts["frame_index"], ts["camera"], ts["t_capture_ns"])
                      if t >= 0}
            cams = res.settings.get("cameras", self.cameras)
            idx = idx.copy()
            for r in np.nonzero(idx < 0)[0]:
                for c, cam in enumerate(cams):
                    hit = lookup.get((cam, int(stamps[r, c])))
                    if hit is not None:
                        idx[r] = hit
                        break
            res.arrays["frame_index"] = idx
        return res

    def result_names(self) -> list[str]:
        return list_results(self.path)

    def _regroup(self, offsets_ms: dict[str, float]) -> list[dict[str, int]]:
        """New grouping with clock offsets: set i -> {camera: recorded frame index}."""
        ts = self.reader.timestamps
        frames = [Frame(str(c), int(i), int(t), 0.0, None)
                  for i, c, t, d in zip(ts["frame_index"], ts["camera"], ts["t_capture_ns"], ts["dropped"])
                  if not d and t >= 0]
        sets = group_frames(frames, self.cameras, self.fps, offsets_ms=offsets_ms)
        return [{c: f.index for c, f in fs.frames.items()} for fs in sets]

    def frame_sets(self, start: int = 0, stop: int | None = None) -> Iterator[FrameSet]:
        """Synchronised frame sets ``start..stop-1`` in order (sequential decoding; seek with ``start``); a camera
        whose video is missing is left out of every set."""
        return self.reader.frame_sets(start, stop, plan=self._plan, missing_video="skip")

    def read(self, index: int) -> FrameSet:
        """Frame set ``index`` (random access / seek)."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame set {index} out of range: the session has {len(self)}")
        return next(self.frame_sets(index, index + 1))

    def replay(self, result: str | None = None, start: int = 0, stop: int | None = None) -> Iterator[ReplayItem]:
        """Frame sets with the results of set ``result`` (default: the first available, if any)."""
        names = self.result_names()
        res = self.results(result or names[0]) if (result or names) else None
        if res is not None and "points_3d" not in res.arrays:
            res = None
        for fs in self.frame_sets(start, stop):
            row = res.row_for_frame(fs.index) if res is not None else None
            if row is None:
                yield ReplayItem(fs.index, fs, None, None, None)
            else:
                a = res.arrays
                yield ReplayItem(fs.index, fs, a.get("keypoints", [None] * (row + 1))[row],
                                 a.get("confidence", [None] * (row + 1))[row], a["points_3d"][row],
                                 res.poses_2d(row, res.settings.get("cameras", self.cameras)))
