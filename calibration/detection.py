"""Board detection with sub-pixel refinement, over images, folders, globs and videos.

A :class:`Detection` holds one view of the board: ``corners`` (N, 2) pixels for every board corner in the
board's own order (NaN where a ChArUco corner was not seen). Images without a board are counted, never
fatal; when a board is found nowhere, :meth:`DetectionSet.require_board` raises :class:`BoardNotFoundError`
with the likely causes (wrong corner count, inner vs outer corners, wrong ArUco dictionary).
"""

from __future__ import annotations

import glob as globmod
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from calibration.boards import ARUCO_DICTIONARIES, Board, Checkerboard, CharucoBoard

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
MIN_CHARUCO_CORNERS = 6
_CLASSIC_FLAGS = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
_SEARCH_MAX_SIDE = 2000  # search on a downscaled copy above this size; refine at full resolution


class BoardNotFoundError(ValueError):
    """The board was found in none of the images: the message names the spec and the likely causes."""


@dataclass(frozen=True)
class Detection:
    """One view of the board.

    Attributes:
        corners: (N, 2) pixel positions of the board's N corners, in board order; NaN where not seen.
        image_size: (width, height) of the image in pixels.
        frame: frame index in its sequence (sorted file order, or the video frame number).
        source: file name (and ``#frame`` for a video).
        camera: camera name, when known.
    """

    corners: np.ndarray
    image_size: tuple[int, int]
    frame: int = 0
    source: str = ""
    camera: str | None = None

    @property
    def mask(self) -> np.ndarray:
        """Which corners were seen, (N,) bool."""
        return np.isfinite(self.corners).all(axis=1)

    @property
    def ids(self) -> np.ndarray:
        """Indices of the corners seen, (M,)."""
        return np.flatnonzero(self.mask)

    @property
    def num_found(self) -> int:
        return int(self.mask.sum())

    def with_corners(self, corners: np.ndarray) -> "Detection":
        return Detection(np.asarray(corners, np.float64), self.image_size, self.frame, self.source, self.camera)


@dataclass
class DetectionSet:
    """The detections of one camera over a set of frames, with what was skipped and why."""

    camera: str
    detections: list[Detection] = field(default_factory=list)
    frames_read: int = 0
    without_board: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    image_size: tuple[int, int] | None = None
    board: Board | None = None
    sources: list[str] = field(default_factory=list)
    most_corners_seen: int = 0
    inverted_views: int = 0
    _sample_images: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def num_views(self) -> int:
        return len(self.detections)

    def summary(self) -> str:
        text = f"{self.camera}: board found in {self.num_views} of {self.frames_read} frames"
        if self.inverted_views:
            text += f" ({self.inverted_views} printed inverted: white on black)"
        if self.unreadable:
            text += f", {len(self.unreadable)} unreadable"
        glimpse = self.partial_view()
        if glimpse:
            text += f"; {glimpse}"
        return text

    def partial_view(self) -> str:
        """What a camera that never saw enough of the board did see ('' when it saw enough somewhere)."""
        if self.detections or not self.most_corners_seen or not isinstance(self.board, CharucoBoard):
            return ""
        return (f"only part of the board: at most {self.most_corners_seen} of its {self.board.num_corners} corners "
                f"in one frame (a corner or an edge of it); a view needs {MIN_CHARUCO_CORNERS} corners over two "
                "rows and two columns: turn or move the camera or the board so more of it is in view")

    def require_board(self) -> "DetectionSet":
        """Raise :class:`BoardNotFoundError` (or ``FileNotFoundError``) when no view was found."""
        if self.detections:
            return self
        where = ", ".join(self.sources) or self.camera
        if self.frames_read == 0:
            bad = f" ({len(self.unreadable)} unreadable: {', '.join(self.unreadable[:3])})" if self.unreadable else ""
            raise FileNotFoundError(f"camera {self.camera}: no readable image or video frame in {where}{bad}")
        hint = self.partial_view() or (diagnose_board(self._sample_images, self.board) if self.board is not None
                                       else "")
        raise BoardNotFoundError(
            f"camera {self.camera}: the board ({self.board.describe() if self.board else '?'}) was not found in "
            f"any of {self.frames_read} frames of {where}. {hint}"
        )


# ------------------------------------------------------------------------------------------------
# Single image
def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR/BGRA/grey image -> grey uint8 (H, W)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.ndim != 2:
        raise ValueError(f"image: expected (H, W) or (H, W, 3), got shape {np.shape(image)}")
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return img


