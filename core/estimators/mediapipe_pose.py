"""MediaPipe BlazePose as a 2D backend: real pretrained weights for real people out of the box (single person).

The model files are set up once by ``ppt-mocap setup mediapipe`` (:mod:`core.mediapipe_models`); the Tasks API of
``mediapipe>=0.10.31`` (the ``mediapipe`` extra) runs them.

Output: the 17 COCO keypoints taken from BlazePose's 33 landmarks, in original pixels, with the landmark visibility
as confidence. Each camera has its own landmarker, in video mode live (tracking between frames) or image mode
offline.
"""

from __future__ import annotations

import atexit
import logging
from pathlib import Path

import cv2
import numpy as np

from core.estimators.base import Estimator, Stopwatch, check_frame_set
from core.geometry import CameraRig, get_skeleton
from core.mediapipe_models import bundle_path
from core.records import FrameSet, Poses2D

log = logging.getLogger(__name__)

#: BlazePose landmark index of each COCO-17 keypoint.
BLAZEPOSE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


class MediaPipeEstimator(Estimator):
    """BlazePose per view (video mode, one landmarker per camera) -> COCO-17 keypoints.

    Args:
        model_path: a ``.task`` bundle (default: the cached one from :func:`setup_mediapipe`).
        variant: which cached bundle to use (:data:`VARIANTS`).
        min_detection_confidence: person detection threshold.
        running_mode: ``"video"`` (live: tracks between frames and smooths the landmarks causally, which delays
            them) or ``"image"`` (offline: every frame on its own, about twice the time, no lag; the zero-phase
            filter after triangulation does the smoothing).
    """

    name = "mediapipe"

    def __init__(self, model_path=None, variant: str = "full", min_detection_confidence: float = 0.5,
                 running_mode: str = "video") -> None:
        if running_mode not in ("video", "image"):
            raise ValueError(f"MediaPipe running_mode must be 'video' (live) or 'image' (offline), "
                             f"got {running_mode!r}")
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise ImportError("the MediaPipe backend needs the optional extra: pip install 'ppt-mocap[mediapipe]', "
                              "then `ppt-mocap setup mediapipe`") from exc
        path = Path(model_path) if model_path else bundle_path(variant)
        if not path.exists():
            raise FileNotFoundError(f"MediaPipe pose model not found at {path}; run `ppt-mocap setup mediapipe` once")
        self._mp, self._vision, self._base = mp, vision, BaseOptions
        self.model_path = path
        self.min_detection_confidence = min_detection_confidence
        self.running_mode = running_mode
        self.skeleton = get_skeleton("coco17")
        self.description = f"MediaPipe BlazePose ({path.name}), COCO-17 from 33 landmarks"
        self._landmarkers: dict = {}
        self._last_ms: dict[str, int] = {}
        atexit.register(self.close)  # close the native landmarkers before the interpreter tears down

    def settings(self) -> dict:
        return {"backend": self.name, "model": str(self.model_path), "description": self.description,
                "running_mode": self.running_mode}

    def _landmarker(self, camera: str):
        lm = self._landmarkers.get(camera)
        if lm is None:
            opts = self._vision.PoseLandmarkerOptions(
                base_options=self._base(model_asset_path=str(self.model_path)),
                running_mode=getattr(self._vision.RunningMode, self.running_mode.upper()), num_poses=1,
                min_pose_detection_confidence=self.min_detection_confidence)
            lm = self._vision.PoseLandmarker.create_from_options(opts)
            self._landmarkers[camera] = lm
        return lm

    def estimate(self, frame_set: FrameSet, rig: CameraRig) -> Poses2D:
        check_frame_set(frame_set, rig)
        C, J = len(rig), self.skeleton.num_joints
        kp = np.full((C, J, 2), np.nan)
        conf = np.zeros((C, J))
        sw = Stopwatch()
        with sw("forward"):
            for c, cam in enumerate(rig.names):
                frame = frame_set.frames.get(cam)
                if frame is None:
                    continue
                image = frame.image if frame.image.ndim == 3 else cv2.cvtColor(frame.image, cv2.COLOR_GRAY2BGR)
                h, w = image.shape[:2]
                rgb = np.ascontiguousarray(image[..., ::-1])
                image_mp = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
                if self.running_mode == "image":
                    res = self._landmarker(cam).detect(image_mp)
                else:  # video mode needs increasing timestamps per landmarker
                    t_ms = max(int(frame.t_capture_ns // 1_000_000), self._last_ms.get(cam, -1) + 1)
                    self._last_ms[cam] = t_ms
                    res = self._landmarker(cam).detect_for_video(image_mp, t_ms)
                if not res.pose_landmarks:
                    continue
                lms = res.pose_landmarks[0]
                pts = np.array([(lms[i].x * w, lms[i].y * h, lms[i].visibility or 0.0) for i in BLAZEPOSE_TO_COCO])
                kp[c] = pts[:, :2]
                conf[c] = np.clip(pts[:, 2], 0.0, 1.0)
        return Poses2D(rig.names, kp, conf, self.skeleton, timings=sw.timings, frame_index=frame_set.index)

    def close(self) -> None:
        """Close the native landmarkers (idempotent; also registered with ``atexit``).

        At interpreter exit mediapipe's worker threads may already be gone, so a landmarker can fail to close there;
        it is then detached (its native handle dropped: the process exit frees it) so that mediapipe's ``__del__``
        does not print a traceback ("'NoneType' object is not callable") at exit."""
        landmarkers, self._landmarkers = self._landmarkers, {}
        for cam, lm in landmarkers.items():
            try:
                lm.close()
            except (RuntimeError, TypeError, AttributeError, OSError) as exc:
                log.debug("MediaPipe landmarker of %s not closed (%s); detached", cam, exc)
                if hasattr(lm, "_handle"):
                    lm._handle = None
