"""Capture sources and threads: files, folders, a real HTTP MJPEG stream on loopback, failures and reconnects."""

import threading
import time

import cv2
import numpy as np
import pytest

from core.capture.slots import LatestSlot
from core.capture.sources import (CaptureThread, ImageFolderSource, SourceError, SyntheticSource, URLSource,
                                  VideoFileSource, WebcamSource, list_cameras, source_from_spec)
from core.events import EventBus
from tests.capture.mjpeg_server import MJPEGServer
from tests.conftest import wait_for


def write_video(path, frames=12, size=(160, 120), fps=30.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        img = np.full((size[1], size[0], 3), i * 10 % 255, np.uint8)
        writer.write(img)
    writer.release()
    return path



def test_latest_slot_overwrites_and_counts_drops():
    slot = LatestSlot()
    assert slot.put(1) and not slot.put(2)
    assert slot.dropped == 1 and slot.get() == 2 and slot.get() is None


def test_blocking_slot_waits_for_the_reader():
    slot = LatestSlot(blocking=True)
    slot.put(1)
    done = threading.Event()
    threading.Thread(target=lambda: (slot.put(2), done.set()), daemon=True).start()
    assert not done.wait(0.2)
    assert slot.get() == 1
    assert done.wait(5) and slot.get() == 2 and slot.dropped == 0


def test_video_file_all_frames_with_media_time_stamps(tmp_path):
    path = write_video(tmp_path / "a.avi", frames=12)
    src = VideoFileSource("cam", path, realtime=False, start_ns=1_000)
    assert src.fps == pytest.approx(30.0)
    src.open()
    got = []
    while (r := src.read()) is not None:
        got.append(r)
    src.close()
    assert len(got) == 12 and src.ended
    assert [i for _, _, i in got] == list(range(12))
    assert got[3][1] == 1_000 + round(3e9 / 30)
    assert got[0][0].shape == (120, 160, 3)


def test_capture_thread_delivers_file_frames_and_finishes(tmp_path):
    path = write_video(tmp_path / "a.avi", frames=10)
    events = EventBus()
    frames = []
    cap = CaptureThread(VideoFileSource("cam", path, realtime=False), sinks=[frames.append], events=events)
    cap.start()
    assert wait_for(lambda: not cap.running)
    assert len(frames) == 10 and cap.stats().finished and cap.stats().frames == 10
    assert [e.kind for e in events.history()] == ["camera_opened", "camera_finished"]


def test_image_folder_source(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img_{i:03d}.png"), np.full((20, 30, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    src = ImageFolderSource("cam", tmp_path, fps=10, realtime=False)
    src.open()
    reads = [src.read() for _ in range(4)]
    assert [r[2] for r in reads[:3]] == [0, 1, 2] and reads[3] is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource("cam", tmp_path / "empty").open()
    with pytest.raises(SourceError, match="not found"):
        ImageFolderSource("cam", tmp_path / "nowhere").open()


def test_corrupt_video_is_a_clear_error_event_and_the_thread_ends(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    events = EventBus()
    cap = CaptureThread(VideoFileSource("cam", bad, realtime=False), events=events)
    cap.start()
    assert wait_for(lambda: not cap.running)
    errors = events.history("camera_error")
    assert errors and "broken.mp4" in errors[0].message and errors[0].camera == "cam"


def test_truncated_video_ends_early_without_crashing(tmp_path):
    path = write_video(tmp_path / "a.avi", frames=30)
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    frames = []
    cap = CaptureThread(VideoFileSource("cam", cut, realtime=False), sinks=[frames.append])
    cap.start()
    assert wait_for(lambda: not cap.running)
    assert 0 < len(frames) < 30


def test_missing_webcam_reports_and_retries_without_blocking_others():
    events = EventBus()
    missing = CaptureThread(WebcamSource("usb", "/dev/video987"), events=events, backoff_s=0.05, max_backoff_s=0.1)
    good_frames = []
    good = CaptureThread(SyntheticSource("synth", size=(64, 48), fps=50), sinks=[good_frames.append], events=events)
    missing.start()
    good.start()
    assert wait_for(lambda: len(good_frames) >= 10)
    time.sleep(0.3)
    assert missing.running  # still retrying in the background
    errors = events.history("camera_error")
    assert len(errors) == 1 and "/dev/video987 does not exist" in errors[0].message  # reported once, not per retry
    assert missing.stop(2.0) and good.stop(2.0)
    assert missing.stats().frames == 0 and not missing.stats().connected


def test_unreachable_url_is_a_clear_error():
    events = EventBus()
    cap = CaptureThread(URLSource("ip", "http://127.0.0.1:9/video.mjpg", timeout_s=1.0), events=events,
                        backoff_s=0.05)
    cap.start()
    assert wait_for(lambda: bool(events.history("camera_error")))
    assert cap.stop(3.0)
    msg = events.history("camera_error")[0].message
    assert "cannot open stream http://127.0.0.1:9/video.mjpg" in msg


def test_http_mjpeg_stream_on_loopback_through_opencv():
    with MJPEGServer(size=(320, 240), fps=25) as server:
        frames = []
        events = EventBus()
        cap = CaptureThread(URLSource("phone", server.url, timeout_s=5), sinks=[frames.append], events=events)
        cap.start()
        assert wait_for(lambda: len(frames) >= 15)
        assert cap.stop(3.0)
    assert frames[0].image.shape == (240, 320, 3)
    stamps = [f.t_capture_ns for f in frames]
    assert stamps == sorted(stamps) and [f.index for f in frames[:5]] == [0, 1, 2, 3, 4]
    assert events.history()[0].kind == "camera_opened"


def test_camera_lost_and_back_events_with_reconnect():
    events = EventBus()
    src = SyntheticSource("cam", size=(64, 48), fps=50)
    frames = []
    cap = CaptureThread(src, sinks=[frames.append], events=events, backoff_s=0.05, lost_after_s=0.2)
    cap.start()
    assert wait_for(lambda: len(frames) >= 5)
    src.set_available(False)
    assert wait_for(lambda: bool(events.history("camera_lost")))
    n = len(frames)
    src.set_available(True)
    assert wait_for(lambda: bool(events.history("camera_back")) and len(frames) > n + 5)
    cap.stop()
    assert cap.stats().reconnects == 1


def test_source_from_spec_and_bad_specs(tmp_path):
    path = write_video(tmp_path / "v.avi", frames=2)
    assert isinstance(source_from_spec("a", "0"), WebcamSource)
    cam = source_from_spec("a", "/dev/video2:1280x720@60")
    assert (cam.device, cam.width, cam.height, cam.fps) == ("/dev/video2", 1280, 720, 60.0)
    assert source_from_spec("a", "1@30").fps == 30.0 and source_from_spec("a", "1@30").width is None
    assert isinstance(source_from_spec("a", "rtsp://127.0.0.1:8554/cam"), URLSource)
    assert isinstance(source_from_spec("a", str(path)), VideoFileSource)
    assert isinstance(source_from_spec("a", str(tmp_path)), ImageFolderSource)
    with pytest.raises(FileNotFoundError, match="not found"):
        source_from_spec("a", str(tmp_path / "nope.mp4"))
    with pytest.raises(ValueError, match="not a URL"):
        URLSource("a", "127.0.0.1/video")


def test_list_cameras_runs_on_a_machine_without_cameras():
    cams = list_cameras(max_index=2)
    assert isinstance(cams, list)
    for c in cams:
        assert {"device", "name", "width", "height"} <= set(c)


def test_ip_camera_that_goes_away_is_reconnected_when_it_returns():
    with MJPEGServer(size=(160, 120), fps=25) as server:
        frames = []
        events = EventBus()
        cap = CaptureThread(URLSource("ipcam", server.url, timeout_s=2), sinks=[frames.append], events=events,
                            backoff_s=0.2, max_backoff_s=0.5, lost_after_s=1.0)
        cap.start()
        assert wait_for(lambda: len(frames) >= 5)
        server.paused.set()
        assert wait_for(lambda: bool(events.history("camera_lost")), timeout=40)
        n = len(frames)
        server.paused.clear()
        assert wait_for(lambda: bool(events.history("camera_back")) and len(frames) > n + 5, timeout=40)
        assert cap.stop(5.0)
    assert cap.stats().reconnects >= 1
