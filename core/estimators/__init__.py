"""2D keypoint backends behind one interface, ``estimate(frame_set, rig) -> Poses2D``, built by one factory.

* ``demo``: PPT on the shipped demo weights (:func:`~core.estimators.ppt.create_demo_estimator`);
* ``ppt``: multi-view PPT batched over views, on any weights file or a labelled random initialisation
  (:class:`~core.estimators.ppt.PPTEstimator`);
* ``mediapipe``: MediaPipe BlazePose per view (optional extra, :mod:`core.estimators.mediapipe_pose`);
* ``openpose-json``: precomputed OpenPose JSON files, frame index -> keypoints (:mod:`core.estimators.files`);
* ``recorded``: the 2D of a result set already in a session, to re-triangulate (:mod:`core.estimators.files`);
* ``studio-truth``: the virtual studio's exact 2D (:mod:`core.estimators.studio_truth`).

The backend modules are imported when built: PyTorch (PPT) and mediapipe load only for the backends that use them,
so the app starts without them.
"""

from __future__ import annotations

from pathlib import Path

from core.estimators.base import Estimator
from core.estimators.files import OpenPoseJSONEstimator, RecordedEstimator
from core.estimators.studio_truth import StudioTruthEstimator

#: Every backend :func:`build_backend` builds, by name.
BACKENDS = ("demo", "ppt", "mediapipe", "openpose-json", "recorded", "studio-truth")
#: Those a live run can use (``recorded`` needs a recorded session).
RUN_BACKENDS = ("demo", "ppt", "studio-truth", "openpose-json", "mediapipe")


def build_backend(backend: str, rig=None, *, virtual_rig=None, session=None, recorded: str | None = None,
                  preset: str = "multiview_ppt_s", weights=None, keypoints=None, num_threads: int | None = 1,
                  device: str = "auto", offline: bool = False, **ppt_options) -> Estimator:
    """The 2D backend ``backend`` (one of :data:`BACKENDS`); errors name what is missing or wrong.

    Args:
        rig: the calibration (camera names for file backends).
        virtual_rig: the live virtual studio (``studio-truth``).
        session: a recorded :class:`core.session.replay.Session` (``recorded``); recorded: its result set whose
            2D is re-used (default: the first).
        preset: the architecture of an official checkpoint (``ppt``); a weights file of ours builds its own.
        weights: PPT weights file (``ppt``: ours or official, read once; ``demo``: default the shipped weights).
        keypoints: folder of per-camera OpenPose JSON folders (``openpose-json``).
        num_threads, device: PyTorch threads and device for PPT.
        offline: every frame of files, in order: ``mediapipe`` runs each frame on its own instead of tracking with
            causal smoothing (no lag; slower).
        ppt_options: more :class:`~core.estimators.ppt.PPTEstimator` options (``fuse``, ``keep_ratio``, ...).
    """
    if backend not in BACKENDS and backend != "openpose":
        raise ValueError(f"unknown 2D backend {backend!r}; expected one of {BACKENDS}")
    if ppt_options and backend not in ("ppt", "demo"):
        raise ValueError(f"options {sorted(ppt_options)} are for the ppt and demo backends, not {backend!r}")
    if backend in ("demo", "ppt"):
        from core.estimators.ppt import PPTEstimator, create_demo_estimator  # imports PyTorch

        if backend == "demo":
            return create_demo_estimator(weights, num_threads=num_threads, device=device, **ppt_options)
        if weights is not None and not Path(weights).is_file():
            raise FileNotFoundError(f"weights file not found: {weights}")
        return PPTEstimator(preset=preset, weights=weights, num_threads=num_threads, device=device, **ppt_options)
    if backend in ("openpose-json", "openpose"):
        if keypoints is None:
            raise ValueError("the openpose-json backend needs a keypoint folder (one JSON folder per camera)")
        cameras = list(rig.names) if rig is not None else list(getattr(session, "cameras", []) or [])
        if not cameras:
            raise ValueError("the openpose-json backend needs the calibration's camera names")
        return OpenPoseJSONEstimator(Path(keypoints), cameras)
    if backend == "recorded":
        if session is None:
            raise ValueError("the recorded backend re-uses a session's 2D: it works when re-processing a session")
        names = session.result_names()
        source = recorded or (names[0] if names else None)
        if source is None:
            raise ValueError(f"{session.path} has no result set to re-use; choose a model backend (--backend ppt)")
        return RecordedEstimator(session, source)
    if backend == "studio-truth":
        if virtual_rig is None:
            raise ValueError("the studio-truth backend works with the live virtual studio only; choose demo or ppt")
        return StudioTruthEstimator(virtual_rig)
    from core.estimators.mediapipe_pose import MediaPipeEstimator  # imports mediapipe (optional extra)

    return MediaPipeEstimator(running_mode="image" if offline else "video")


__all__ = ["BACKENDS", "RUN_BACKENDS", "Estimator", "build_backend"]
