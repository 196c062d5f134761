"""Calibration boards: plain checkerboards and ChArUco boards, their 3D corner layout and printable images.

Board frame: origin at the first inner corner, ``x`` along the columns, ``y`` along the rows, ``z = x × y``
(into the board when its printed side faces the camera), lengths in **metres** whatever unit the user
typed (the unit is kept only to describe the board back to the user).

A checkerboard is named by its **inner corners** (where four squares meet): a board of 10 x 7 squares is
``9x6``. A ChArUco board is named by its **squares** (as OpenCV and FreeMoCap do): ``5x7`` squares has
4 x 6 = 24 inner corners, each identified by the ArUco markers around it.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.geometry.camera import UNIT_SCALE_TO_M

log = logging.getLogger(__name__)

ARUCO_DICTIONARIES = tuple(sorted(n[5:] for n in dir(cv2.aruco) if n.startswith("DICT_") and n[5:].upper() == n[5:]))
PAPER_SIZES_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0), "A2": (420.0, 594.0), "A1": (594.0, 841.0),
                  "A0": (841.0, 1189.0), "LETTER": (215.9, 279.4), "TABLOID": (279.4, 431.8)}


def parse_length(text: str | float, default_unit: str = "m") -> tuple[float, str]:
    """A length such as ``0.025``, ``"25mm"``, ``"2.5 cm"`` -> (value in metres, unit as typed).

    A bare number is in ``default_unit``; a bare number above 1 m is refused as a likely mm/m mix-up.
    """
    if isinstance(text, (int, float)):
        value, unit = float(text), default_unit
        bare = True
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(mm|cm|m)?\s*", str(text))
        if not match:
            raise ValueError(f"length {text!r}: expected a number with an optional unit, e.g. 0.025, 25mm, 2.5cm")
        value, unit = float(match.group(1)), match.group(2) or default_unit
        bare = match.group(2) is None
    if value <= 0:
        raise ValueError(f"length {text!r}: must be positive")
    metres = value * UNIT_SCALE_TO_M[unit]
    if bare and unit == "m" and metres > 1.0:
        raise ValueError(
            f"square size {text!r} would be {metres:g} m; lengths are in metres unless a unit is given. "
            f"Did you mean {value:g}mm (write --square {value:g}mm)?"
        )
    return metres, unit


@dataclass(frozen=True)
class Checkerboard:
    """A plain checkerboard.

    Attributes:
        cols: inner corners along a row (the long side usually).
        rows: inner corners along a column.
        square: square side in metres.
        units: the unit the user gave the square in (display only).
    """

    cols: int
    rows: int
    square: float
    units: str = "m"

    kind = "checkerboard"

    def __post_init__(self) -> None:
        if self.cols < 2 or self.rows < 2:
            raise ValueError(
                f"checkerboard {self.cols}x{self.rows}: needs at least 2x2 inner corners "
                "(count the points where four squares meet, not the squares)"
            )
        if not self.square > 0:
            raise ValueError(f"checkerboard square size must be positive, got {self.square}")
        if self.units not in UNIT_SCALE_TO_M:
            raise ValueError(f"board units must be one of {sorted(UNIT_SCALE_TO_M)}, got {self.units!r}")

    @property
    def pattern_size(self) -> tuple[int, int]:
        """OpenCV ``patternSize``: (inner corners per row, per column)."""
        return (self.cols, self.rows)

    @property
    def num_corners(self) -> int:
        return self.cols * self.rows

    @property
    def squares(self) -> tuple[int, int]:
        """Squares along x and y: one more than the inner corners."""
        return (self.cols + 1, self.rows + 1)

    def object_points(self) -> np.ndarray:
        """Corner positions in the board frame (N, 3), metres, in OpenCV's detection order (row by row)."""
        j, i = np.meshgrid(np.arange(self.cols), np.arange(self.rows))
        return np.stack([j.ravel() * self.square, i.ravel() * self.square, np.zeros(j.size)], axis=1)

    def symmetries(self) -> list[np.ndarray]:
        """Corner-index permutations (each (N,)) under which the board's corners look the same, identity first.

        A chessboard's corner order is only defined up to these: OpenCV may start from any outer corner, so
        the rows and/or the columns can come reversed (for a flat board each is a rigid 180° turn about
        the board's z, x or y axis), and a square board also allows transposed orders. The extrinsics
        solver uses them to undo order flips between cameras.
        """
        grid = np.arange(self.num_corners).reshape(self.rows, self.cols)
        views = [grid, grid[:, ::-1], grid[::-1, :], grid[::-1, ::-1]]
        if self.cols == self.rows:
            views += [v.T for v in views]
        return [np.ascontiguousarray(v).ravel() for v in views]

    def describe(self) -> str:
        sq = self.square / UNIT_SCALE_TO_M[self.units]
        return (f"checkerboard {self.cols}x{self.rows} inner corners ({self.cols + 1}x{self.rows + 1} squares), "
                f"square {sq:g} {self.units}")

    def to_dict(self) -> dict:
        """The board as plain values (for the TOML ``[metadata.board]`` table)."""
        return {"type": self.kind, "cols": self.cols, "rows": self.rows, "square_m": self.square,
                "units": self.units}

    def render(self, px_per_square: int = 100, margin_squares: float = 0.5) -> np.ndarray:
        """The board as a grey image (H, W) uint8 with a white margin; top-left square black."""
        sx, sy = self.squares
        cells = (np.add.outer(np.arange(sy), np.arange(sx)) % 2 == 1)
        board = np.where(cells, 255, 0).astype(np.uint8)
        board = np.repeat(np.repeat(board, px_per_square, axis=0), px_per_square, axis=1)
        m = int(round(margin_squares * px_per_square))
        return cv2.copyMakeBorder(board, m, m, m, m, cv2.BORDER_CONSTANT, value=255)

    def render_corner_pixels(self, px_per_square: int = 100, margin_squares: float = 0.5) -> np.ndarray:
        """Pixel positions (N, 2) of the inner corners in :meth:`render`'s image (pixel-centre convention)."""
        m = int(round(margin_squares * px_per_square))
        obj = self.object_points()[:, :2] / self.square
        return (obj + 1.0) * px_per_square + m - 0.5


