"""Make a session folder from synchronised video files and their calibration (e.g. a Pose2Sim or Anipose project).

    import_videos({"cam_01": "cam01.mp4", ...}, "Calib.toml", "sessions/balancing", fps=60)

Video frame ``k`` of every camera becomes frame set ``k`` (the files are taken as already synchronised, as those
tools expect); capture stamps are ``k / fps``. The videos are re-encoded into the session's MJPEG AVIs. A video whose
size differs from its calibrated ``size`` follows the size policy of :mod:`core.geometry.image_size`, the pipeline's
and the recorder's: a crop/padding of a few pixels (Pose2Sim's demo has 1080-wide videos for 1088-wide calibrations)
keeps its pixels and intrinsics (the camera's ``size`` is set to the video's; pixel coordinates are counted from the
top-left corner in both), another resolution of the same aspect ratio scales the intrinsics, anything else is refused
before a frame is written; the change is logged and stored in the manifest (``size_mismatches``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2

from core.geometry.calibration_io import load_rig
from core.geometry.camera import CameraRig
from core.geometry.image_size import reconcile_rig
from core.session.folder import SessionWriter

log = logging.getLogger(__name__)


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: OpenCV cannot read this video")
    return cap


def import_videos(videos: dict, calibration, out, fps: float | None = None, frames: int | None = None,
                  overwrite: bool = False) -> Path:
    """Write a session folder ``out`` from ``videos`` (camera name -> file) and ``calibration`` (file or rig).

    Args:
        videos: one video per calibrated camera, keyed by the calibration's camera names.
        calibration: a calibration file (any format :func:`core.geometry.load_rig` reads) or a ``CameraRig``.
        fps: frame rate (default: the first video's).
        frames: import only the first that many frame sets (default: until the shortest video ends).
        overwrite: replace an existing ``out``.
    """
    rig = calibration if isinstance(calibration, CameraRig) else load_rig(calibration)
    unknown = sorted(set(videos) - set(rig.names))
    missing = [n for n in rig.names if n not in videos]
    if unknown or missing:
        raise ValueError(f"videos must be named after the calibration's cameras {rig.names}: "
                         f"unknown {unknown}, without a video {missing}")
    caps = {name: _open(Path(videos[name])) for name in rig.names}
    try:
        fps = float(fps or caps[rig.names[0]].get(cv2.CAP_PROP_FPS) or 0)
        if fps <= 0:
            raise ValueError("the videos do not state a frame rate; pass fps")
        sizes = {name: (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
                 for name, cap in caps.items()}
        rig, mismatches = reconcile_rig(rig, sizes)  # refuses sizes the calibration cannot describe
        for m in mismatches:
            log.warning("%s", m.message)
        resized = {m.camera: {"calibrated": list(m.calibrated), "video": list(m.actual)} for m in mismatches}
        settings = {"imported_from": {n: str(Path(p).resolve()) for n, p in videos.items()},
                    "size_changes": resized}
        count = 0
        with SessionWriter(out, rig, fps, "files", settings=settings, overwrite=overwrite,
                           size_mismatches=[m.as_dict() for m in mismatches]) as writer:
            while frames is None or count < frames:
                images = {}
                for name, cap in caps.items():
                    ok, image = cap.read()
                    if not ok:
                        break
                    images[name] = image
                if len(images) < len(caps):
                    break
                stamp = int(round(count * 1e9 / fps))
                writer.write(count, images, {n: stamp for n in images}, count / fps)
                count += 1
        if count == 0:
            raise ValueError(f"no frame could be read from {sorted(str(v) for v in videos.values())}")
        log.info("imported %d frame sets of %d cameras into %s", count, len(rig), out)
        return Path(out)
    finally:
        for cap in caps.values():
            cap.release()