def _subpix_window(corners: np.ndarray, board: Board) -> int:
    """Half-size of the cornerSubPix window: about a third of the smallest corner spacing, 2..11 px."""
    grid = np.full((board.rows, board.cols, 2), np.nan)
    grid.reshape(-1, 2)[:] = corners
    dx = np.linalg.norm(np.diff(grid, axis=1), axis=-1)
    dy = np.linalg.norm(np.diff(grid, axis=0), axis=-1)
    spacing = np.nanmin(np.concatenate([dx.ravel(), dy.ravel(), [np.inf]]))
    if not np.isfinite(spacing):
        return 5
    return int(np.clip(spacing * 0.35, 2, 11))


def _refine(gray: np.ndarray, corners: np.ndarray, board: Board, window: int | None = None) -> np.ndarray:
    win = window or _subpix_window(corners, board)
    ok = np.isfinite(corners).all(axis=1)
    pts = corners[ok].astype(np.float32).reshape(-1, 1, 2)
    term = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    refined = cv2.cornerSubPix(gray, pts, (win, win), (-1, -1), term).reshape(-1, 2)
    out = corners.copy()
    out[ok] = refined
    return out


def _find_checkerboard(gray: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """Classic detector (full resolution, then half), then the sector-based one; corners (N, 2) or None."""
    h, w = gray.shape
    scales = []
    s0 = min(1.0, _SEARCH_MAX_SIDE / max(h, w))
    scales.append(s0)
    if max(h, w) * s0 > 1000:
        scales.append(s0 / 2)
    for method in ("classic", "sb"):
        for s in scales if method == "classic" else scales[-1:]:
            img = gray if s == 1.0 else cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            if method == "classic":
                found, c = cv2.findChessboardCorners(img, pattern, flags=_CLASSIC_FLAGS)
            else:
                found, c = cv2.findChessboardCornersSB(img, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE)
            if found:
                c = c.reshape(-1, 2).astype(np.float64)
                # Pixel-centre convention: a point at x in the small image is at (x + 0.5) / s - 0.5.
                return (c + 0.5) / s - 0.5
    return None


def detect_board(image: np.ndarray, board: Board, *, frame: int = 0, source: str = "",
                 camera: str | None = None, subpix_window: int | None = None,
                 seen: dict | None = None) -> Detection | None:
    """Find the board in one image (grey or BGR); sub-pixel corners, or None when it is not there.

    ``subpix_window``: half-size of OpenCV's ``cornerSubPix`` window; by default about a third of the
    smallest corner spacing (2..11 px), so the window never reaches a neighbouring corner (OpenCV's
    samples use a fixed 11, which biases views where squares are small). ChArUco boards are found in either
    polarity (printed normally or inverted); ``seen``, when given, receives ``corners`` (how many ChArUco corners
    were seen, even too few for a view) and ``inverted`` (the board was white on black).
    """
    gray = to_gray(image)
    size = (gray.shape[1], gray.shape[0])
    if isinstance(board, Checkerboard):
        corners = _find_checkerboard(gray, board.pattern_size)
        if corners is None:
            return None
        corners = _refine(gray, corners, board, subpix_window)
    elif isinstance(board, CharucoBoard):
        corners, count, inverted = _find_charuco(gray, board)
        if seen is not None:
            seen.update(corners=count, inverted=inverted)
        if corners is None:
            return None
    else:
        raise ValueError(f"board: expected a Checkerboard or CharucoBoard, got {type(board).__name__}")
    return Detection(corners, size, frame, source, camera)


_charuco_cache: dict = {}


def _charuco_detector(board: CharucoBoard):
    key = board
    if key not in _charuco_cache:
        params = cv2.aruco.CharucoParameters()
        params.tryRefineMarkers = True
        det_params = cv2.aruco.DetectorParameters()
        det_params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        _charuco_cache[key] = cv2.aruco.CharucoDetector(board.cv_board(), params, det_params)
    return _charuco_cache[key]


def _find_charuco(gray: np.ndarray, board: CharucoBoard) -> tuple[np.ndarray | None, int, bool]:
    """(corners (N, 2) or None, ChArUco corners seen, found inverted): the board's printed polarity is tried first,
    the other when it shows too little (a board printed white on black has inverted markers and squares)."""
    best = (None, 0, board.inverted)
    for inverted in (board.inverted, not board.inverted):
        corners, count = _charuco_corners(255 - gray if inverted else gray, board)
        if corners is not None:
            return corners, count, inverted
        if count > best[1]:
            best = (None, count, inverted)
    return best


def _charuco_corners(gray: np.ndarray, board: CharucoBoard) -> tuple[np.ndarray | None, int]:
    ch_corners, ch_ids, _, _ = _charuco_detector(board).detectBoard(gray)
    count = 0 if ch_ids is None else len(ch_ids)
    if count < MIN_CHARUCO_CORNERS:
        return None, count
    corners = np.full((board.num_corners, 2), np.nan)
    corners[np.asarray(ch_ids).ravel()] = np.asarray(ch_corners, np.float64).reshape(-1, 2)
    # Corners in one straight line give no pose: require two rows and two columns.
    ids = np.asarray(ch_ids).ravel()
    if len(np.unique(ids % board.cols)) < 2 or len(np.unique(ids // board.cols)) < 2:
        return None, count
    # OpenCV already refines ChArUco corners with a window that avoids the markers; a second, wider
    # cornerSubPix pass would reach into the markers and bias them.
    return corners, count


def diagnose_board(images: list[np.ndarray], board: Board) -> str:
    """Why might a board be found nowhere? Try nearby specs on a few images and say what was seen."""
    if not images:
        return ""
    small = []
    for img in images[:3]:
        s = min(1.0, 1000 / max(img.shape))
        small.append(cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else img)
    if isinstance(board, Checkerboard):
        c, r = board.cols, board.rows
        tries = [(c - 1, r - 1, "you may have counted squares, not inner corners"),
                 (c + 1, r + 1, "you may have counted outer corners or squares minus two"),
                 (c - 1, r, ""), (c, r - 1, ""), (c + 1, r, ""), (c, r + 1, "")]
        for cc, rr, why in tries:
            if cc < 2 or rr < 2:
                continue
            for img in small:
                found, _ = cv2.findChessboardCorners(img, (cc, rr), flags=_CLASSIC_FLAGS)
                if found:
                    return (f"A board with {cc}x{rr} inner corners IS visible: use --board {cc}x{rr}"
                            + (f" ({why})." if why else ".")
                            + " Inner corners are where four squares meet: 10x7 squares = 9x6 inner corners.")
        return ("Check: (1) the spec counts INNER corners (where four squares meet; 10x7 squares = 9x6), "
                "(2) the whole board is visible, flat, sharp and well lit in some images, "
                "(3) the board has a white border around it, (4) it is not a ChArUco board (use charuco:SxS).")
    # ChArUco: are there markers at all, and of which dictionary?
    seen = {}
    for name in ARUCO_DICTIONARIES:
        if "APRILTAG" in name or "MIP" in name:
            continue
        detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, "DICT_" + name)))
        count = sum(len(detector.detectMarkers(img)[1] if detector.detectMarkers(img)[1] is not None else [])
                    for img in small)
        if count:
            seen[name] = count
    if not seen:
        return ("No ArUco markers of any common dictionary were seen: is it a ChArUco board, in focus and lit, "
                "and large enough in the image? (A plain checkerboard is given as --board COLSxROWS.)")
    best = max(seen, key=seen.get)
    if best != board.dictionary and seen[best] > seen.get(board.dictionary, 0):
        return f"Markers of dictionary {best} were found ({seen[best]}): use --dictionary {best}."
    return (f"Markers of {board.dictionary} were found but no board corners: check the square count "
            f"({board.squares_x}x{board.squares_y} squares), the marker/square sizes and --legacy for "
            "boards printed with OpenCV < 4.6 that have an even number of rows.")