@dataclass(frozen=True)
class CharucoBoard:
    """A ChArUco board: a checkerboard with ArUco markers in the white squares.

    Attributes:
        squares_x: squares along x (columns of squares).
        squares_y: squares along y.
        square: square side in metres.
        marker: marker side in metres (smaller than ``square``).
        dictionary: ArUco dictionary name, e.g. ``"4X4_50"`` (``DICT_`` prefix optional).
        units: the unit the user gave the lengths in (display only).
        legacy: OpenCV's pre-4.6 layout for even row counts (boards printed with old OpenCV).
        inverted: printed inverted (white markers and squares on black, Caliscope's ``inverted = true``).
            Detection finds either polarity; this only decides which is tried first and how the board renders.
    """

    squares_x: int
    squares_y: int
    square: float
    marker: float
    dictionary: str = "4X4_50"
    units: str = "m"
    legacy: bool = False
    inverted: bool = False

    kind = "charuco"

    def __post_init__(self) -> None:
        name = self.dictionary.upper().removeprefix("DICT_")
        object.__setattr__(self, "dictionary", name)
        if name not in ARUCO_DICTIONARIES:
            raise ValueError(f"unknown ArUco dictionary {self.dictionary!r}; expected one of {ARUCO_DICTIONARIES}")
        if self.squares_x < 2 or self.squares_y < 2:
            raise ValueError(f"ChArUco board needs at least 2x2 squares, got {self.squares_x}x{self.squares_y}")
        if not 0 < self.marker < self.square:
            raise ValueError(f"ChArUco marker size must be between 0 and the square size ({self.square}), "
                             f"got {self.marker}")
        n_markers = (self.squares_x * self.squares_y) // 2
        capacity = int(re.search(r"_(\d+)$", name).group(1)) if re.search(r"_(\d+)$", name) else 10**6
        if n_markers > capacity:
            raise ValueError(f"a {self.squares_x}x{self.squares_y} ChArUco board needs {n_markers} markers but "
                             f"dictionary {name} has only {capacity}")

    def cv_board(self):
        """The OpenCV ``cv2.aruco.CharucoBoard`` (built on demand; not picklable)."""
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, "DICT_" + self.dictionary))
        board = cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square, self.marker, dictionary)
        board.setLegacyPattern(self.legacy)
        return board

    @property
    def cols(self) -> int:
        return self.squares_x - 1

    @property
    def rows(self) -> int:
        return self.squares_y - 1

    @property
    def num_corners(self) -> int:
        return self.cols * self.rows

    @property
    def squares(self) -> tuple[int, int]:
        return (self.squares_x, self.squares_y)

    def object_points(self) -> np.ndarray:
        """Corner positions (N, 3) in metres indexed by ChArUco corner id, origin at the first inner corner."""
        pts = np.asarray(self.cv_board().getChessboardCorners(), dtype=np.float64).reshape(-1, 3)
        return pts - pts[0]

    def symmetries(self) -> list[np.ndarray]:
        """Markers identify every corner: only the identity."""
        return [np.arange(self.num_corners)]

    def describe(self) -> str:
        s = 1 / UNIT_SCALE_TO_M[self.units]
        return (f"ChArUco {self.squares_x}x{self.squares_y} squares ({self.cols}x{self.rows} inner corners), "
                f"square {self.square * s:g} {self.units}, marker {self.marker * s:g} {self.units}, "
                f"dictionary {self.dictionary}" + (", printed inverted" if self.inverted else ""))

    def to_dict(self) -> dict:
        return {"type": self.kind, "squares_x": self.squares_x, "squares_y": self.squares_y,
                "square_m": self.square, "marker_m": self.marker, "dictionary": self.dictionary,
                "units": self.units, "legacy": self.legacy, "inverted": self.inverted}

    def render(self, px_per_square: int = 100, margin_squares: float = 0.5) -> np.ndarray:
        m = int(round(margin_squares * px_per_square))
        size = (self.squares_x * px_per_square + 2 * m, self.squares_y * px_per_square + 2 * m)
        image = self.cv_board().generateImage(size, marginSize=m, borderBits=1)
        return 255 - image if self.inverted else image

    def render_corner_pixels(self, px_per_square: int = 100, margin_squares: float = 0.5) -> np.ndarray:
        m = int(round(margin_squares * px_per_square))
        obj = self.object_points()[:, :2] / self.square
        return (obj + 1.0) * px_per_square + m - 0.5


