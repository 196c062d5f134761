"""The views live capture and replay share: the camera grid (frames, 2D skeletons, token masks), the Open3D scene
and the plots. Items are created once per camera set and updated in place."""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from PyQt6 import QtCore, QtWidgets

from app.gui.camera_view import CameraView
from app.gui.plots import FpsPlot, JointTrajectoryPlot, LatencyPlot
from app.gui.scene3d import Scene3DView
from core.inference.token_mask import token_mask_image

log = logging.getLogger(__name__)

LATENCY_STAGES = ["sync", "queue", "estimate_2d", "triangulate_3d", "filter", "glass_to_skeleton"]


def token_masks(poses_2d, frame_set, stage: int | None) -> dict[str, np.ndarray]:
    """Camera -> (H, W) map of the tokens kept at ``stage`` (``None``: heat over stages); {} without tokens."""
    if poses_2d is None or not poses_2d.kept_tokens or poses_2d.token_to_image is None:
        return {}
    out = {}
    for c, cam in enumerate(poses_2d.cameras):
        frame = frame_set.frames.get(cam) if frame_set is not None else None
        if frame is None or frame.image is None:
            continue
        h, w = frame.image.shape[:2]
        kept = [k[c] for k in poses_2d.kept_tokens]
        if (kept[0] < 0).all():
            continue
        out[cam] = token_mask_image(kept, poses_2d.token_grid, poses_2d.token_stride, poses_2d.token_to_image[c],
                                    (w, h), stage)
    return out


class MocapViews(QtWidgets.QWidget):
    """Camera grid on the left; the 3D scene and the plots on the right.

    Args:
        render_interval_s: the 3D scene and the plots redraw at most this often (the camera views update with
            every result); heavy drawing at a lower rate keeps the display up with the pipeline.
    """

    #: A left click on a camera's image: (camera, x, y) in image pixels (the window picks the subject).
    camera_clicked = QtCore.pyqtSignal(str, float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None, render_interval_s: float = 0.2) -> None:
        super().__init__(parent)
        self.cameras: dict[str, CameraView] = {}
        self._grid_host = QtWidgets.QWidget()
        self._grid = QtWidgets.QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(3)
        self._placeholder = QtWidgets.QLabel("Press Start to capture (or open a session to replay).")
        self._placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._grid.addWidget(self._placeholder, 0, 0)
        self.scene = Scene3DView(width=560, height=420)
        self.latency = LatencyPlot(LATENCY_STAGES)
        self.fps = FpsPlot()
        self.trajectory = JointTrajectoryPlot()
        for plot in (self.latency, self.fps, self.trajectory):
            plot.setMinimumHeight(110)
        right = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        right.addWidget(self.scene)
        plots = QtWidgets.QTabWidget()
        plots.addTab(self.latency, "Latency")
        plots.addTab(self.fps, "FPS")
        plots.addTab(self.trajectory, "Joint")
        self.plot_tabs = plots
        right.addWidget(plots)
        right.setSizes([420, 260])
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self._grid_host)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.skeleton = None
        self.joint_index = 0
        self.render_interval_s = render_interval_s
        self._last_render = 0.0
        self._last_plot = 0.0
        self.frames_shown = 0
        self.lost: set[str] = set()  # cameras reported lost (their view says so)

    # -- set-up ---------------------------------------------------------------------------------------
    def set_rig(self, rig) -> None:
        """One camera view per rig camera (rebuilt only when the names change) and the rig in the 3D scene."""
        names = list(rig.names)
        if names != list(self.cameras):
            for view in self.cameras.values():
                self._grid.removeWidget(view)
                view.deleteLater()
            self._placeholder.hide()
            self.cameras = {}
            self.lost = set()
            cols = max(1, math.ceil(math.sqrt(len(names))))
            for i, name in enumerate(names):
                view = CameraView(name)
                view.clicked.connect(self.camera_clicked)
                self._grid.addWidget(view, i // cols, i % cols)
                self.cameras[name] = view
        self.scene.set_rig(rig)
        self.scene.set_skeleton(None, ())
        self.scene.refresh()

    def set_joint(self, index: int) -> None:
        """Plot the trajectory of joint ``index`` of the current skeleton."""
        self.joint_index = int(index)
        if self.skeleton is not None and 0 <= index < self.skeleton.num_joints:
            self.trajectory.set_joint(self.skeleton.joints[index])

    # -- per result -----------------------------------------------------------------------------------
    def show_result(self, frame_set, skeleton, keypoints: np.ndarray | None, confidence: np.ndarray | None,
                    points_3d: np.ndarray | None, masks: dict[str, np.ndarray] | None = None,
                    t: float | None = None, latency_ms: dict[str, float] | None = None,
                    boxes: np.ndarray | None = None, box_source=None) -> None:
        """Update every view with one processed (or replayed) frame set.

        ``keypoints (C, J, 2)`` / ``confidence (C, J)`` follow the camera grid's order; ``points_3d (J, 3)`` in the
        rig's units; ``masks``: camera -> token map (see :func:`token_masks`); ``latency_ms``: stage -> ms;
        ``boxes (C, 4)`` / ``box_source`` (C,): the person box each view was cropped to and where it came from.
        """
        if skeleton is not None and skeleton is not self.skeleton:
            self.skeleton = skeleton
            self.set_joint(min(self.joint_index, skeleton.num_joints - 1))
        bones = skeleton.bones if skeleton is not None else ()
        masks = masks or {}
        for c, (name, view) in enumerate(self.cameras.items()):
            frame = frame_set.frames.get(name) if frame_set is not None else None
            view.set_frame(frame.image if frame is not None else None)
            view.set_message("" if frame is not None else "camera lost" if name in self.lost else "no frame")
            if keypoints is not None and frame is not None:
                view.set_pose(keypoints[c], None if confidence is None else confidence[c], bones)
            else:
                view.set_pose(None, None)
            view.set_token_mask(masks.get(name))
            view.set_box(boxes[c] if boxes is not None and frame is not None else None,
                         box_source[c] if box_source is not None else "tracked" if boxes is not None else None)
        now = time.monotonic() if t is None else t
        if latency_ms:
            self.latency.append(now, latency_ms)
        if points_3d is not None and self.skeleton is not None and self.joint_index < len(points_3d):
            x, y, z = points_3d[self.joint_index]
            self.trajectory.append(now, {"x": x, "y": y, "z": z})
        self.scene.set_skeleton(points_3d, bones)
        self.frames_shown += 1

    def redraw(self, force_3d: bool = False) -> None:
        """Redraw the visible plot and the 3D scene, each at most every ``render_interval_s``."""
        now = time.monotonic()
        if force_3d or now - self._last_plot >= self.render_interval_s:
            self._last_plot = now
            plot = self.plot_tabs.currentWidget()
            for p in (self.latency, self.fps, self.trajectory):
                if force_3d or p is plot:
                    p.redraw()
        if force_3d or now - self._last_render >= self.render_interval_s:
            self._last_render = now
            self.scene.refresh()

    def set_camera_status(self, name: str, text: str, message: str | None = None) -> None:
        view = self.cameras.get(name)
        if view is not None:
            view.set_status(text)
            if message is not None:
                view.set_message(message)

    def close_views(self) -> None:
        self.scene.close_renderer()
