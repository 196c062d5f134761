"""Find the person: detection and multi-view tracking that give top-down 2D models (PPT) a box per view.

* :class:`~core.locate.locator.PersonLocator`: the stage (tracking by the projected 3D skeleton, detection to
  start and recover, cross-view consistency, one main subject); :class:`~core.locate.locator.PersonBoxes` its
  answer per frame set.
* :mod:`core.locate.detectors`: background subtraction (MOG2/KNN, no weights) and MediaPipe's BlazePose person
  detector, chosen by :func:`~core.locate.detectors.create_detectors`.
* :mod:`core.locate.association`: detections made consistent across views with the calibration.
* :mod:`core.locate.boxes`: box arithmetic (IoU, crops, points inside).

:func:`estimate_2d` is the one way every runner (pipeline, replay, evaluation, benchmarks) calls a 2D backend:
top-down backends (``estimator.top_down``) get the locator's boxes, the others the frame set alone.
"""

from __future__ import annotations

import dataclasses

from core.locate.detectors import DETECTORS, MEDIAPIPE_INSTALL, Detection, PersonDetector, create_detectors
from core.locate.locator import BOX_SOURCES, PersonBoxes, PersonLocator


def make_locator(estimator, rig, detectors="auto") -> PersonLocator | None:
    """A :class:`PersonLocator` for ``rig`` when ``estimator`` is top-down (PPT), else ``None``."""
    if not getattr(estimator, "top_down", False):
        return None
    return PersonLocator(rig, detectors)


def estimate_2d(estimator, locator: PersonLocator | None, frame_set, rig):
    """(Poses2D, PersonBoxes or None) of one frame set: the locator's boxes feed a top-down estimator, and the
    2D result carries them (``boxes``, ``box_source``) with the stage's time in ``timings["locate"]``."""
    if locator is None:
        return estimator.estimate(frame_set, rig), None
    person = locator.locate(frame_set)
    poses = estimator.estimate(frame_set, rig, boxes=person.boxes)
    timings = {**poses.timings, **person.timings}
    poses = dataclasses.replace(poses, boxes=person.boxes, box_source=person.source, timings=timings)
    return poses, person


__all__ = ["BOX_SOURCES", "DETECTORS", "MEDIAPIPE_INSTALL", "Detection", "PersonBoxes", "PersonDetector",
           "PersonLocator", "create_detectors", "estimate_2d", "make_locator"]
