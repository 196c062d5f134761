"""WebSocket streaming: a real client handshake on loopback and JSON joints of a live studio run."""

import base64
import json
import os
import socket
import struct

import numpy as np

from core.estimators.studio_truth import StudioTruthEstimator
from core.pipeline import Pipeline
from core.processing import PipelineSettings
from core.streaming.osc import streamer_from_url
from core.streaming.websocket import accept_key
from core.studio.sources import make_virtual_rig, studio_sources


def test_accept_key_matches_rfc6455_example():
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1024)
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101") and accept_key(key).encode() in head
    return sock, rest


def _read_frame(sock, buf):
    def need(n):
        nonlocal buf
        while len(buf) < n:
            buf += sock.recv(65536)
    need(2)
    b0, b1 = buf[0], buf[1]
    assert b0 == 0x81 and not b1 & 0x80  # final text frame, unmasked
    n, off = b1 & 0x7F, 2
    if n == 126:
        need(4)
        n, off = struct.unpack(">H", buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, off = struct.unpack(">Q", buf[2:10])[0], 10
    need(off + n)
    return buf[off:off + n].decode(), buf[off + n:]


def test_live_joints_as_json_over_websocket():
    streamer = streamer_from_url("ws://127.0.0.1:0")
    sock, buf = _connect(streamer.port)
    vrig = make_virtual_rig("ring4", fps=15, seed=10)
    pipeline = Pipeline(studio_sources(vrig), vrig.studio.rig, StudioTruthEstimator(vrig),
                        PipelineSettings(filter=None))
    pipeline.add_sink(streamer)
    messages = []
    with pipeline:
        while len(messages) < 3:
            text, buf = _read_frame(sock, buf)
            messages.append(json.loads(text))
    sock.close()
    streamer.close()
    m = messages[-1]
    assert m["skeleton"] == "h36m17" and len(m["joints"]) == 17 and len(m["points"]) == 17
    assert m["units"] == "m" and m["latency_ms"] > 0 and m["index"] > messages[0]["index"]
    assert sum(p is not None for p in m["points"]) >= 12
    assert np.isfinite(np.array([p for p in m["points"] if p is not None])).all()
