import numpy as np
import pytest

from calibration.boards import Checkerboard, CharucoBoard, board_from_dict, make_board, parse_length, write_board
from calibration.detection import detect_board
from calibration.extrinsics import _kabsch


def test_parse_length_units_and_mm_m_mixup():
    assert parse_length("25mm") == (pytest.approx(0.025), "mm")
    assert parse_length("2.5 cm")[0] == pytest.approx(0.025)
    assert parse_length(0.025) == (0.025, "m")
    with pytest.raises(ValueError, match="25mm"):
        parse_length("25")  # 25 m squares: surely millimetres
    with pytest.raises(ValueError, match="expected a number"):
        parse_length("abc")


def test_make_board_specs():
    b = make_board("9x6", "0.025")
    assert isinstance(b, Checkerboard) and b.pattern_size == (9, 6) and b.num_corners == 54
    c = make_board("charuco:5x7", "30mm", dictionary="DICT_4X4_50")
    assert isinstance(c, CharucoBoard) and c.num_corners == 24 and c.dictionary == "4X4_50"
    assert c.marker == pytest.approx(0.0225)
    assert board_from_dict(b.to_dict()) == b and board_from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="COLSxROWS"):
        make_board("nine by six", 0.025)
    with pytest.raises(ValueError, match="inner corners"):
        Checkerboard(1, 6, 0.025)
    with pytest.raises(ValueError, match="dictionary"):
        make_board("charuco:5x7", 0.03, dictionary="9X9_1")


def test_object_points_shape_and_spacing():
    b = Checkerboard(9, 6, 0.025)
    obj = b.object_points()
    assert obj.shape == (54, 3)
    assert np.allclose(obj[1] - obj[0], [0.025, 0, 0]) and np.allclose(obj[9] - obj[0], [0, 0.025, 0])
    ch = CharucoBoard(5, 7, 0.04, 0.03)
    assert ch.object_points().shape == (24, 3) and np.allclose(ch.object_points()[0], 0)


@pytest.mark.parametrize("board", [Checkerboard(9, 6, 0.025), Checkerboard(5, 5, 0.03)])
def test_symmetries_are_rigid_motions(board):
    obj = board.object_points()
    perms = board.symmetries()
    assert len(perms) == (8 if board.cols == board.rows else 4)
    assert np.array_equal(perms[0], np.arange(board.num_corners))
    for p in perms:
        assert sorted(p) == list(range(board.num_corners))
        T = _kabsch(obj, obj[p])
        assert np.allclose(obj @ T[:3, :3].T + T[:3, 3], obj[p], atol=1e-9)


def test_rendered_checkerboard_detected_at_subpixel_accuracy():
    b = Checkerboard(9, 6, 0.025)
    img = b.render(px_per_square=40, margin_squares=1.0)
    det = detect_board(img, b)
    truth = b.render_corner_pixels(40, 1.0)
    err = np.linalg.norm(det.corners - truth, axis=1)
    if err.mean() > 1:  # the order may start from the opposite corner
        err = np.linalg.norm(det.corners[::-1] - truth, axis=1)
    assert det.corners.shape == (54, 2) and err.max() < 0.1


def test_charuco_partial_view_gives_identified_corners():
    b = CharucoBoard(5, 7, 0.04, 0.03)
    img = b.render(px_per_square=60, margin_squares=0.5)
    truth = b.render_corner_pixels(60, 0.5)
    half = img.copy()
    half[:, img.shape[1] // 2 + 30:] = 255  # hide the right part
    det = detect_board(half, b)
    assert det is not None and 6 <= det.num_found < b.num_corners
    assert np.isnan(det.corners[~det.mask]).all()
    assert np.abs(det.corners[det.mask] - truth[det.mask]).max() < 0.3


def test_write_board_png_and_pdf(tmp_path):
    b = make_board("6x4", "30mm")
    info = write_board(b, tmp_path / "b.pdf", paper="a4")
    data = (tmp_path / "b.pdf").read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    assert info["board_mm"] == (210.0, 150.0)
    assert b"/MediaBox [0 0 841.8898 595.2756]" in data or b"/MediaBox [0 0 595.2756 841.8898]" in data
    write_board(b, tmp_path / "b.png", dpi=100)
    import cv2

    page = cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_GRAYSCALE)
    assert page.shape[0] == pytest.approx(210 / 25.4 * 100, abs=2) or page.shape[1] == pytest.approx(210 / 25.4 * 100, abs=2)
    det = detect_board(page, b)  # the printed board is detectable
    assert det is not None and det.num_found == b.num_corners
    with pytest.raises(ValueError, match="does not fit"):
        write_board(make_board("9x6", "60mm"), tmp_path / "big.pdf", paper="A4")
    with pytest.raises(ValueError, match=".png or .pdf"):
        write_board(b, tmp_path / "b.svg")
