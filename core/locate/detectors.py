"""Person detectors that start and recover the localisation stage (:mod:`core.locate.locator`).

* ``mog2`` / ``knn``: OpenCV background subtraction for static cameras (no weights). It learns the room from the
  frames it is shown (every frame, at a quarter of the resolution, so it costs well under a millisecond per
  view); people are the foreground blobs. It needs the empty room or a moving person: someone standing still
  from the first frame on is part of the background until they move.
* ``mediapipe``: the BlazePose person detector of the ``mediapipe==0.10.21`` wheel (``pose_detection.tflite``),
  run with its landmark model through the ``.task`` bundle that ``ppt-mocap setup mediapipe`` writes (the Tasks
  API has no detector-only runner for it); the box spans the landmarks. People in any scene, several per image,
  about 35 ms per 640x480 image on one core. Needs ``pip install 'ppt-mocap[mediapipe]'`` and ``ppt-mocap setup
  mediapipe``.

:func:`create_detectors` picks them by name or, with ``"auto"``, every one that is available, and logs the choice
in one line (naming the command that installs a missing one).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.mediapipe_models import bundle_path

log = logging.getLogger(__name__)

DETECTORS = ("mog2", "knn", "mediapipe")
MEDIAPIPE_INSTALL = "pip install 'ppt-mocap[mediapipe]' && ppt-mocap setup mediapipe"


@dataclass(frozen=True)
class Detection:
    """One person found in one image: ``box (4,)`` xywh px, ``score`` in [0, 1], ``detector`` name."""

    box: np.ndarray
    score: float
    detector: str


class PersonDetector(ABC):
    """Finds people in one camera's image. ``observe`` sees every frame (background models learn from it);
    ``detect`` is called only when the stage searches (start, recovery)."""

    name = "detector"

    def observe(self, camera: str, image: np.ndarray) -> None:
        """Learn from a frame of ``camera`` (called for every frame set)."""

    @abstractmethod
    def detect(self, camera: str, image: np.ndarray) -> list[Detection]:
        """People in ``image`` (H, W, 3) uint8 BGR of ``camera``."""

    def foreground(self, camera: str) -> tuple[np.ndarray, int] | None:
        """The last foreground mask of ``camera`` (bool, reduced resolution) and its reduction factor, if any."""
        return None

    def reset(self) -> None:
        """Forget what was learnt (new cameras, new session)."""

    def close(self) -> None:
        pass


class BackgroundSubtractionDetector(PersonDetector):
    """People as foreground blobs of an OpenCV background model (MOG2 or KNN) per camera, for static cameras.

    Args:
        method: ``"mog2"`` or ``"knn"``.
        width: the model runs on frames shrunk to about this width (nearest pixels; 640x480 -> 91x68), which
            costs a fraction of a millisecond per view and keeps people 20-50 px tall.
        history: frames the background model remembers (its learning rate is ``1 / history``).
        min_area: smallest blob, as a fraction of the image area.
    """

    def __init__(self, method: str = "mog2", width: int = 96, history: int = 150, min_area: float = 0.002) -> None:
        if method not in ("mog2", "knn"):
            raise ValueError(f"background subtraction method must be 'mog2' or 'knn', got {method!r}")
        if width < 16:
            raise ValueError(f"background model width must be >= 16 px, got {width}")
        self.name = method
        self.width = int(width)
        self._reduce: dict[str, int] = {}
        self.history = int(history)
        self.min_area = float(min_area)
        self._models: dict[str, cv2.BackgroundSubtractor] = {}
        self._masks: dict[str, np.ndarray] = {}
        self._kernel = np.ones((3, 3), np.uint8)

    def _model(self, camera: str):
        m = self._models.get(camera)
        if m is None:
            if self.name == "mog2":
                m = cv2.createBackgroundSubtractorMOG2(history=self.history, varThreshold=25, detectShadows=False)
            else:
                m = cv2.createBackgroundSubtractorKNN(history=self.history, dist2Threshold=600,
                                                      detectShadows=False)
            self._models[camera] = m
        return m

    def observe(self, camera: str, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        r = self._reduce.get(camera)
        if r is None:
            r = self._reduce[camera] = max(1, int(round(w / self.width)))
        small = cv2.resize(image, (w // r, h // r), interpolation=cv2.INTER_NEAREST) if r > 1 else image
        self._masks[camera] = self._model(camera).apply(small) > 0

    def foreground(self, camera: str) -> tuple[np.ndarray, int] | None:
        mask = self._masks.get(camera)
        return None if mask is None else (mask, self._reduce[camera])

    def detect(self, camera: str, image: np.ndarray) -> list[Detection]:
        mask = self._masks.get(camera)
        if mask is None:
            self.observe(camera, image)
            mask = self._masks[camera]
        r = self._reduce[camera]
        m = cv2.dilate(mask.astype(np.uint8), self._kernel)
        n, _, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        total = mask.size
        out = []
        for x, y, w, h, area in stats[1:]:
            if area < self.min_area * total or area > 0.6 * total or h < 1.2 * w * 0.5:
                continue
            # the dilation grew the blob by about 1 px (reduced) on every side
            box = np.array([x + 1, y + 1, max(w - 2, 1), max(h - 2, 1)], dtype=np.float64) * r
            fill = float(mask[y:y + h, x:x + w].mean())
            out.append(Detection(box, min(1.0, 0.3 + fill), self.name))
        return out

    def reset(self) -> None:
        self._models.clear()
        self._masks.clear()
        self._reduce.clear()


class MediaPipePersonDetector(PersonDetector):
    """BlazePose's person detector (``pose_detection.tflite`` in the ``.task`` bundle, with its landmark model)
    on whole frames, several people per image; the box spans each person's 33 landmarks.

    Raises ``ImportError`` / ``FileNotFoundError`` naming :data:`MEDIAPIPE_INSTALL` when it is not installed.
    """

    name = "mediapipe"

    def __init__(self, model_path=None, max_people: int = 4, min_confidence: float = 0.4) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise ImportError(f"the mediapipe person detector is not installed: {MEDIAPIPE_INSTALL}") from exc

        path = Path(model_path) if model_path else bundle_path("full")
        if not path.exists():
            raise FileNotFoundError(f"the mediapipe person detector's model is not set up ({path} is missing): "
                                    f"run `ppt-mocap setup mediapipe`")
        self.model_path = path
        self._mp = mp
        opts = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(path)),
                                            running_mode=vision.RunningMode.IMAGE, num_poses=int(max_people),
                                            min_pose_detection_confidence=min_confidence,
                                            min_pose_presence_confidence=min_confidence)
        self._landmarker = vision.PoseLandmarker.create_from_options(opts)

    def detect(self, camera: str, image: np.ndarray) -> list[Detection]:
        if self._landmarker is None:
            return []
        image = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        h, w = image.shape[:2]
        rgb = np.ascontiguousarray(image[..., ::-1])
        res = self._landmarker.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        out = []
        for lms in res.pose_landmarks:
            pts = np.array([(p.x * w, p.y * h, p.visibility or 0.0) for p in lms])
            xy = np.clip(pts[:, :2], [-0.25 * w, -0.25 * h], [1.25 * w, 1.25 * h])
            lo, hi = xy.min(0), xy.max(0)
            if (hi - lo).min() < 4:
                continue
            out.append(Detection(np.r_[lo, hi - lo], float(np.clip(pts[:, 2].mean(), 0, 1)), self.name))
        return out

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None


def mediapipe_available() -> tuple[bool, str]:
    """(usable, reason): the mediapipe package imports and its model bundle is set up."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False, f"mediapipe is not installed ({MEDIAPIPE_INSTALL})"

    if not bundle_path("full").exists():
        return False, f"its model is not set up ({bundle_path('full')} missing: run `ppt-mocap setup mediapipe`)"
    return True, str(bundle_path("full"))


