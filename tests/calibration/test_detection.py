import cv2
import numpy as np
import pytest

from calibration.boards import Checkerboard, CharucoBoard
from calibration.detection import (BoardNotFoundError, detect_board, detect_in_sources, expand_source,
                                   iter_frames, to_gray)
from tests.conftest import shared_path


def test_image_without_board_is_skipped_and_counted():
    folder = shared_path("calibration", "webcam_chessboard")
    board = Checkerboard(9, 6, 0.025)
    assert detect_board(cv2.imread(str(folder / "cam_0_frame_000.jpg")), board) is None
    ds = detect_in_sources([str(folder / "cam_0_*.jpg")], board, camera="cam_0")
    assert ds.frames_read == 5 and ds.num_views == 4
    assert [p.endswith("cam_0_frame_000.jpg") for p in ds.without_board] == [True]
    assert ds.image_size == (1280, 720)
    assert all(d.corners.shape == (54, 2) and d.camera == "cam_0" for d in ds.detections)
    ds.require_board()  # found: no error


def test_wrong_board_size_says_what_is_visible(opencv_board):
    folder = shared_path("calibration", "opencv_stereo_chessboard")
    ds = detect_in_sources([str(folder / "left0[1-3].jpg")], Checkerboard(10, 7, 0.025), camera="left")
    assert ds.num_views == 0 and len(ds.without_board) == 3
    with pytest.raises(BoardNotFoundError) as err:
        ds.require_board()
    msg = str(err.value)
    assert "10x7" in msg and "--board 9x6" in msg and "inner corners" in msg.lower()


def test_wrong_charuco_dictionary_is_named():
    board = CharucoBoard(5, 7, 0.04, 0.03, "5X5_100")
    img = board.render(px_per_square=50)
    wrong = CharucoBoard(5, 7, 0.04, 0.03, "4X4_50")
    assert detect_board(img, wrong) is None
    from calibration.detection import DetectionSet

    ds = DetectionSet(camera="c", frames_read=1, without_board=["x"], board=wrong, _sample_images=[img])
    with pytest.raises(BoardNotFoundError, match="--dictionary 5X5"):
        ds.require_board()


def test_unreadable_files_counted_and_all_unreadable_is_an_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"not an image")
    board = Checkerboard(9, 6, 0.025)
    img = board.render(30, 1.0)
    cv2.imwrite(str(tmp_path / "b.png"), img)
    ds = detect_in_sources([tmp_path], board, camera="c")
    assert ds.unreadable == [str(tmp_path / "a.jpg")] and ds.num_views == 1
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"zzz")
    with pytest.raises(FileNotFoundError, match="no readable image"):
        detect_in_sources([only_bad], board, camera="c").require_board()


def test_missing_sources_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        expand_source(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no files match"):
        expand_source(str(tmp_path / "*.jpg"))
    with pytest.raises(FileNotFoundError, match="no images or videos"):
        expand_source(tmp_path)


def test_natural_sort_and_video_sampling(tmp_path, scene):
    for k in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"f{k}.png"), np.zeros((8, 8), np.uint8))
    assert [p.name for p in expand_source(tmp_path)] == ["f1.png", "f2.png", "f10.png"]
    video = tmp_path / "cam.avi"
    imgs = scene.images["cam02"][:6]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1280, 720), False)
    for img in imgs:
        writer.write(img)
    writer.release()
    frames = list(iter_frames([video], stride=2))
    assert [f for f, _, _ in frames] == [0, 2, 4]
    ds = detect_in_sources([video], scene.board, camera="cam02", stride=2)
    assert [d.frame for d in ds.detections] == [0, 2, 4]
    assert ds.detections[0].source.endswith("cam.avi#0")


def test_to_gray_shapes():
    assert to_gray(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5)
    assert to_gray(np.zeros((4, 5), np.float32)).dtype == np.uint8
    with pytest.raises(ValueError, match="expected"):
        to_gray(np.zeros((2, 2, 2, 2)))