# ------------------------------------------------------------------------------------------------
# Sources: files, folders, globs, videos
def _natural_key(path: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(path))]


def expand_source(source: str | Path) -> list[Path]:
    """A file, folder or glob -> sorted list of image/video files (natural sort: frame2 before frame10)."""
    text = str(source)
    path = Path(text)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES]
        if not files:
            raise FileNotFoundError(f"no images or videos in folder {path} (looked for {sorted(IMAGE_SUFFIXES)})")
    elif path.exists():
        files = [path]
    elif any(ch in text for ch in "*?["):
        files = [Path(p) for p in globmod.glob(text) if Path(p).is_file()]
        if not files:
            raise FileNotFoundError(f"no files match {text}")
    else:
        raise FileNotFoundError(f"image, folder, glob or video not found: {text}")
    return sorted(files, key=lambda p: _natural_key(str(p)))


def video_frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def iter_frames(sources: Iterable[str | Path], *, stride: int | None = None,
                max_frames: int = 300) -> Iterator[tuple[int, str, np.ndarray | None]]:
    """Yield ``(frame_index, name, grey image or None if unreadable)`` over images and videos.

    Images are numbered in sorted order; video frames by their number in the video, every ``stride``-th
    (default: enough to sample about ``max_frames`` frames over the whole video, for coverage).
    """
    index = 0
    for source in sources:
        for path in expand_source(source):
            if path.suffix.lower() in VIDEO_SUFFIXES:
                cap = cv2.VideoCapture(str(path))
                if not cap.isOpened():
                    yield index, str(path), None
                    index += 1
                    continue
                count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                step = stride or max(1, math.ceil(count / max_frames)) if count > 0 else (stride or 1)
                k = 0
                try:
                    while True:
                        if k % step == 0:
                            ok, img = cap.read()
                            if not ok:
                                break
                            yield k, f"{path}#{k}", to_gray(img)
                        elif not cap.grab():
                            break
                        k += 1
                finally:
                    cap.release()
                index += 1
            else:
                img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
                yield index, str(path), img
                index += 1