def create_detectors(spec: str = "auto") -> list[PersonDetector]:
    """Detectors by name: ``"auto"`` (background subtraction MOG2, plus mediapipe when installed), ``"mog2"``,
    ``"knn"``, ``"mediapipe"``, or a comma-separated list (``"mog2,mediapipe"``). Logs the choice in one line;
    an explicitly requested detector that is missing raises ``ImportError``/``FileNotFoundError`` with the
    command that installs it."""
    names = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not names:
        raise ValueError(f"no person detector named in {spec!r}; expected 'auto' or some of {DETECTORS}")
    auto = names == ["auto"]
    if auto:
        names = ["mog2", "mediapipe"]
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown person detector(s) {unknown}; expected 'auto' or some of {DETECTORS}")
    out: list[PersonDetector] = []
    notes = []
    for n in names:
        if n == "mediapipe":
            ok, why = mediapipe_available()
            if not ok:
                if not auto:
                    if "not installed" in why:
                        raise ImportError(f"person detector 'mediapipe': {why}")
                    raise FileNotFoundError(f"person detector 'mediapipe': {why}")
                notes.append(f"mediapipe unavailable: {why}")
                continue
            out.append(MediaPipePersonDetector())
            notes.append(f"mediapipe BlazePose person detector ({why})")
        else:
            out.append(BackgroundSubtractionDetector(n))
            notes.append(f"{n.upper()} background subtraction (static cameras)")
    log.info("person detection: %s", "; ".join(notes))
    return out
