"""OSC streaming: encoding round trips and live joints received on loopback."""

import socket

import numpy as np
import pytest

from core.estimators.studio_truth import StudioTruthEstimator
from core.pipeline import Pipeline
from core.processing import PipelineSettings
from core.streaming.osc import decode_osc, encode_bundle, encode_message, streamer_from_url
from core.studio.sources import make_virtual_rig, studio_sources


def test_message_encoding_matches_the_osc_spec():
    # The OSC 1.0 specification's example: "/oscillator/4/frequency" ,f 440.0
    msg = encode_message("/oscillator/4/frequency", 440.0)
    assert msg == (b"/oscillator/4/frequency\0" + b",f\0\0" + bytes.fromhex("43dc0000"))
    packet = encode_bundle([msg, encode_message("/a", 1, "hi", 2.5)])
    assert decode_osc(packet) == [("/oscillator/4/frequency", [440.0]), ("/a", [1, "hi", 2.5])]
    with pytest.raises(ValueError, match="must start with '/'"):
        encode_message("a", 1)
    with pytest.raises(ValueError, match="unsupported type"):
        encode_message("/a", [1])


def test_stream_url_parsing():
    s = streamer_from_url("osc://127.0.0.1:9123/mocap")
    assert s.address == ("127.0.0.1", 9123) and s.prefix == "/mocap"
    s.close()
    with pytest.raises(ValueError, match="unsupported stream URL"):
        streamer_from_url("http://127.0.0.1:9000")
    with pytest.raises(ValueError, match="needs a host and a port"):
        streamer_from_url("osc://127.0.0.1")


def test_live_joints_received_on_loopback():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(20)
    port = rx.getsockname()[1]
    vrig = make_virtual_rig("ring4", fps=15, seed=8)
    streamer = streamer_from_url(f"osc://127.0.0.1:{port}")
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter=None))
    pipeline.add_sink(streamer)
    packets = []
    with pipeline:
        while len(packets) < 5:
            packets.append(rx.recv(65536))
        latest = pipeline.latest()
    rx.close()
    streamer.close()
    msgs = dict(decode_osc(packets[-1]))
    assert set(msgs) >= {"/ppt/frame", "/ppt/joints", "/ppt/joint/pelvis", "/ppt/joint/right_wrist"}
    index, t_s, latency_ms = msgs["/ppt/frame"]
    assert index >= 4 and latency_ms > 0
    joints = np.array(msgs["/ppt/joints"]).reshape(17, 3)
    assert np.isfinite(joints).all()
    assert latest.index >= index
    assert streamer.sent >= 5 and streamer.errors == 0
    x, y, z, views = msgs["/ppt/joint/pelvis"]
    assert views >= 2 and np.allclose([x, y, z], joints[0], atol=1e-5)