def detect_in_sources(sources: Iterable[str | Path], board: Board, *, camera: str = "camera",
                      stride: int | None = None, max_frames: int = 300, subpix_window: int | None = None,
                      progress: Callable[[int, int | None], None] | None = None) -> DetectionSet:
    """Detect the board in every frame of ``sources`` (files, folders, globs, videos) of one camera.

    Frames without a board and unreadable files are counted and listed (logged), not fatal. Call
    :meth:`DetectionSet.require_board` to turn "nothing found" into an explanatory error.
    """
    sources = [str(s) for s in sources]
    result = DetectionSet(camera=camera, board=board, sources=sources)
    for frame, name, gray in iter_frames(sources, stride=stride, max_frames=max_frames):
        if progress is not None:
            progress(1, None)
        if gray is None:
            result.unreadable.append(name)
            log.warning("camera %s: cannot read %s (not an image or video, or corrupt); skipped", camera, name)
            continue
        size = (gray.shape[1], gray.shape[0])
        if result.image_size is None:
            result.image_size = size
        elif size != result.image_size:
            raise ValueError(f"camera {camera}: {name} is {size[0]}x{size[1]} px but earlier frames are "
                             f"{result.image_size[0]}x{result.image_size[1]}; one camera, one image size")
        result.frames_read += 1
        seen: dict = {}
        det = detect_board(gray, board, frame=frame, source=name, camera=camera, subpix_window=subpix_window,
                           seen=seen)
        result.most_corners_seen = max(result.most_corners_seen, int(seen.get("corners", 0)))
        if det is not None and seen.get("inverted"):
            result.inverted_views += 1
        if det is None:
            result.without_board.append(name)
            if len(result._sample_images) < 3:
                result._sample_images.append(gray)
        else:
            result.detections.append(det)
    log.debug("%s", result.summary())
    if result.without_board:
        log.info("camera %s: no board in %d frame(s), e.g. %s", camera, len(result.without_board),
                 Path(result.without_board[0]).name)
    return result


def count_frames(sources: Iterable[str | Path], *, stride: int | None = None, max_frames: int = 300) -> int:
    """How many frames :func:`iter_frames` will yield (for progress bars)."""
    total = 0
    for source in sources:
        for path in expand_source(source):
            if path.suffix.lower() in VIDEO_SUFFIXES:
                n = video_frame_count(path)
                step = stride or max(1, math.ceil(n / max_frames))
                total += math.ceil(n / step) if n > 0 else 1
            else:
                total += 1
    return total


def synchronized_stride(sources_by_camera: dict[str, list[str]], max_frames: int = 300) -> int | None:
    """One video sampling step for all cameras (so sampled frame numbers match), or None without videos."""
    counts = [video_frame_count(p) for srcs in sources_by_camera.values() for s in srcs for p in expand_source(s)
              if p.suffix.lower() in VIDEO_SUFFIXES]
    counts = [c for c in counts if c > 0]
    if not counts:
        return None
    return max(1, math.ceil(min(counts) / max_frames))
