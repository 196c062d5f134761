"""2D keypoint backends behind one interface: ``estimate(frame_set, rig) -> Poses2D``.

* ``ppt``: multi-view PPT batched over views (:class:`~core.estimators.ppt.PPTEstimator`);
* ``mediapipe``: MediaPipe BlazePose per view (optional extra, :mod:`core.estimators.mediapipe_pose`);
* ``openpose-json``: precomputed OpenPose JSON files, frame index -> keypoints (:mod:`core.estimators.files`).
"""

from core.estimators.base import Estimator

BACKENDS = ("ppt", "mediapipe", "openpose-json")


def create_estimator(backend: str, cameras: list[str] | None = None, **options) -> Estimator:
    """Build a backend by name. Options: ``ppt``: preset, weights, fuse, keep_ratio, num_threads, device;
    ``mediapipe``: model_path, variant, min_detection_confidence, running_mode ("video" live / "image" offline);
    ``openpose-json``: root (folder of per-camera
    folders), skeleton. ``cameras`` are the rig's names (needed by file backends)."""
    if backend == "ppt":
        from core.estimators.ppt import PPTEstimator

        return PPTEstimator(**options)
    if backend == "mediapipe":
        from core.estimators.mediapipe_pose import MediaPipeEstimator

        return MediaPipeEstimator(**options)
    if backend in ("openpose-json", "openpose"):
        from core.estimators.files import OpenPoseJSONEstimator

        if not cameras:
            raise ValueError("the openpose-json backend needs the camera names")
        if "root" not in options:
            raise ValueError("the openpose-json backend needs the keypoint folder (root=...)")
        return OpenPoseJSONEstimator(options.pop("root"), cameras, **options)
    raise ValueError(f"unknown 2D backend {backend!r}; expected one of {BACKENDS}")


#: Backends a run can choose by name (``build_backend``): ``demo`` is PPT on the shipped demo weights and
#: ``studio-truth`` the virtual studio's exact 2D.
RUN_BACKENDS = ("demo", "ppt", "studio-truth", "openpose-json", "mediapipe")


def build_backend(backend: str, rig=None, *, virtual_rig=None, preset: str = "multiview_ppt_s", weights=None,
                  keypoints=None, num_threads: int = 1, device: str = "auto", offline: bool = False) -> Estimator:
    """The 2D backend of a run, by name (one of :data:`RUN_BACKENDS`).

    ``ppt`` with ``weights``: a ppt-mocap weights file (self-describing, e.g. the demo weights) builds its own
    architecture; any other file is read as an official checkpoint of ``preset`` (strict). ``openpose-json`` needs
    ``keypoints`` (folder of per-camera JSON folders) and ``rig`` (camera names); ``studio-truth`` needs the
    studio's ``virtual_rig``. ``offline`` (every frame of files, in order): ``mediapipe`` runs each frame on its own
    instead of tracking with causal smoothing (no lag; slower). Errors name what is missing or wrong.
    """
    from pathlib import Path

    if backend == "demo":
        from core.estimators.demo import create_demo_estimator

        return create_demo_estimator(weights, num_threads=num_threads, device=device)
    if backend == "ppt":
        if weights is None:
            return create_estimator("ppt", preset=preset, num_threads=num_threads, device=device)
        from core.estimators.demo import create_demo_estimator
        from core.inference.demo import NotAWeightsFileError

        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        try:
            return create_demo_estimator(path, num_threads=num_threads, device=device)
        except NotAWeightsFileError:  # not our self-describing format: an official checkpoint of ``preset``
            return create_estimator("ppt", preset=preset, weights=path, num_threads=num_threads, device=device)
    if backend in ("openpose-json", "openpose"):
        if keypoints is None:
            raise ValueError("the openpose-json backend needs a keypoint folder (one JSON folder per camera)")
        if rig is None:
            raise ValueError("the openpose-json backend needs the calibration's camera names")
        return create_estimator("openpose-json", cameras=list(rig.names), root=Path(keypoints))
    if backend == "studio-truth":
        if virtual_rig is None:
            raise ValueError("the studio-truth backend works with the live virtual studio only; choose demo or ppt")
        from core.capture.studio import StudioTruthEstimator

        return StudioTruthEstimator(virtual_rig)
    if backend == "mediapipe":
        return create_estimator("mediapipe", running_mode="image" if offline else "video")
    raise ValueError(f"unknown 2D backend {backend!r}; expected one of {RUN_BACKENDS}")


__all__ = ["BACKENDS", "RUN_BACKENDS", "Estimator", "build_backend", "create_estimator"]
