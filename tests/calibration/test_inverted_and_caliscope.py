"""Boards and cameras as users have them: ChArUco boards printed inverted (Caliscope's option), Caliscope's
camera_array.toml and charuco.toml, and a camera that only ever sees a corner of the board."""

import cv2
import numpy as np
import pytest

from app.cli import main
from calibration.boards import CharucoBoard, load_board_file
from calibration.detection import BoardNotFoundError, detect_board, detect_in_sources
from core.geometry import CameraRig, load_rig
from core.geometry.calibration_io import CalibrationFileError

# Caliscope's own 4-camera test session board (tests/sessions/4_cam_recording/charuco.toml in mprib/caliscope):
# 4x5 squares on a letter sheet, DICT_4X4_1000, markers 0.75 of a square, printed squares 5.4 cm, inverted.
CALISCOPE_CHARUCO = """columns = 4
rows = 5
board_height = 11.0
board_width = 8.5
dictionary = "DICT_4X4_1000"
units = "inch"
aruco_scale = 0.75
square_size_overide_cm = 5.4
inverted = true
legacy_pattern = false
"""


def _photo(board: CharucoBoard, size=(960, 720), tilt=0.15, seed=0, background=150) -> tuple[np.ndarray, np.ndarray]:
    """The rendered board seen in perspective on a grey wall (uint8 grey image) and the corners' pixels (N, 2)."""
    rng = np.random.default_rng(seed)
    flat = board.render(px_per_square=80, margin_squares=0.5)
    corners = board.render_corner_pixels(80, 0.5)
    h, w = flat.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    cx, cy, s = size[0] / 2, size[1] / 2, 0.8 * size[1] / h
    dst = np.float32([[cx - w * s / 2, cy - h * s / 2], [cx + w * s / 2, cy - h * s / 2 + tilt * h * s],
                      [cx + w * s / 2, cy + h * s / 2 - tilt * h * s], [cx - w * s / 2, cy + h * s / 2]])
    H = cv2.getPerspectiveTransform(src, dst)
    image = cv2.warpPerspective(flat, H, size, borderValue=background)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    return image, cv2.perspectiveTransform(corners[None].astype(np.float32), H)[0]


def test_an_inverted_charuco_board_is_found_as_printed_or_not_said():
    printed = CharucoBoard(4, 5, 0.054, 0.0405, "4X4_1000", inverted=True)
    image, truth = _photo(printed)
    plain = CharucoBoard(4, 5, 0.054, 0.0405, "4X4_1000")  # the user did not say it is inverted
    for board in (printed, plain):
        seen = {}
        det = detect_board(image, board, seen=seen)
        assert det is not None and det.num_found == board.num_corners and seen["inverted"]
        assert np.abs(det.corners - truth).max() < 1.0
    normal, _ = _photo(plain)  # a normal print is still found when the board is declared inverted
    assert detect_board(normal, printed) is not None


