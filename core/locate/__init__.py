"""Find the person: detection and multi-view tracking that give top-down 2D models (PPT) a box per view.

* :class:`~core.locate.locator.PersonLocator`: the stage (tracking by the projected 3D skeleton, detection to
  start and recover, cross-view consistency, one main subject); :class:`~core.locate.locator.PersonBoxes` its
  answer per frame set.
* :mod:`core.locate.detectors`: background subtraction (MOG2/KNN, no weights) and MediaPipe's BlazePose person
  detector, chosen by :func:`~core.locate.detectors.create_detectors`.
* :mod:`core.locate.association`: detections made consistent across views with the calibration.
* :mod:`core.locate.appearance`: the subject's look (torso colours per view), so views whose 2D reads someone else
  are left out of the track.
* :mod:`core.locate.boxes`: box arithmetic (IoU, crops, points inside, share inside the image).

:func:`make_locator` gives top-down backends (``estimator.top_down``) a locator; :mod:`core.processing` runs it
before the 2D backend and shows it each frame set's 3D.
"""

from __future__ import annotations


from core.locate.detectors import DETECTORS, MEDIAPIPE_INSTALL, Detection, PersonDetector, create_detectors
from core.locate.locator import BOX_SOURCES, PersonBoxes, PersonLocator


def make_locator(estimator, rig, detectors="auto") -> PersonLocator | None:
    """A :class:`PersonLocator` for ``rig`` when ``estimator`` is top-down (PPT), else ``None``."""
    if not getattr(estimator, "top_down", False):
        return None
    return PersonLocator(rig, detectors)


__all__ = ["BOX_SOURCES", "DETECTORS", "MEDIAPIPE_INSTALL", "Detection", "PersonBoxes", "PersonDetector",
           "PersonLocator", "create_detectors", "make_locator"]