Board = Checkerboard | CharucoBoard


def make_board(spec: str, square: str | float, *, marker: str | float | None = None,
               dictionary: str | None = None, legacy: bool = False, inverted: bool = False) -> Board:
    """Build a board from command-line style values.

    Args:
        spec: ``"9x6"`` (checkerboard inner corners) or ``"charuco:5x7"`` (ChArUco squares).
        square: square side, ``0.025`` (metres) or ``"25mm"``.
        marker: ChArUco marker side (default 0.75 x square).
        dictionary: ChArUco dictionary (default ``4X4_50``; any one given makes the board ChArUco).
        legacy, inverted: ChArUco printed by OpenCV < 4.6 with an even row count; printed white on black.
    """
    text = spec.strip().lower()
    charuco = text.startswith("charuco:") or dictionary is not None or marker is not None or inverted
    text = text.removeprefix("charuco:")
    match = re.fullmatch(r"(\d+)\s*[x*,]\s*(\d+)", text)
    if not match:
        raise ValueError(f"board {spec!r}: expected COLSxROWS such as 9x6 (inner corners) or charuco:5x7 (squares)")
    a, b = int(match.group(1)), int(match.group(2))
    sq, unit = parse_length(square)
    if charuco:
        mk = parse_length(marker, unit)[0] if marker is not None else 0.75 * sq
        return CharucoBoard(a, b, sq, mk, dictionary or "4X4_50", units=unit, legacy=legacy, inverted=inverted)
    return Checkerboard(a, b, sq, units=unit)


CM_PER_INCH = 2.54


