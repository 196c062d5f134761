"""Find the person: the box of the tracked person in every view, for top-down 2D models (PPT).

:class:`PersonLocator` is a stage of its own, run before the 2D model on each frame set (live pipeline, replay
re-processing, ``ppt-mocap evaluate --boxes locate``) and told the result after triangulation:

    locator = PersonLocator(rig)                     # detectors chosen automatically, logged in one line
    person = locator.locate(frame_set)               # PersonBoxes: boxes (C, 4) xywh, source per view
    poses = estimator.estimate(frame_set, rig, boxes=person.boxes)
    ...triangulate...
    locator.observe(poses, points_3d, frame_set.t_ns)

**Tracking.** The last triangulated 3D skeleton, moved on by the person's velocity over the time since, is
projected into every calibrated view; its box grows with that motion and with the frames since the skeleton was
last confirmed, and stays person-sized at its depth. A skeleton confirms the track only if its views agree (the 2D
near the reprojected 3D), so a model that misreads the image cannot drag the track away. A camera whose own 2D lost
the person still gets its box from the other views. A view where the skeleton projects outside the image gets no
box (and so no 2D). With static cameras, the foreground of a cheap background model (a quarter of the resolution)
re-centres a skeleton that disagrees with the image by more than 15 cm in several views consistently (e.g. a model
that has not followed the person's motion), and widens a box to the joints the person's silhouette implies where
the skeleton's box is narrower (a 2D model that misread a limb, typically the far leg in a stride), as long as the
silhouette is one person's: head and torso no wider than the box, nothing reaching a quarter of the box's height
below the feet (a closer person's legs), centred on the track. A person at an image's edge keeps a box while a
fifth of it is inside.

**Image evidence and sparse rates.** A skeleton confirms the track only where the image shows a person (a sure 2D
model or the background model's foreground in two views): a model shown an empty crop still draws a skeleton the
views agree on. The margins (gate, box growth, the share of the gap a skeleton closes) widen with the time beyond a
frame interval, for a loaded CPU that locates a tenth of the frame sets; while no skeleton confirms the track, the
detectors search near its course and the track moves onto the person found there.

**Detection** starts and recovers the track: the detectors' boxes in every view are made consistent with the
calibration (:func:`core.locate.association.associate`); a box whose ray misses the other views' person is
rejected. Views with a consistent detection get it (source ``"detected"``); the others get the projection of the
person's 3D position and height (``"tracked"``).

**Main subject.** One person is followed: the first found, or the one picked with :meth:`select` (a click in a
camera view). Its 3D track gates the model's result (a skeleton that jumps by more than about half a metre is
not accepted, and an accepted one moves the track only half of the way from its predicted course), and its look
(a colour model of the torso in each view, :mod:`core.locate.appearance`) leaves out the views whose 2D reads
someone else (the skeleton that updates the track is triangulated from the other views), so a second person does
not pull the boxes away, even where two people cross. When the subject is lost, the search prefers people near
where it was last seen, and accepts anyone after a while; the look is forgotten after
:attr:`PersonLocator.appearance_memory_s` without a match (or on a new pick). Other people get no boxes and no 2D.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.geometry import CameraRig
from core.geometry.camera import UNIT_SCALE_TO_M
from core.geometry.triangulation import triangulate
from core.locate.appearance import TorsoAppearance
from core.locate.association import Hypothesis, associate
from core.locate.boxes import box_of_points, centres, grow, iou, share_in_image
from core.locate.detectors import BackgroundSubtractionDetector, PersonDetector, create_detectors
from core.records import FrameSet

log = logging.getLogger(__name__)

#: Where a view's box came from.
BOX_SOURCES = ("none", "tracked", "detected")


@dataclass(frozen=True, eq=False)
class PersonBoxes:
    """The localisation stage's answer for one frame set.

    Attributes:
        cameras: the rig's camera names (the ``C`` axis).
        boxes: (C, 4) person box per view, ``(x, y, w, h)`` px; NaN rows where the view has no box.
        source: per view ``"tracked"``, ``"detected"`` or ``"none"``.
        state: ``"searching"`` (not found yet), ``"tracking"`` or ``"lost"`` (searching again).
        event: ``"person_found"`` / ``"person_lost"`` on the frame set where that happened, else ``None``.
        position: (3,) the subject's 3D position (rig units), NaN when unknown.
        detectors: the detectors that found the person on this frame set (empty while tracking).
        timings: ``locate`` (the whole stage) and ``detect`` (searching only), milliseconds.
    """

    cameras: list[str]
    boxes: np.ndarray
    source: tuple[str, ...]
    state: str
    event: str | None = None
    position: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    detectors: tuple[str, ...] = ()
    timings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        C = len(self.cameras)
        if self.boxes.shape != (C, 4):
            raise ValueError(f"PersonBoxes boxes: expected (C, 4) = {(C, 4)}, got {self.boxes.shape}")
        if len(self.source) != C or any(s not in BOX_SOURCES for s in self.source):
            raise ValueError(f"PersonBoxes source: expected {C} of {BOX_SOURCES}, got {self.source}")

    @property
    def found(self) -> bool:
        return any(s != "none" for s in self.source)


class PersonLocator:
    """Boxes of one tracked person in every view of a calibrated rig (see the module docstring).

    Args:
        rig: the calibrated cameras (frame sets are matched by camera name).
        detectors: ``"auto"``, names (:func:`core.locate.detectors.create_detectors`) or detector objects.
        max_misses: frame sets without a confirmed skeleton before the person counts as lost.
        margin: relative growth of a tracked box around the projected joints.
        recenter: re-centre a drifting track on the foreground (static cameras).
        silhouette: widen a tracked box to the person's foreground silhouette (static cameras) where the skeleton's
            box is much smaller (:attr:`silhouette_ratio`).
        min_joints: joints a triangulated skeleton needs to update the track.
        appearance: keep a colour model of the subject's torso per view (:mod:`core.locate.appearance`); a view
            whose 2D torso does not look like the subject's (a 2D model reading the other person at a crossing) is
            left out of the skeleton that updates the track.
    """

    #: A person's box is at least this wide and at most this tall (m) at the track's depth.
    min_width_m = 0.2
    max_height_m = 2.4
    #: ... and at least this share of the person's height (found by the detectors): a crouch still fills it.
    min_height_fraction = 0.5
    #: Joints farther than this (m) from the track's centre are not the body's (a raised hand is about 1.1 m away).
    max_joint_distance_m = 1.4
    #: A skeleton whose views disagree (median reprojection error over more than this share of the 2D box height)
    #: is not confirmed: a 2D model reading something else than one person (studio model: 2-4 %, OpenPose on the
    #: Pose2Sim recording 1.2 %, studio-only weights on those real frames 12 %).
    max_reprojection = 0.06
    #: A tracked box is widened to the silhouette's joints when they span this much more than its width: the studio
    #: model's walking skeletons put the far ankle 0.5 m off in 10-18 % of the frame sets (box 0.46x the truth's
    #: width).
    silhouette_ratio = 1.15
    #: Share of the gap between the predicted and the measured centre that a confirmed skeleton closes (an
    #: alpha filter on the track's centre): below one the track keeps its course through a crossing, where a 2D
    #: model reading two people pulls the skeleton a little further towards the other one on every frame set.
    centre_gain = 0.5
    #: How far (m) a silhouette reaches beyond the joints on each side (toes past the ankles, fingers past the wrists).
    silhouette_margin_m = 0.1
    #: A silhouette is one person's only if its upper part (the top :attr:`silhouette_upper` of the box: head and
    #: torso) is no wider than the box allows and its centre is within this (m) of the track's: a stride widens the
    #: legs only, two people merged widen the shoulders too.
    silhouette_centre_m = 0.3
    silhouette_upper = 0.45
    #: The subject's look is forgotten when no view has matched it for this long (s): the person found after a long
    #: loss may be someone else, who then becomes the subject.
    appearance_memory_s = 5.0
    #: While no skeleton has confirmed the track for this long (s), the detectors search near its course every
    #: frame set (a sparse track whose walker left its box) and the track's skeleton moves onto the person they
    #: find; detectors other than background subtraction at most every :attr:`redetect_interval_s` ...
    redetect_after_s = 0.2
    redetect_interval_s = 0.5
    #: ... when the person found is this far (m) from the track's course; nearer, the track is left as it is (a
    #: detector's box, e.g. a background model's blob without the reaching arms, is no better than the track's).
    redetect_move_m = 0.25
    #: A skeleton confirms the track only where the image shows a person (:meth:`_image_evidence`): median 2D
    #: confidence at least this (studio demo model: 0.75-0.92 on a person, 0.3-0.5 on an empty crop) ...
    evidence_confidence = 0.6
    #: ... or this share of its box in the background model's foreground (a walking person: mostly 0.3-0.6).
    evidence_foreground = 0.15
    #: How fast (m/s) a person may change course: a tracked box grows by this x the time since the track's state.
    speed_uncertainty = 0.1

    def __init__(self, rig: CameraRig, detectors="auto", *, max_misses: int = 8, margin: float = 0.0,
                 recenter: bool = True, silhouette: bool = True, min_joints: int = 5,
                 appearance: bool = True) -> None:
        if len(rig) < 1:
            raise ValueError("the person locator needs at least one calibrated camera")
        self.rig = rig
        self.cameras = list(rig.names)
        self.detectors: list[PersonDetector] = (create_detectors(detectors) if isinstance(detectors, str)
                                                else list(detectors))
        # the background model whose foreground re-centres and widens the track (static cameras), if any
        self._background = next((d for d in self.detectors if isinstance(d, BackgroundSubtractionDetector)), None)
        self.max_misses = int(max_misses)
        self.margin = float(margin)
        self.recenter = bool(recenter)
        self.silhouette = bool(silhouette)
        self.min_joints = int(min_joints)
        self.appearance = TorsoAppearance(len(rig)) if appearance else None
        self._unit = UNIT_SCALE_TO_M[rig.units]  # metres per rig unit
        self._up = rig.up_vector
        self._fy = np.array([cam.K[1, 1] for cam in rig.cameras])
        self._sizes = np.array([cam.size for cam in rig.cameras], dtype=np.float64)  # (C, 2) w, h
        self._P = rig.projection_matrices  # (C, 3, 4), lens distortion ignored (box centres are coarse anyway)
        self._lock = threading.RLock()  # locate (2D thread) and observe (3D thread) may run at once
        self.reset()

    # -- state ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the subject (the next frame set searches)."""
        with self._lock:
            self._reset()

    def _reset(self) -> None:
        self.state = "searching"
        self._joints: np.ndarray | None = None  # (J, 3) last confirmed skeleton (missing joints filled)
        self._center: np.ndarray | None = None  # (3,) subject position
        self._height = 1.7 / self._unit
        self._velocity = np.zeros(3)
        self._recentred: np.ndarray | None = None  # (3,) the foreground shift applied to this frame set's track
        self._interval_s = 0.0  # time (s) since the frame set located before this one
        self._t_ns: int | None = None  # time of the track's state (centre, velocity)
        self._confirmed_ns: int | None = None  # last time a skeleton confirmed the track (or it was found)
        self._searched_ns: dict[str, int] = {}  # detector -> last time it searched while tracking
        self._misses = 0
        self._lost_since_ns: int | None = None
        self._last_seen: np.ndarray | None = None
        self._boxes_2d: np.ndarray | None = None  # (C, 4) boxes of the last confident 2D, for one-camera rigs
        self._pick: tuple[int, np.ndarray, int] | None = None
        self._images: tuple[int, list] | None = None  # (t_ns, images) of the last located frame set
        self._look_seen_ns: int | None = None  # last time a view matched the subject's look
        if self.appearance is not None:
            self.appearance.reset()

    @property
    def detector_names(self) -> list[str]:
        return [d.name for d in self.detectors]

    def select(self, camera: str, xy) -> None:
        """Follow the person at image point ``xy`` (px) of ``camera`` from now on (a click in the GUI); tried on
        the next frame sets, the current subject is kept if nobody is found there."""
        if camera not in self.cameras:
            raise ValueError(f"select: unknown camera {camera!r}; expected one of {self.cameras}")
        p = np.asarray(xy, dtype=np.float64).reshape(-1)
        if p.shape != (2,) or not np.isfinite(p).all():
            raise ValueError(f"select: expected an image point (x, y) in pixels, got {xy!r}")
        with self._lock:
            self._pick = (self.cameras.index(camera), p, 15)

    # -- per frame set --------------------------------------------------------------------------------
    def locate(self, frame_set: FrameSet) -> PersonBoxes:
        """Boxes of the subject in every view of ``frame_set`` (rig order)."""
        with self._lock:
            return self._locate(frame_set)

    def _locate(self, frame_set: FrameSet) -> PersonBoxes:
        t0 = time.perf_counter()
        C = len(self.cameras)
        images = [frame_set.frames[n].image if n in frame_set.frames else None for n in self.cameras]
        for det in self.detectors:
            for n, img in zip(self.cameras, images):
                if img is not None:
                    det.observe(n, img)
        now = int(frame_set.t_ns)
        self._interval_s = 0.0 if self._images is None else max(0.0, (now - self._images[0]) / 1e9)
        self._images = (now, images)  # for the look of the skeleton observed next
        event = None
        found_by: tuple[str, ...] = ()
        t_detect = 0.0
        boxes = np.full((C, 4), np.nan)
        source = ["none"] * C
        if self.state == "tracking" and self._misses > self.max_misses:
            self.state = "lost"
            self._lost_since_ns = now
            self._last_seen = None if self._center is None else self._center.copy()
            event = "person_lost"
            log.info("person lost (no confirmed skeleton for %d frame sets, %.1f s): searching", self._misses,
                     self._stale_s(now))
        if self.state == "tracking":
            if self._pick is None and self._misses >= 1 and C > 1 and self._stale_s(now) >= self.redetect_after_s:
                td = time.perf_counter()
                hyp = self._search_near(images, now)
                t_detect = (time.perf_counter() - td) * 1e3
                if hyp is not None:
                    self._move_onto(hyp, now)
            boxes = self._predict(now, images)
            if self._pick is not None:
                td = time.perf_counter()
                hyp = self._search(images, now, pick=True)
                t_detect = (time.perf_counter() - td) * 1e3
                if hyp is not None:
                    boxes, found_by = self._adopt(hyp, now), hyp.detectors
                    event = "person_found"
        else:
            td = time.perf_counter()
            hyp = self._search(images, now, pick=self._pick is not None)
            t_detect = (time.perf_counter() - td) * 1e3
            if hyp is not None:
                boxes, found_by = self._adopt(hyp, now), hyp.detectors
                event = "person_found"
                log.info("person found in %s by %s", ", ".join(n for n, d in zip(self.cameras, hyp.detectors) if d),
                         "/".join(sorted({d for d in hyp.detectors if d})))
        for c in range(C):
            if images[c] is None or not np.isfinite(boxes[c]).all():
                boxes[c] = np.nan
            elif found_by and found_by[c]:
                source[c] = "detected"
            else:
                source[c] = "tracked"
        position = self._center.copy() if self._center is not None else np.full(3, np.nan)
        timings = {"locate": (time.perf_counter() - t0) * 1e3}
        if t_detect:
            timings["detect"] = t_detect
        return PersonBoxes(list(self.cameras), boxes, tuple(source), self.state, event, position,
                           tuple(sorted({d for d in found_by if d})), timings)

    def observe(self, poses_2d=None, points_3d: np.ndarray | None = None, t_ns: int | None = None) -> None:
        """Tell the stage what the 2D model and triangulation made of the last located frame set.

        ``points_3d (J, 3)`` (NaN = not reconstructed) confirms the track when enough joints are there and they
        are near the prediction; ``poses_2d`` (:class:`core.records.Poses2D`) gives one-camera rigs their
        track. ``t_ns``: the frame set's time (default: the last located one)."""
        with self._lock:
            self._observe(poses_2d, points_3d, t_ns)

    def _observe(self, poses_2d, points_3d, t_ns) -> None:
        if self.state != "tracking":
            return
        t = self._t_ns if t_ns is None else int(t_ns)
        confirmed = False
        looks = None
        if poses_2d is not None and poses_2d.keypoints.shape[0] == len(self.cameras):
            poses_2d, points_3d, looks = self._leave_out_others(poses_2d, points_3d, t)
        if poses_2d is not None and poses_2d.keypoints.shape[0] == len(self.cameras):
            good = (poses_2d.confidence > 0.3)[..., None] & np.isfinite(poses_2d.keypoints)
            kp = np.where(good, poses_2d.keypoints, np.nan)
            b = box_of_points(kp, min_points=4)
            if len(self.cameras) == 1 and np.isfinite(b).all():
                self._boxes_2d = b
                confirmed = True
        if points_3d is not None and len(self.cameras) > 1:
            X = np.asarray(points_3d, dtype=np.float64)
            if X.ndim != 2 or X.shape[1] != 3:
                raise ValueError(f"observe: expected points_3d of shape (J, 3), got {X.shape}")
            ok = np.isfinite(X).all(1)
            if ok.sum() >= self.min_joints:
                centre = np.median(X[ok], axis=0)
                body = ok & (np.linalg.norm(np.nan_to_num(X - centre), axis=1) * self._unit < self.max_joint_distance_m)
                extent = np.linalg.norm(X[body].max(0) - X[body].min(0)) * self._unit if body.any() else 0.0
                predicted = self._predicted_center(t)
                gate = (0.5 + 2.0 * self._beyond_a_frame(self._stale_s(t))) / self._unit  # wider when sparse
                near = predicted is None or np.linalg.norm(centre - predicted) < gate
                undo = False
                if not near and self._recentred is not None:  # the 2D found the person where the track was
                    near = undo = np.linalg.norm(centre - (predicted - self._recentred)) < gate
                if 0.2 < extent < 3.0 and near and self._views_agree(poses_2d, X) \
                        and self._image_evidence(poses_2d, X, t):
                    if undo:  # the foreground shift was wrong: back to where the track was
                        self._center = self._center - self._recentred
                        if self._joints is not None:
                            self._joints = self._joints - self._recentred
                        self._recentred = None
                    self._confirm(X, ok, centre, t)
                    confirmed = True
        if confirmed and looks is not None:
            self.appearance.learn(*looks)
        self._misses = 0 if confirmed else self._misses + 1

    # -- internals ------------------------------------------------------------------------------------
    def _leave_out_others(self, poses_2d, points_3d, t: int | None):
        """Views whose 2D torso does not look like the subject's (:attr:`appearance`) are taken out of
        ``poses_2d`` and the skeleton ``points_3d (J, 3)`` is triangulated again without them (``None`` with fewer
        than two views left). Returns ``(poses_2d, points_3d, looks)``, ``looks`` = (histograms, similarities) to
        learn from once the skeleton is confirmed, or ``None``."""
        if self.appearance is None or self._images is None or t is None or self._images[0] != t:
            return poses_2d, points_3d, None
        hists = self.appearance.measure(self._images[1], poses_2d.keypoints, poses_2d.confidence,
                                        poses_2d.skeleton.joints)
        sim = self.appearance.similarity(hists)
        matched = sim >= self.appearance.min_similarity
        if matched.any() or not np.isfinite(sim).any() or self._look_seen_ns is None:  # no evidence against
            self._look_seen_ns = t
        elif (t - self._look_seen_ns) / 1e9 > self.appearance_memory_s:
            log.info("the subject's look has not been seen for %.0f s: following whoever is tracked now",
                     self.appearance_memory_s)
            self.appearance.reset()
            sim[:] = np.nan
        other = sim < self.appearance.min_similarity  # NaN (torso not seen, no reference): not judged
        if not other.any():
            return poses_2d, points_3d, (hists, sim)
        kp = np.where(other[:, None, None], np.nan, poses_2d.keypoints)
        conf = np.where(other[:, None], 0.0, poses_2d.confidence)
        poses_2d = dataclasses.replace(poses_2d, keypoints=kp, confidence=conf)
        log.debug("views %s read someone else (torso look %s)", [n for n, o in zip(self.cameras, other) if o],
                  np.round(sim, 2))
        if len(self.cameras) == 1 or (np.isfinite(kp).all(-1) & (conf > 0.3)).any(1).sum() < 2:
            return poses_2d, None, (hists, np.where(other, np.nan, sim))
        height = np.nanmedian(box_of_points(np.where((conf > 0.3)[..., None], kp, np.nan), min_points=2)[:, 3])
        threshold = 0.05 * height if np.isfinite(height) else 20.0
        X = triangulate(self.rig, kp, np.clip(conf, 1e-6, None), min_confidence=0.3, outliers="worst-view",
                        threshold_px=threshold).points_3d
        return poses_2d, X, ([None if o else h for h, o in zip(hists, other)], sim)

    def _views_agree(self, poses_2d, X: np.ndarray) -> bool:
        """True unless the 2D ``poses_2d`` of the views is far from the reprojection of its 3D ``X (J, 3)``
        (:attr:`max_reprojection`); True without 2D to compare with."""
        if poses_2d is None or poses_2d.keypoints.shape[:2] != (len(self.cameras), X.shape[0]):
            return True
        kp = poses_2d.keypoints
        good = (poses_2d.confidence > 0.3) & np.isfinite(kp).all(-1) & np.isfinite(X).all(1)[None]
        proj = self.rig.project(np.where(np.isfinite(X), X, 0.0))  # (C, J, 2)
        height = box_of_points(np.where(good[..., None], kp, np.nan), min_points=2)[:, 3]
        shares = [np.median(np.linalg.norm(proj[c, good[c]] - kp[c, good[c]], axis=-1)) / height[c]
                  for c in range(len(self.cameras)) if good[c].sum() >= 4]
        return not shares or float(np.median(shares)) <= self.max_reprojection

    def _image_evidence(self, poses_2d, X: np.ndarray, t: int | None) -> bool:
        """True when the image shows a person where the skeleton ``X (J, 3)`` is, in at least two of the views
        with 2D (all of them if fewer): the 2D model is sure of it there (median joint confidence
        :attr:`evidence_confidence`), or the background model's foreground fills :attr:`evidence_foreground` of
        the skeleton's box. A 2D model shown an empty crop still draws a skeleton, one that agrees across views
        because the crops do: without this the track can confirm itself on an empty floor. True without 2D."""
        C = len(self.cameras)
        if poses_2d is None or poses_2d.keypoints.shape[:2] != (C, X.shape[0]) or C == 1:
            return True
        conf = np.where(np.isfinite(poses_2d.keypoints).all(-1), poses_2d.confidence, 0.0)
        has_2d = (conf > 0.3).sum(1) >= 4
        if not has_2d.any():
            return True
        score = np.array([np.median(conf[c][conf[c] > 0.3]) if has_2d[c] else 0.0 for c in range(C)])
        seen = has_2d & (score >= self.evidence_confidence)
        fg_share = self._foreground_share(X, t)
        if fg_share is not None:
            seen |= has_2d & (fg_share >= self.evidence_foreground)
        return int(seen.sum()) >= min(2, int(has_2d.sum()))

    def _foreground_share(self, X: np.ndarray, t: int | None) -> np.ndarray | None:
        """Per view (C,) the share of the box of the projected skeleton ``X (J, 3)`` that the background model
        calls foreground (NaN where unknown); ``None`` without a background model or for another frame set."""
        bg = self._background
        if bg is None or self._images is None or t is None or self._images[0] != t:
            return None
        ok = np.isfinite(X).all(1)
        if ok.sum() < 3:
            return None
        boxes = box_of_points(self.rig.project(X[ok]), min_points=3)
        out = np.full(len(self.cameras), np.nan)
        for c, name in enumerate(self.cameras):
            fg = bg.foreground(name)
            if fg is None or not np.isfinite(boxes[c]).all():
                continue
            mask, r = fg
            x0, y0, x1, y1 = _mask_window(boxes[c], r, mask.shape)
            if x1 > x0 and y1 > y0:
                out[c] = float(mask[y0:y1, x0:x1].mean())
        return out

    @staticmethod
    def _beyond_a_frame(seconds: float) -> float:
        """Time (s) beyond a frame interval at a live rate (50 ms): the stage's margins were tuned at 30 frame sets
        per second and widen with the time a sparser rate (a loaded CPU) adds."""
        return max(0.0, seconds - 0.05)

    def _stale_s(self, now: int | None) -> float:
        """Seconds since a skeleton last confirmed the track (or it was found)."""
        if now is None or self._confirmed_ns is None:
            return 0.0
        return max(0.0, (now - self._confirmed_ns) / 1e9)

    def _predicted_center(self, now: int | None) -> np.ndarray | None:
        if self._center is None:
            return None
        dt = 0.0 if now is None or self._t_ns is None else float(np.clip((now - self._t_ns) / 1e9, 0.0, 1.0))
        return self._center + self._velocity * dt

    def _confirm(self, X: np.ndarray, ok: np.ndarray, centre: np.ndarray, t: int | None) -> None:
        if self._center is not None and self._t_ns is not None and t is not None and t > self._t_ns:
            predicted = self._predicted_center(t)
            # centre_gain per 1/30 s: the longer since the last state, the less the predicted course is worth
            gain = 1.0 - (1.0 - self.centre_gain) ** (1.0 + 30.0 * self._beyond_a_frame((t - self._t_ns) / 1e9))
            moved = predicted + gain * (centre - predicted)  # the skeleton, moved towards the course
            X, centre = X + (moved - centre), moved
            v = (centre - self._center) / ((t - self._t_ns) / 1e9)
            speed = np.linalg.norm(v) * self._unit
            if speed > 4.0:  # m/s: clamp implausible jumps
                v *= 4.0 / speed
            self._velocity = 0.5 * self._velocity + 0.5 * v
        joints = X.copy()
        if self._joints is not None and self._joints.shape == X.shape and self._center is not None:
            joints[~ok] = self._joints[~ok] + (centre - self._center)  # keep a full skeleton
        self._joints = joints
        self._center = centre
        self._t_ns = t
        if t is not None:
            self._confirmed_ns = t

    def _body_points(self, centre: np.ndarray) -> np.ndarray:
        """A standing person's outline (vertical cylinder) around ``centre``, for boxes without a skeleton."""
        up = self._up
        side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
        side /= np.linalg.norm(side)
        other = np.cross(up, side)
        r, h = 0.3 / self._unit, self._height
        ring = [np.cos(a) * side + np.sin(a) * other for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]
        return np.array([centre + s * up * h / 2 + r * d for s in (-1, 1) for d in ring])

    def _predict(self, now: int, images) -> np.ndarray:
        """Tracked boxes (C, 4) at time ``now``: the projected skeleton (or body outline), grown with motion and
        staleness and kept to a person's size at its depth, then checked against the foreground (static cameras);
        NaN for views where the person projects outside the image."""
        C = len(self.cameras)
        if C == 1:
            return self._boxes_2d.copy() if self._boxes_2d is not None else np.full((1, 4), np.nan)
        shift = self._predicted_center(now) - self._center
        pts = (self._joints if self._joints is not None else self._body_points(self._center)) + shift
        proj = self.rig.project(np.vstack([pts, self._center[None] + shift, self._center[None]]))  # (C, N+2, 2)
        motion_px = np.nan_to_num(np.linalg.norm(proj[:, -2] - proj[:, -1], axis=-1), nan=0.0)
        proj = proj[:, :-2]
        # the re-centring compares the body with the foreground: joints far from the body (a wrong triangulation,
        # or a limb the 2D model overshot) keep their place in the box but do not pull its centre
        body = proj[:, np.linalg.norm(np.nan_to_num(pts - self._center - shift), axis=1) * self._unit
                    < self.max_joint_distance_m]
        fg = self._foreground_boxes(body, images) if self.recenter else None
        delta, measured = (None, False) if fg is None else self._foreground_shift(body, fg)
        self._recentred = delta
        if delta is not None:
            pts = pts + delta
            self._center = self._center + delta
            if self._joints is not None:
                self._joints = self._joints + delta
            proj = self.rig.project(pts)
        boxes = box_of_points(proj, min_points=3)
        inside = ((proj >= 0) & (proj < self._sizes[:, None, :])).all(-1).sum(-1)  # (C,)
        # the course is uncertain by about speed_uncertainty x the time since the track's state, on every side
        dt = 0.0 if self._t_ns is None else float(np.clip((now - self._t_ns) / 1e9, 0.0, 1.0))
        course_px = np.nan_to_num(self.speed_uncertainty * self._beyond_a_frame(dt)
                                  * self._pixels_per_unit(self._center) / self._unit)
        if measured and self._beyond_a_frame(self._interval_s) > 0:
            # sparse frame sets, and this one's foreground placed the person: the course's uncertainty is gone (at a
            # live rate the margin stays: a real recording's foreground is not that reliable)
            motion_px, course_px = 0.1 * motion_px, 0.0
        else:
            motion_px = 0.5 * motion_px
        boxes = grow(boxes, 1.0 + self.margin + 0.05 * self._misses, motion_px + 2.0 + course_px)
        boxes = self._person_sized(boxes, self._center + shift)
        if self.silhouette:
            boxes = self._fill_to_silhouette(boxes, self._center + shift, images)
        # a person at the image's edge keeps a box while a fifth of it is in the image, even if fewer than three
        # joints are (the model still reads the visible part)
        boxes[(inside < 3) & ~(share_in_image(boxes, self._sizes) >= 0.2)] = np.nan
        return boxes

    def _pixels_per_unit(self, point: np.ndarray) -> np.ndarray:
        """Image scale (C,) in px per rig unit at a world point (NaN behind a camera)."""
        depth = np.einsum("cij,j->ci", self._P[:, :, :3], point)[:, 2] + self._P[:, 2, 3]
        return np.where(depth > 0, self._fy / np.where(depth > 0, depth, 1.0), np.nan)

    def _person_sized(self, boxes: np.ndarray, point: np.ndarray) -> np.ndarray:
        """Boxes kept between a person's smallest width (:attr:`min_width_m`), smallest height (a crouch,
        :attr:`min_height_fraction` of the person's height) and largest height (:attr:`max_height_m`) at
        ``point``'s depth, about their centres: a 2D model whose output follows its crop cannot grow or shrink the
        track away."""
        ppu = self._pixels_per_unit(point)[:, None] / self._unit  # px per metre
        c = centres(boxes)
        w = np.fmax(boxes[:, 2:3], self.min_width_m * ppu)
        h = np.clip(boxes[:, 3:4], self.min_height_fraction * self._height * self._unit * ppu,
                    self.max_height_m * ppu)
        return np.concatenate([c - np.concatenate([w, h], 1) / 2, w, h], 1)

    def _foreground_boxes(self, proj: np.ndarray, images) -> np.ndarray | None:
        """Per view the box (C, 4) of one person-sized foreground region around the projected track ``proj
        (C, N, 2)``, NaN where there is none (static person, two people merged, no background model)."""
        bg = self._background
        if bg is None:
            return None
        C = len(self.cameras)
        pred = box_of_points(proj, min_points=3)
        windows = grow(self._person_sized(pred, self._center), 1.6)
        ppm = self._pixels_per_unit(self._center) / self._unit
        out = np.full((C, 4), np.nan)
        for c, name in enumerate(self.cameras):
            fg = bg.foreground(name)
            if fg is None or images[c] is None or not np.isfinite(pred[c]).all() or not np.isfinite(ppm[c]):
                continue
            mask, r = fg
            x0, y0, x1, y1 = _mask_window(windows[c], r, mask.shape)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            ys, xs = np.nonzero(mask[y0:y1, x0:x1])
            if len(xs) < 0.3 * (0.3 * ppm[c]) * (1.0 * ppm[c]) / (r * r):  # less than a small person's area
                continue
            lo, hi = np.quantile(np.stack([xs, ys], 1), [0.02, 0.98], axis=0)
            w, h = (hi - lo + 1) * r
            if not (0.5 * ppm[c] < h < 2.4 * ppm[c] and 0.15 * ppm[c] < w < 1.1 * ppm[c]):
                continue  # not one person's size at this depth (two people, a ghost, a light change)
            out[c] = [(x0 + lo[0]) * r, (y0 + lo[1]) * r, w, h]
        return out if np.isfinite(out[:, 0]).sum() >= 1 else None

    def _fill_to_silhouette(self, boxes: np.ndarray, point: np.ndarray, images) -> np.ndarray:
        """Tracked boxes (C, 4) widened to the joints the foreground silhouette around them implies, where that is
        :attr:`silhouette_ratio` times the box's width. The silhouette reaches :attr:`silhouette_margin_m` beyond the
        joints on each side (feet, hands, the body's thickness), so that much is taken off first. Only a silhouette
        of one person (height and area of one person at the track's depth, head and torso no wider than the box,
        nothing reaching a quarter of the box's height below its feet, centre within :attr:`silhouette_centre_m` of
        the track's ``point`` (3,)) is used: two people merged, a ghost or a light change leave the box as it is."""
        bg = self._background
        if bg is None:
            return boxes
        ppm = self._pixels_per_unit(point) / self._unit  # (C,) px per metre
        centre = self.rig.project(point[None])[:, 0]  # (C, 2)
        out = boxes.copy()
        for c, name in enumerate(self.cameras):
            fg = bg.foreground(name)
            b = boxes[c]
            if fg is None or images[c] is None or not np.isfinite(b).all() or not np.isfinite(ppm[c]):
                continue
            mask, r = fg
            half = max(b[2] / 2, 0.8 * ppm[c])  # look up to 80 cm either side of the track's centre
            x0, x1 = int(max((centre[c, 0] - half) / r, 0)), int(min((centre[c, 0] + half) / r + 1, mask.shape[1]))
            # the box's rows and 40 % of its height below (a closer person's legs reach down there)
            y0, y1 = int(max(b[1] / r, 0)), int(min((b[1] + 1.4 * b[3]) / r + 1, mask.shape[0]))
            bottom = int(min((b[1] + b[3]) / r + 1, mask.shape[0])) - y0  # the box's last row in the window
            if x1 - x0 < 2 or bottom < 2:
                continue
            _, labels, stats, _ = cv2.connectedComponentsWithStats(mask[y0:y1, x0:x1].astype(np.uint8),
                                                                   connectivity=8)
            bx0, bx1 = b[0] / r - x0, (b[0] + b[2]) / r - x0  # the box, reduced px in the window
            ids = 1 + np.nonzero((stats[1:, 4] >= 2) & (stats[1:, 0] < bx1) & (stats[1:, 0] + stats[1:, 2] > bx0)
                                 & (stats[1:, 1] < bottom))[0]
            if not len(ids):
                continue
            member = np.zeros(len(stats), bool)
            member[ids] = True
            sil = member[labels]  # the kept components' pixels
            cols = sil[:bottom].any(0).nonzero()[0]
            rows = sil[:bottom].any(1).nonzero()[0]
            if not cols.size:
                continue
            lo, hi = (cols.min() + x0) * r, (cols.max() + 1 + x0) * r
            area = sil[:bottom].sum() * r * r / ppm[c] ** 2  # m^2 of silhouette inside the box's rows
            height = (rows.max() - rows.min() + 1) * r
            below = (sil[bottom:].any(1).nonzero()[0].size) * r  # px of silhouette rows under the box
            margin = self.silhouette_margin_m * ppm[c]
            upper = sil[:max(1, int(self.silhouette_upper * b[3] / r))].any(0).nonzero()[0]
            upper_w = (upper.max() - upper.min() + 1) * r - 2 * margin if upper.size else 0.0
            seen = (min(b[1] + b[3], mask.shape[0] * r) - max(b[1], 0.0))  # the box's rows inside the image, px
            if not (height > 0.6 * seen and area < 0.6 and below < 0.25 * b[3]
                    and upper_w <= self.silhouette_ratio * b[2]
                    and abs((lo + hi) / 2 - centre[c, 0]) < self.silhouette_centre_m * ppm[c]):
                continue
            lo, hi = lo + margin, hi - margin
            if hi - lo > self.silhouette_ratio * b[2]:
                out[c, 0] = min(b[0], lo)
                out[c, 2] = max(b[0] + b[2], hi) - out[c, 0]
        return out

    def _foreground_shift(self, proj: np.ndarray, fg: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """``(shift, measured)``: the 3D shift (3,) that moves the track onto the foreground ``fg (C, 4)`` when
        several views agree that it is off by more than 15 cm (e.g. a 2D model that has not followed the person),
        else ``None``; ``measured``: the foreground placed the person within 1.5 m of the track.
        ``proj (C, N, 2)``: the track projected."""
        pred = box_of_points(proj, min_points=3)
        have = np.isfinite(fg[:, 0]) & np.isfinite(pred[:, 0])
        if have.sum() < 2:
            return None, False
        tol = 0.2 * float(np.median(fg[have, 3]))
        Xm = _triangulate_px(self._P, centres(fg), have, tol)
        Xp = _triangulate_px(self._P, centres(pred), have, np.inf)
        if Xm is None or Xp is None:
            return None, False
        delta = Xm - Xp
        dist = np.linalg.norm(delta) * self._unit
        if dist > 1.5:
            return None, False
        return (None if dist < 0.15 else delta * (1.0 - 0.15 / dist)), True

    def _search(self, images, now: int, pick: bool = False) -> Hypothesis | None:
        """Detect in every view and return the subject's hypothesis (or ``None``)."""
        C = len(self.cameras)
        hyps = associate(self.rig, self._detect(images, self.detectors), min_views=min(2, C))
        if not hyps:
            self._tick_pick()
            return None
        if pick and self._pick is not None:
            cam, xy, _ = self._pick
            inside = [h for h in hyps if np.isfinite(h.boxes[cam]).all()
                      and h.boxes[cam, 0] <= xy[0] <= h.boxes[cam, 0] + h.boxes[cam, 2]
                      and h.boxes[cam, 1] <= xy[1] <= h.boxes[cam, 1] + h.boxes[cam, 3]]
            if inside:
                self._pick = None
                if self.appearance is not None:
                    self.appearance.reset()  # a new subject, a new look
                log.info("subject selected in %s at (%.0f, %.0f)", self.cameras[cam], *xy)
                return min(inside, key=lambda h: np.linalg.norm(centres(h.boxes[cam]) - xy))
            self._tick_pick()
            if self.state == "tracking":
                return None
        if self._last_seen is not None and C > 1 and self._lost_since_ns is not None:
            lost_s = max(0.0, (now - self._lost_since_ns) / 1e9)
            gate = (0.7 + 1.5 * lost_s) / self._unit  # walking speed since the subject was lost
            near = [h for h in hyps if np.linalg.norm(h.point - self._last_seen) < gate]
            if not near:
                return None
            return min(near, key=lambda h: (-h.support, np.linalg.norm(h.point - self._last_seen)))
        return hyps[0]

    def _detect(self, images, detectors) -> list[list]:
        """Every detector's people in every view's image: per view (rig order) a list of detections."""
        dets = [[] for _ in self.cameras]
        for det in detectors:
            for c, img in enumerate(images):
                if img is not None:
                    dets[c].extend(det.detect(self.cameras[c], img))
        return dets

    def _tick_pick(self) -> None:
        if self._pick is not None:
            cam, xy, left = self._pick
            self._pick = (cam, xy, left - 1) if left > 1 else None

    def _search_near(self, images, now: int) -> Hypothesis | None:
        """Re-detection while the track is not confirmed: the person nearest to the track's predicted position
        within a walk since its last confirmation, or ``None``. Cheap detectors (background subtraction) search
        every time, the others at most every :attr:`redetect_interval_s`."""
        predicted = self._predicted_center(now)
        if predicted is None:
            return None
        due = []
        for det in self.detectors:
            if not isinstance(det, BackgroundSubtractionDetector):
                last = self._searched_ns.get(det.name)
                if last is not None and (now - last) / 1e9 < self.redetect_interval_s:
                    continue
                self._searched_ns[det.name] = now
            due.append(det)
        gate = (0.5 + 2.0 * self._beyond_a_frame(self._stale_s(now))) / self._unit
        near = [h for h in associate(self.rig, self._detect(images, due), min_views=2)
                if np.linalg.norm(h.point - predicted) < gate]
        if not near:
            return None
        log.debug("track re-anchored on a detection %.2f m from its course",
                  min(np.linalg.norm(h.point - predicted) for h in near) * self._unit)
        return min(near, key=lambda h: (-h.support, np.linalg.norm(h.point - predicted)))

    def _move_onto(self, hyp: Hypothesis, now: int) -> None:
        """Move an unconfirmed track's skeleton onto the re-detected person ``hyp``, its shape kept and its course
        restarted, unless the track's boxes already overlap the detections (median IoU 0.3) or the two are less
        than :attr:`redetect_move_m` apart (box middles compared with box middles: a detector's box around
        reaching arms is not centred on the body). Its misses count on until a skeleton confirms it."""
        predicted = self._predicted_center(now)
        shift = predicted - self._center
        pts = (self._joints if self._joints is not None else self._body_points(self._center)) + shift
        pred = box_of_points(self.rig.project(pts), min_points=3)  # (C, 4)
        have = np.isfinite(hyp.boxes[:, 0]) & np.isfinite(pred[:, 0])
        if have.any() and np.median(iou(pred[have], hyp.boxes[have])) >= 0.3:
            return
        middle = _triangulate_px(self._P, centres(pred), have, np.inf) if have.sum() >= 2 else None
        delta = hyp.point - (predicted if middle is None else middle)
        if np.linalg.norm(delta) * self._unit < self.redetect_move_m:
            return
        log.debug("unconfirmed track moved %.2f m onto a detection", np.linalg.norm(delta) * self._unit)
        if self._joints is not None:
            self._joints = self._joints + shift + delta
        self._center = predicted + delta
        self._velocity = np.zeros(3)
        self._recentred = None
        self._t_ns = now

    def _adopt(self, hyp: Hypothesis, now: int) -> np.ndarray:
        """Start tracking ``hyp``; its boxes (C, 4): detections where supported, the body outline elsewhere."""
        C = len(self.cameras)
        self.state = "tracking"
        self._misses = 0
        self._lost_since_ns = None
        self._last_seen = None
        self._confirmed_ns = now
        self._velocity = np.zeros(3)
        self._recentred = None
        self._t_ns = now
        if C == 1:
            self._boxes_2d = hyp.boxes.copy()
            return hyp.boxes.copy()
        self._center = hyp.point.copy()
        self._height = float(np.clip(hyp.height, 0.5 / self._unit, 2.2 / self._unit)) \
            if np.isfinite(hyp.height) else 1.7 / self._unit
        self._joints = None
        proj = self.rig.project(self._body_points(self._center))
        boxes = box_of_points(proj, min_points=3)
        inside = ((proj >= 0) & (proj < self._sizes[:, None, :])).all(-1).sum(-1)
        boxes[inside < 3] = np.nan
        have = np.isfinite(hyp.boxes[:, 0])
        boxes[have] = hyp.boxes[have]
        return boxes

    def close(self) -> None:
        for det in self.detectors:
            det.close()


def _mask_window(box: np.ndarray, reduction: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The pixels ``(x0, y0, x1, y1)`` (end exclusive, clipped to ``shape`` (H, W)) of a foreground mask reduced by
    ``reduction`` that cover the image box ``box (4,)`` xywh px."""
    b = np.asarray(box, dtype=np.float64) / reduction
    return (max(int(b[0]), 0), max(int(b[1]), 0),
            min(int(b[0] + b[2]) + 1, shape[1]), min(int(b[1] + b[3]) + 1, shape[0]))


def _triangulate_px(P: np.ndarray, pixels: np.ndarray, use: np.ndarray, tolerance: float) -> np.ndarray | None:
    """Linear triangulation of one point from pixels (C, 2) of the views ``use`` (C,) bool with projections
    ``P (C, 3, 4)``; while a view reprojects worse than ``tolerance`` px and more than two remain, the worst is
    dropped. ``None`` with fewer than two views or a point behind a camera."""
    use = use.copy()
    while use.sum() >= 2:
        A = np.concatenate([pixels[use, 0:1] * P[use, 2] - P[use, 0], pixels[use, 1:2] * P[use, 2] - P[use, 1]])
        X = np.linalg.svd(A)[2][-1]
        if abs(X[3]) < 1e-12:
            return None
        X = X[:3] / X[3]
        h = P[use] @ np.append(X, 1.0)
        if (h[:, 2] <= 0).any():
            return None
        err = np.linalg.norm(h[:, :2] / h[:, 2:] - pixels[use], axis=1)
        if err.max() <= tolerance or use.sum() == 2:
            return X if err.max() <= max(tolerance, 1e-9) or np.isinf(tolerance) else None
        use[np.nonzero(use)[0][err.argmax()]] = False
    return None