def test_caliscope_charuco_toml_is_read_and_calibration_finds_its_inverted_board(tmp_path, capsys):
    path = tmp_path / "charuco.toml"
    path.write_text(CALISCOPE_CHARUCO)
    board = load_board_file(path)
    assert isinstance(board, CharucoBoard) and (board.squares_x, board.squares_y) == (4, 5)
    assert board.square == pytest.approx(0.054) and board.marker == pytest.approx(0.0405)
    assert board.dictionary == "4X4_1000" and board.inverted and not board.legacy
    fitted = tmp_path / "fitted.toml"  # no printed size: the largest square that fits the letter sheet
    fitted.write_text(CALISCOPE_CHARUCO.replace("square_size_overide_cm = 5.4\n", ""))
    assert load_board_file(fitted).square == pytest.approx(min(11.0 * 2.54 / 5, 8.5 * 2.54 / 4) / 100)
    # The command line takes the file as the board: six views of the inverted board calibrate one camera.
    folder = tmp_path / "cam_0"
    folder.mkdir()
    for i in range(6):
        cv2.imwrite(str(folder / f"f{i}.png"), _photo(board, tilt=0.05 * (i - 2.5), seed=i)[0])
    out = tmp_path / "intrinsics.toml"
    assert main(["calibrate", "intrinsics", "--board", str(path), "--images", f"cam_0={folder}",
                 "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    assert "found in 6 of 6 frames (6 printed inverted" in capsys.readouterr().err
    assert load_rig(out).names == ["cam_0"]
    bad = tmp_path / "bad.toml"
    bad.write_text('columns = "four"\nrows = 5\n')
    with pytest.raises(ValueError, match="Caliscope charuco.toml"):
        load_board_file(bad)


def test_a_camera_that_only_sees_a_corner_of_the_board_is_named_with_what_it_saw(tmp_path):
    board = CharucoBoard(4, 5, 0.054, 0.0405, "4X4_1000", inverted=True)
    image, truth = _photo(board)
    x0, y0 = truth.min(axis=0)
    corner = image.copy()
    corner[int(y0) + 95:, :] = 150  # only the first row of corners stays in view
    corner[:, int(x0) + 95:] = 150
    folder = tmp_path / "cam_3"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), corner)
    found = detect_in_sources([folder], board, camera="cam_3")
    assert found.num_views == 0 and 1 <= found.most_corners_seen < 6
    assert f"at most {found.most_corners_seen} of its 12 corners" in found.summary()
    with pytest.raises(BoardNotFoundError, match=r"cam_3.*only part of the board.*needs 6 corners"):
        found.require_board()


CAMERA_ARRAY = """[cameras.0]
cam_id = 0
size = [1280, 720]
matrix = [[894.5, 0.0, 624.0], [0.0, 896.9, 361.3], [0.0, 0.0, 1.0]]
distortions = [-0.338, 0.0967, -0.00135, 0.00316, -0.00375]
rotation = [[0.028454458274723926, -0.8200005191342249, 0.571655046705523], [-0.9915778577174362, -0.0954406312087065, -0.0875467760627629], [0.12634752031121108, -0.5643493904790591, -0.8158100695487417]]
translation = [-0.6425, 0.2629, 1.4515]

[cameras.1]
cam_id = 1
size = [1280, 720]
matrix = [[704.0, 0.0, 626.0], [0.0, 706.2, 348.9], [0.0, 0.0, 1.0]]
distortions = [0.192, -0.256, 0.0028, -0.0052, 0.115]
rotation = [0.1, -0.2, 0.3]
translation = [0.5, 0.0, 2.0]

[cameras.2]
cam_id = 2
ignore = true
size = [1280, 720]
matrix = [[637.2, 0.0, 657.4], [0.0, 633.6, 378.2], [0.0, 0.0, 1.0]]
distortions = [0.17, -0.25, -0.0008, 0.0125, 0.156]
rotation = [0.0, 0.0, 0.0]
translation = [0.0, 0.0, 0.0]

[cameras.10]
cam_id = 10
size = [640, 480]
matrix = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
distortions = [0.01, 0.02, 0.03, 0.04]
fisheye = true
rotation = [0.0, 0.3, 0.0]
translation = [-1.0, 0.0, 3.0]
"""


def test_caliscope_camera_array_toml_is_read_as_a_rig(tmp_path):
    path = tmp_path / "camera_array.toml"
    path.write_text(CAMERA_ARRAY)
    rig = load_rig(path)
    assert isinstance(rig, CameraRig) and rig.names == ["cam_0", "cam_1", "cam_10"]  # numeric order, 2 ignored
    assert rig.units == "m" and rig.metadata["ignored"] == ["cam_2"]
    cam0, cam1, cam10 = rig.cameras
    R0 = np.array([[0.028454458274723926, -0.8200005191342249, 0.571655046705523],
                   [-0.9915778577174362, -0.0954406312087065, -0.0875467760627629],
                   [0.12634752031121108, -0.5643493904790591, -0.8158100695487417]])
    np.testing.assert_allclose(cam0.R, R0, atol=1e-6)  # the legacy 3x3 matrix, world -> camera
    np.testing.assert_allclose(cam1.R, cv2.Rodrigues(np.array([0.1, -0.2, 0.3]))[0], atol=1e-12)
    assert cam10.distortion_model == "fisheye" and cam0.size == (1280, 720)
    # Projection is OpenCV's with the file's values: X_cam = R X + t.
    X = np.array([[0.2, 0.1, 0.5], [-0.3, 0.4, 0.0]])
    ref, _ = cv2.projectPoints(X, np.array([0.1, -0.2, 0.3]), np.array([0.5, 0.0, 2.0]), cam1.K, cam1.dist)
    np.testing.assert_allclose(cam1.project(X), ref.reshape(-1, 2), atol=1e-6)
    unposed = tmp_path / "unposed.toml"
    unposed.write_text(CAMERA_ARRAY.replace("rotation = [0.1, -0.2, 0.3]\ntranslation = [0.5, 0.0, 2.0]\n", ""))
    with pytest.raises(CalibrationFileError, match=r"cam_1.*no pose"):
        load_rig(unposed)