def load_board_file(path) -> Board:
    """A board definition file: Caliscope's ``charuco.toml`` (``columns``/``rows`` squares, ``board_width``/
    ``board_height`` in ``units`` "inch" or "cm", ``aruco_scale`` = marker / square, the printed square in
    ``square_size_overide_cm`` (its spelling) or ``square_size_override_cm``, ``dictionary``, ``inverted``,
    ``legacy_pattern``), or a board ppt-mocap wrote (``board.to_dict()`` as TOML or JSON)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"board file not found: {path}")
    try:
        data = tomllib.loads(path.read_text()) if path.suffix.lower() == ".toml" else json.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable board file ({exc})") from exc
    if "type" in data:
        return board_from_dict(data)
    if "columns" in data and "rows" in data:
        return _caliscope_charuco(data, path)
    raise ValueError(f"{path}: unknown board file; expected Caliscope's charuco.toml (columns, rows, board_width, "
                     f"board_height, units, dictionary, ...) or a ppt-mocap board (type, ...); got keys {sorted(data)}")


def _caliscope_charuco(d: dict, path: Path) -> CharucoBoard:
    """Caliscope's board: its square is the printed size when given, else the largest that fits the sheet."""
    try:
        columns, rows = int(d["columns"]), int(d["rows"])
        override = d.get("square_size_override_cm", d.get("square_size_overide_cm"))
        if override:
            square_m = float(override) / 100
        else:
            per_cm = CM_PER_INCH if str(d.get("units", "inch")) == "inch" else 1.0
            square_m = min(float(d["board_height"]) * per_cm / rows, float(d["board_width"]) * per_cm / columns) / 100
        marker_m = square_m * float(d.get("aruco_scale", 0.75))
        return CharucoBoard(columns, rows, square_m, marker_m, str(d.get("dictionary", "DICT_4X4_50")), units="cm",
                            legacy=bool(d.get("legacy_pattern", False)), inverted=bool(d.get("inverted", False)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: Caliscope charuco.toml: {exc}") from exc


def board_from_dict(d: dict) -> Board:
    """Inverse of ``board.to_dict()``."""
    if d.get("type") == "charuco":
        return CharucoBoard(int(d["squares_x"]), int(d["squares_y"]), float(d["square_m"]), float(d["marker_m"]),
                            str(d["dictionary"]), units=str(d.get("units", "m")), legacy=bool(d.get("legacy", False)),
                            inverted=bool(d.get("inverted", False)))
    return Checkerboard(int(d["cols"]), int(d["rows"]), float(d["square_m"]), units=str(d.get("units", "m")))


# ------------------------------------------------------------------------------------------------
# Printable boards
def write_board(board: Board, path, paper: str = "A4", dpi: int = 300, margin_mm: float = 10.0) -> dict:
    """Write a printable board to ``path`` (``.png`` or ``.pdf``), at true scale on ``paper``.

    The board is centred, with its spec, the square size to check with a ruler, and "print at 100 % /
    actual size" written in the margin. Returns a summary (paper, orientation, board size in mm).
    Raises ``ValueError`` when the board does not fit on the paper.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ValueError(f"board output {path}: expected a .png or .pdf file name")
    key = paper.upper()
    if key not in PAPER_SIZES_MM:
        raise ValueError(f"paper {paper!r}: expected one of {sorted(PAPER_SIZES_MM)}")
    sx, sy = board.squares
    board_w, board_h = sx * board.square * 1000, sy * board.square * 1000
    pw, ph = PAPER_SIZES_MM[key]
    text_band = 9.0
    fits = lambda w, h: board_w + 2 * margin_mm <= w and board_h + 2 * margin_mm + text_band <= h  # noqa: E731
    if fits(pw, ph):
        orientation = "portrait"
    elif fits(ph, pw):
        pw, ph, orientation = ph, pw, "landscape"
    else:
        raise ValueError(
            f"{board.describe()} is {board_w:.0f} x {board_h:.0f} mm and does not fit on {key} "
            f"({PAPER_SIZES_MM[key][0]:.0f} x {PAPER_SIZES_MM[key][1]:.0f} mm with {margin_mm:g} mm margins): "
            "use a larger paper or a smaller square"
        )
    px_per_mm = dpi / 25.4
    page = np.full((int(round(ph * px_per_mm)), int(round(pw * px_per_mm))), 255, np.uint8)
    # Board pixels: an integer number of pixels per square so every square has the same size.
    pps = max(1, int(round(board.square * 1000 * px_per_mm)))
    img = board.render(px_per_square=pps, margin_squares=0.0)
    y0 = int(round((margin_mm + text_band) * px_per_mm))
    x0 = int(round((page.shape[1] - img.shape[1]) / 2))
    page[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
    lines = [board.describe(),
             f"Print at 100% / actual size on {key}. Check with a ruler: one square = "
             f"{board.square * 1000:g} mm; the board = {board_w:.1f} x {board_h:.1f} mm. Glue it flat on a rigid board."]
    scale = 0.75 * dpi / 300
    for k, line in enumerate(lines):
        y = int(round((margin_mm + 3.0 + k * 4.5) * px_per_mm))
        cv2.putText(page, line, (int(margin_mm * px_per_mm), y), cv2.FONT_HERSHEY_SIMPLEX, scale, 0,
                    max(1, int(round(2 * dpi / 300))), cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        if not cv2.imwrite(str(path), page):
            raise ValueError(f"could not write {path}")
    else:
        _write_pdf_image(page, path, pw, ph)
    log.info("wrote %s (%s %s)", path, key, orientation)
    return {"paper": key, "orientation": orientation, "board_mm": (round(board_w, 2), round(board_h, 2)),
            "dpi": dpi, "path": str(path)}


def _write_pdf_image(gray: np.ndarray, path: Path, width_mm: float, height_mm: float) -> None:
    """A one-page PDF showing a grey image stretched to exactly ``width_mm`` x ``height_mm`` (no resampling)."""
    h, w = gray.shape
    pt_w, pt_h = width_mm / 25.4 * 72, height_mm / 25.4 * 72
    data = zlib.compress(np.ascontiguousarray(gray).tobytes(), 9)
    content = f"q {pt_w:.4f} 0 0 {pt_h:.4f} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pt_w:.4f} {pt_h:.4f}] "
         f"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>").encode(),
        (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
         f"/BitsPerComponent 8 /Interpolate false /Filter /FlateDecode /Length {len(data)} >>\nstream\n").encode()
        + data + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
