"""One camera's live view: the frame, the 2D skeleton (joint confidence as colour), the kept-token heatmap
and a status line. Items are created once and updated in place (pyqtgraph's fast path)."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

#: Confidence colour map: red (0) -> yellow (0.5) -> green (1).
_CONF_CMAP = pg.ColorMap([0.0, 0.5, 1.0], [(220, 40, 40), (240, 200, 40), (40, 200, 80)])
#: Brushes for 21 confidence levels, made once: reusing brush objects lets pyqtgraph reuse its symbol cache.
_CONF_BRUSHES = [pg.mkBrush(c) for c in _CONF_CMAP.map(np.linspace(0, 1, 21), mode="qcolor")]
#: Token heatmap: transparent where nothing was kept, warm colours where the model kept tokens.
_TOKEN_LUT = np.zeros((256, 4), dtype=np.uint8)
_TOKEN_LUT[:, 0] = 255
_TOKEN_LUT[:, 1] = np.linspace(40, 220, 256)
_TOKEN_LUT[:, 2] = 0
_TOKEN_LUT[:, 3] = np.linspace(0, 150, 256)


#: Person box colours by source (:data:`core.locate.BOX_SOURCES`).
BOX_COLOURS = {"tracked": (60, 200, 255), "detected": (255, 170, 40)}


class CameraView(QtWidgets.QWidget):
    """Frame + overlays of one camera. Coordinates are image pixels (x right, y down).

    ``clicked(camera, x, y)`` is emitted for a left click on the image (image pixels), e.g. to pick the subject.
    """

    clicked = QtCore.pyqtSignal(str, float, float)

    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._graphics = pg.GraphicsLayoutWidget()
        self._graphics.setBackground("k")
        self._view = self._graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self._view.setMenuEnabled(False)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._tokens = pg.ImageItem(axisOrder="row-major")
        self._tokens.setLookupTable(_TOKEN_LUT)
        self._tokens.setZValue(1)
        self._bones = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((255, 255, 255, 200), width=2, antialias=True))
        self._bones.setZValue(2)
        self._joints = pg.ScatterPlotItem(size=7, pen=pg.mkPen("k", width=0.5), antialias=True)
        self._joints.setZValue(3)
        self._points = pg.ScatterPlotItem(size=6, pen=pg.mkPen((0, 255, 255), width=1), brush=None,
                                          symbol="o", antialias=True)
        self._points.setZValue(4)
        self._message = pg.TextItem("", color=(255, 90, 90), anchor=(0.5, 0.5))
        self._message.setZValue(5)
        self._box = pg.PlotDataItem(pen=pg.mkPen(BOX_COLOURS["tracked"], width=2))
        self._box.setZValue(2)
        self._box_label = pg.TextItem("", color=BOX_COLOURS["tracked"], anchor=(0, 1))
        self._box_label.setZValue(5)
        for item in (self._image, self._tokens, self._bones, self._joints, self._points, self._message, self._box,
                     self._box_label):
            self._view.addItem(item)
        self._graphics.scene().sigMouseClicked.connect(self._on_click)
        self._title = QtWidgets.QLabel(name)
        self._title.setStyleSheet("font-weight: bold;")
        self._status = QtWidgets.QLabel("")
        self._status.setStyleSheet("color: #888;")
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self._title)
        header.addStretch(1)
        header.addWidget(self._status)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(1)
        layout.addLayout(header)
        layout.addWidget(self._graphics, 1)
        self._size: tuple[int, int] | None = None

    # -- updates (called at display rate) -----------------------------------------------------------
    def _step(self, w: int, h: int) -> int:
        """Decimation for display: draw about one image pixel per screen pixel (full coordinates are kept)."""
        vw, vh = max(1, self._graphics.width()), max(1, self._graphics.height())
        return max(1, int(min(w / vw, h / vh)))

    def set_frame(self, image: np.ndarray | None) -> None:
        """Show a (H, W, 3) BGR uint8 (or (H, W) grey) frame; ``None`` blanks the view.

        Large frames are decimated to about the widget's size before conversion; items keep image-pixel
        coordinates, so overlays are unaffected."""
        if image is None:
            self._image.clear()
            return
        h, w = image.shape[:2]
        step = self._step(w, h)
        small = cv2.resize(image, (w // step, h // step), interpolation=cv2.INTER_AREA) if step > 1 else image
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB) if small.ndim == 3 else small
        self._image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self._image.setRect(QtCore.QRectF(0, 0, w, h))
        size = (w, h)
        if size != self._size:
            self._size = size
            self._view.setRange(QtCore.QRectF(0, 0, *size), padding=0)

    def set_pose(self, keypoints: np.ndarray | None, confidence: np.ndarray | None,
                 bones: tuple[tuple[int, int], ...] = ()) -> None:
        """Draw joints (J, 2) px coloured by confidence (J,) in [0, 1], and the bones between them."""
        if keypoints is None:
            self._joints.clear()
            self._bones.setData([], [])
            return
        kp = np.asarray(keypoints, dtype=float)
        conf = np.ones(len(kp)) if confidence is None else np.clip(np.nan_to_num(confidence), 0, 1)
        ok = np.isfinite(kp).all(axis=1)
        brushes = [_CONF_BRUSHES[i] for i in np.round(conf[ok] * 20).astype(int)]
        self._joints.setData(pos=kp[ok], brush=brushes)
        segments = [kp[[a, b]] for a, b in bones if ok[a] and ok[b]]
        if segments:
            seg = np.concatenate(segments)
            self._bones.setData(seg[:, 0], seg[:, 1])
        else:
            self._bones.setData([], [])

    def set_box(self, box: np.ndarray | None, source: str | None = None) -> None:
        """Draw the person box ``(x, y, w, h)`` px labelled with where it came from (``tracked``/``detected``);
        ``None``, a NaN box or source ``"none"`` hides it."""
        if box is None or source in (None, "none") or not np.isfinite(box).all():
            self._box.setData([], [])
            self._box_label.setText("")
            return
        x, y, w, h = (float(v) for v in box)
        colour = BOX_COLOURS.get(source, BOX_COLOURS["tracked"])
        self._box.setData([x, x + w, x + w, x, x], [y, y, y + h, y + h, y], pen=pg.mkPen(colour, width=2))
        self._box_label.setColor(colour)
        self._box_label.setText(source)
        self._box_label.setPos(x, y)

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self._size is None:
            return
        p = self._view.mapSceneToView(event.scenePos())
        if 0 <= p.x() < self._size[0] and 0 <= p.y() < self._size[1]:
            self.clicked.emit(self.name, float(p.x()), float(p.y()))

    def set_token_mask(self, mask: np.ndarray | None) -> None:
        """Overlay a (H, W) map in [0, 1] of the image regions the selected pruning stage kept."""
        if mask is None:
            self._tokens.clear()
            return
        h, w = mask.shape[:2]
        step = self._step(w, h)
        self._tokens.setImage((np.clip(mask[::step, ::step], 0, 1) * 255).astype(np.uint8), autoLevels=False,
                              levels=(0, 255))
        self._tokens.setRect(QtCore.QRectF(0, 0, w, h))

    def set_points(self, points: np.ndarray | None, found: bool = True) -> None:
        """Mark generic image points (N, 2) px, e.g. detected board corners (cyan when found, red otherwise)."""
        if points is None or len(points) == 0:
            self._points.clear()
            return
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        self._points.setData(pos=pts, pen=pg.mkPen((0, 255, 255) if found else (255, 80, 80), width=1.5))

    def set_message(self, text: str) -> None:
        """A large message in the middle of the view (e.g. "camera lost"); empty text hides it."""
        self._message.setText(text)
        if self._size:
            self._message.setPos(self._size[0] / 2, self._size[1] / 2)

    @property
    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the frame shown."""
        return self._size

    def set_status(self, text: str) -> None:
        self._status.setText(text)
