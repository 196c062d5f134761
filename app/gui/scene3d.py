"""The 3D view: Open3D renders the skeleton, camera frustums and floor grid off-screen into a Qt widget.

Open3D has no Qt widget, so :class:`Open3DRenderer` drives Open3D's legacy visualiser with a hidden window
(EGL off-screen when there is no display) and returns pixels; :class:`Scene3DView` shows them in a
``QLabel`` and maps mouse drags to orbit and the wheel to zoom. Geometry is updated in place.
"""

from __future__ import annotations

import logging

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

log = logging.getLogger(__name__)


def frustum_lines(camera, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera frustum as line segments: points (5, 3) (centre + 4 image corners at ``depth``), lines (8, 2)."""
    w, h = camera.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    rays = camera.rays(corners)
    # Scale each ray so its depth along the optical axis is ``depth``.
    axis = camera.R[2]
    pts = camera.center + rays * (depth / np.maximum(rays @ axis, 1e-6))[:, None]
    points = np.vstack([camera.center, pts])
    lines = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]])
    return points, lines


def floor_grid(up: np.ndarray, half_size: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid lines on the floor plane through the origin, perpendicular to ``up``: points (P, 3), lines (L, 2)."""
    up = np.asarray(up, dtype=float)
    a = np.array([1.0, 0, 0]) if abs(up[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(up, a)
    u /= np.linalg.norm(u)
    v = np.cross(up, u)
    ticks = np.arange(-half_size, half_size + 1e-9, step)
    pts, lines = [], []
    for t in ticks:
        for start, end in ((t * u - half_size * v, t * u + half_size * v), (t * v - half_size * u, t * v + half_size * u)):
            lines.append([len(pts), len(pts) + 1])
            pts.extend([start, end])
    return np.asarray(pts), np.asarray(lines)


#: Shared libraries Open3D and Qt load, and the Debian/Ubuntu package of each (all in .ci/debian-packages).
SYSTEM_LIBRARIES = {
    "libusb-1.0.so.0": "libusb-1.0-0", "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1",
    "libvulkan.so.1": "libvulkan1", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
}


def missing_library_hint(exc: BaseException) -> str:
    """Which system library an import or start-up error names and how to install it ('' when it names none)."""
    text = str(exc)
    for lib, package in SYSTEM_LIBRARIES.items():
        if lib in text:
            return (f"missing system library {lib}: install it with `sudo apt-get install {package}` "
                    "(or run `.ci/system-deps` in the ppt-mocap folder for every library the app needs)")
    return ""


class Open3DRenderer:
    """Off-screen Open3D scene of one skeleton, the rig's cameras and the floor. Use from one thread."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        import open3d as o3d

        self._o3d = o3d
        self.width, self.height = width, height
        self._vis = o3d.visualization.Visualizer()
        if not self._vis.create_window(window_name="ppt-mocap 3D", width=width, height=height, visible=False):
            raise RuntimeError("Open3D could not create an off-screen rendering context (EGL/GLX)")
        opt = self._vis.get_render_option()
        opt.background_color = np.array([0.12, 0.12, 0.14])
        opt.line_width = 4.0
        opt.point_size = 6.0
        self._skeleton = o3d.geometry.LineSet()
        self._joints = o3d.geometry.PointCloud()
        self._cameras = o3d.geometry.LineSet()
        self._floor = o3d.geometry.LineSet()
        self._up = np.array([0, 0, 1.0])
        self._added = False
        self._scale = 1.0

    def set_rig(self, rig, frustum_depth: float | None = None) -> None:
        """Draw the rig's cameras and a floor grid sized to the rig (rig units)."""
        o3d = self._o3d
        self._up = rig.up_vector
        centers = rig.centers
        extent = float(np.max(np.linalg.norm(centers, axis=1))) if len(centers) else 3.0
        self._scale = max(extent, 1e-3)
        depth = frustum_depth or 0.12 * self._scale
        pts, lines, colors = [], [], []
        for i, cam in enumerate(rig.cameras):
            p, l = frustum_lines(cam, depth)
            lines.append(l + sum(len(x) for x in pts))
            pts.append(p)
            colors.append(np.tile([0.3, 0.7, 1.0], (len(l), 1)))
        self._cameras.points = o3d.utility.Vector3dVector(np.vstack(pts))
        self._cameras.lines = o3d.utility.Vector2iVector(np.vstack(lines))
        self._cameras.colors = o3d.utility.Vector3dVector(np.vstack(colors))
        step = 0.5 if rig.units == "m" else 500.0
        half = np.ceil(0.8 * self._scale / step) * step
        gp, gl = floor_grid(self._up, half, step)
        self._floor.points = o3d.utility.Vector3dVector(gp)
        self._floor.lines = o3d.utility.Vector2iVector(gl)
        self._floor.colors = o3d.utility.Vector3dVector(np.tile([0.35, 0.35, 0.38], (len(gl), 1)))
        self._ensure_added(reset=True)

    def set_skeleton(self, points: np.ndarray | None, bones: tuple[tuple[int, int], ...] = ()) -> None:
        """Show joints (J, 3) (NaN = missing) and the bones between valid ones."""
        o3d = self._o3d
        if points is None or not np.isfinite(points).any():
            self._joints.points = o3d.utility.Vector3dVector(np.zeros((0, 3)))
            self._skeleton.points = o3d.utility.Vector3dVector(np.zeros((0, 3)))
            self._skeleton.lines = o3d.utility.Vector2iVector(np.zeros((0, 2), dtype=int))
        else:
            pts = np.asarray(points, dtype=float)
            ok = np.isfinite(pts).all(axis=1)
            self._joints.points = o3d.utility.Vector3dVector(pts[ok])
            self._joints.colors = o3d.utility.Vector3dVector(np.tile([1.0, 0.85, 0.2], (ok.sum(), 1)))
            good = [(a, b) for a, b in bones if ok[a] and ok[b]]
            self._skeleton.points = o3d.utility.Vector3dVector(np.nan_to_num(pts))
            self._skeleton.lines = o3d.utility.Vector2iVector(np.asarray(good, dtype=int).reshape(-1, 2))
            self._skeleton.colors = o3d.utility.Vector3dVector(np.tile([1.0, 0.5, 0.2], (len(good), 1)))
        self._ensure_added()
        for geometry in (self._joints, self._skeleton):
            self._vis.update_geometry(geometry)

    def _ensure_added(self, reset: bool = False) -> None:
        if not self._added:
            for g in (self._floor, self._cameras, self._skeleton, self._joints):
                self._vis.add_geometry(g, reset_bounding_box=True)
            self._added = True
            reset = True
        else:
            for g in (self._floor, self._cameras):
                self._vis.update_geometry(g)
        if reset:
            self.reset_view()

    def reset_view(self) -> None:
        """Look at the origin from a raised diagonal, world up on screen."""
        ctr = self._vis.get_view_control()
        up = self._up
        side = np.array([1.0, -1.0, 0.0]) if abs(up[2]) > 0.5 else np.array([1.0, 0.0, -1.0])
        front = side / np.linalg.norm(side) + 0.6 * up
        ctr.set_front(front / np.linalg.norm(front))
        ctr.set_up(up)
        ctr.set_lookat(0.25 * up * (1.0 if self._scale > 10 else 1.0) * min(self._scale, 4.0))
        ctr.set_zoom(0.55)

    def orbit(self, dx: float, dy: float) -> None:
        """Rotate the view by a mouse drag of (dx, dy) pixels."""
        self._vis.get_view_control().rotate(dx, dy)

    def zoom(self, steps: float) -> None:
        """Zoom in (positive steps) or out (negative)."""
        self._vis.get_view_control().scale(-steps)

    def render(self) -> np.ndarray:
        """The current picture, (H, W, 3) uint8 RGB."""
        self._vis.poll_events()
        self._vis.update_renderer()
        buf = np.asarray(self._vis.capture_screen_float_buffer(do_render=True))
        return (np.clip(buf, 0, 1) * 255).astype(np.uint8)

    def close(self) -> None:
        self._vis.destroy_window()


class Scene3DView(QtWidgets.QLabel):
    """Qt widget showing :class:`Open3DRenderer` pictures; drag to orbit, wheel to zoom, double-click to reset."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, width: int = 640, height: int = 480) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 180)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #1f1f24; color: #ccc;")
        self.renderer: Open3DRenderer | None = None
        try:
            self.renderer = Open3DRenderer(width, height)
        except Exception as exc:  # no GL/EGL or a missing system library: say so in the widget, keep the app running
            hint = missing_library_hint(exc)
            log.error("3D view unavailable: %s%s", exc, f" ({hint})" if hint else "")
            self.setText(f"3D view unavailable:\n{exc}" + (f"\n{hint}" if hint else ""))
        self._last_pos: QtCore.QPointF | None = None
        self._dirty = True
        self.last_picture: np.ndarray | None = None

    def set_rig(self, rig) -> None:
        if self.renderer:
            self.renderer.set_rig(rig)
            self._dirty = True

    def set_skeleton(self, points, bones) -> None:
        if self.renderer:
            self.renderer.set_skeleton(points, bones)
            self._dirty = True

    def refresh(self) -> None:
        """Render if anything changed (called by the window's display timer)."""
        if not self.renderer or not self._dirty:
            return
        rgb = np.ascontiguousarray(self.renderer.render())
        self.last_picture = rgb
        h, w, _ = rgb.shape
        image = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
        self.setPixmap(QtGui.QPixmap.fromImage(image).scaled(
            self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
            QtCore.Qt.TransformationMode.SmoothTransformation))
        self._dirty = False

    # -- mouse ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        self._last_pos = event.position()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if self.renderer and self._last_pos is not None:
            d = event.position() - self._last_pos
            self.renderer.orbit(d.x() * 2, d.y() * 2)
            self._last_pos = event.position()
            self._dirty = True
            self.refresh()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        self._last_pos = None

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:
        if self.renderer:
            self.renderer.reset_view()
            self._dirty = True
            self.refresh()

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        if self.renderer:
            self.renderer.zoom(event.angleDelta().y() / 120.0)
            self._dirty = True
            self.refresh()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        self._dirty = True
        super().resizeEvent(event)

    def close_renderer(self) -> None:
        if self.renderer:
            self.renderer.close()
            self.renderer = None
