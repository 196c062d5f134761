"""2D keypoint backends behind one interface: ``estimate(frame_set, rig) -> Poses2D``.

* ``ppt``: multi-view PPT batched over views (:class:`~core.estimators.ppt.PPTEstimator`);
* ``mediapipe``: MediaPipe BlazePose per view (optional extra, :mod:`core.estimators.mediapipe_pose`);
* ``openpose-json``: precomputed OpenPose JSON files, frame index -> keypoints (:mod:`core.estimators.files`).
"""

from core.estimators.base import Estimator, Poses2D

BACKENDS = ("ppt", "mediapipe", "openpose-json")


def create_estimator(backend: str, cameras: list[str] | None = None, **options) -> Estimator:
    """Build a backend by name. Options: ``ppt``: preset, weights, fuse, keep_ratio, crop, num_threads, device;
    ``mediapipe``: model ("full"/"lite"/"heavy"), cache_dir; ``openpose-json``: root (folder of per-camera
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


__all__ = ["BACKENDS", "Estimator", "Poses2D", "create_estimator"]
