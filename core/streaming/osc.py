"""OSC 1.0 over UDP: a small encoder (and decoder, for tests and tools) and a pipeline sink.

Each processed frame set is sent as one OSC bundle (time tag "immediately") holding:

* ``<prefix>/frame  ,iff``  result index, capture time (s, host clock), glass-to-skeleton latency (ms);
* ``<prefix>/joints ,f...`` all joints flattened ``x0 y0 z0 x1 ...`` in the world frame and rig units (NaN where
  not reconstructed);
* ``<prefix>/joint/<name> ,ffff`` one message per joint: x, y, z and the number of views used.

OSC strings are ASCII, NUL-terminated and padded to 4 bytes; numbers are big-endian (``i`` int32, ``f`` float32).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from urllib.parse import urlparse

import numpy as np

from core.streaming.websocket import WebSocketStreamer

log = logging.getLogger(__name__)

_IMMEDIATELY = struct.pack(">Q", 1)


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (4 - len(b) % 4)


def encode_message(address: str, *args) -> bytes:
    """One OSC message; ``args`` are ints (``i``), floats (``f``) or strings (``s``)."""
    if not address.startswith("/"):
        raise ValueError(f"OSC address must start with '/', got {address!r}")
    tags, data = ",", b""
    for a in args:
        if isinstance(a, (bool, np.bool_)):
            a = int(a)
        if isinstance(a, (int, np.integer)):
            tags += "i"
            data += struct.pack(">i", int(a))
        elif isinstance(a, (float, np.floating)):
            tags += "f"
            data += struct.pack(">f", float(a))
        elif isinstance(a, str):
            tags += "s"
            data += _pad(a.encode("ascii"))
        else:
            raise ValueError(f"OSC argument of unsupported type {type(a).__name__}: {a!r}")
    return _pad(address.encode("ascii")) + _pad(tags.encode("ascii")) + data


def encode_floats(address: str, values: np.ndarray) -> bytes:
    """One message with many float32 arguments (vectorised)."""
    v = np.asarray(values, dtype=">f4").ravel()
    return _pad(address.encode("ascii")) + _pad(("," + "f" * v.size).encode("ascii")) + v.tobytes()


def encode_bundle(messages: list[bytes]) -> bytes:
    """An OSC bundle (time tag 'immediately') of encoded messages."""
    out = _pad(b"#bundle") + _IMMEDIATELY
    for m in messages:
        out += struct.pack(">i", len(m)) + m
    return out


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\0", pos)
    return data[pos:end].decode("ascii"), (end // 4 + 1) * 4


def decode_osc(data: bytes) -> list[tuple[str, list]]:
    """Decode a packet (message or bundle, nested) -> ``[(address, [args...]), ...]``."""
    if data.startswith(b"#bundle\0"):
        pos, out = 16, []
        while pos < len(data):
            (size,) = struct.unpack(">i", data[pos:pos + 4])
            out += decode_osc(data[pos + 4:pos + 4 + size])
            pos += 4 + size
        return out
    address, pos = _read_string(data, 0)
    tags, pos = _read_string(data, pos)
    if not tags.startswith(","):
        raise ValueError(f"malformed OSC message to {address!r}: type tags {tags!r}")
    args: list = []
    for t in tags[1:]:
        if t == "i":
            args.append(struct.unpack(">i", data[pos:pos + 4])[0])
            pos += 4
        elif t == "f":
            args.append(struct.unpack(">f", data[pos:pos + 4])[0])
            pos += 4
        elif t == "s":
            s, pos = _read_string(data, pos)
            args.append(s)
        else:
            raise ValueError(f"unsupported OSC type tag {t!r} in a message to {address!r}")
    return [(address, args)]


class OSCStreamer:
    """Pipeline sink sending each result's 3D joints as an OSC bundle over UDP (never blocks the pipeline).

    Args:
        host, port: destination (e.g. a game engine's OSC receiver).
        prefix: address prefix (``/ppt``).
        per_joint: also send one message per joint (named addresses).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9000, prefix: str = "/ppt", per_joint: bool = True) -> None:
        if not 0 < int(port) < 65536:
            raise ValueError(f"OSC port must be 1-65535, got {port}")
        if not prefix.startswith("/"):
            raise ValueError(f"OSC prefix must start with '/', got {prefix!r}")
        self.address = (host, int(port))
        self.prefix = prefix.rstrip("/")
        self.per_joint = per_joint
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._lock = threading.Lock()
        self.sent = 0
        self.errors = 0
        self.last_error = ""

    def packet(self, result) -> bytes:
        """The OSC bundle for one :class:`core.records.PipelineResult`."""
        pose = result.pose_3d
        d = result.timings.durations_ms()
        msgs = [encode_message(f"{self.prefix}/frame", int(result.index), float(result.frame_set.t_ns / 1e9),
                               float(d["glass_to_skeleton"])),
                encode_floats(f"{self.prefix}/joints", pose.points)]
        if self.per_joint:
            views = pose.views_used.sum(axis=0)
            for j, name in enumerate(pose.skeleton.joints):
                x, y, z = pose.points[j]
                msgs.append(encode_message(f"{self.prefix}/joint/{name}", float(x), float(y), float(z),
                                           float(views[j])))
        return encode_bundle(msgs)

    def __call__(self, result) -> None:
        self.send(result)

    def send(self, result) -> None:
        data = self.packet(result)
        try:
            self._sock.sendto(data, self.address)
            with self._lock:
                self.sent += 1
        except OSError as exc:  # receiver not there, buffer full: count, log once in a while, never raise
            with self._lock:
                self.errors += 1
                first = self.errors == 1
                self.last_error = str(exc)
            if first:
                log.warning("OSC stream to %s:%d: %s", *self.address, exc)

    def close(self) -> None:
        self._sock.close()


def streamer_from_url(url: str):
    """``osc://HOST:PORT[/prefix]`` (or ``osc.udp://``) -> :class:`OSCStreamer` sending to that address;
    ``ws://HOST:PORT`` -> :class:`core.streaming.websocket.WebSocketStreamer` listening there."""
    parsed = urlparse(url)
    if parsed.scheme not in ("osc", "osc.udp", "udp", "ws"):
        raise ValueError(f"unsupported stream URL {url!r}; expected osc://HOST:PORT[/prefix] or ws://HOST:PORT")
    if not parsed.hostname or parsed.port is None:
        raise ValueError(f"stream URL {url!r} needs a host and a port, e.g. osc://127.0.0.1:9000")
    if parsed.scheme == "ws":

        return WebSocketStreamer(parsed.hostname, parsed.port)
    return OSCStreamer(parsed.hostname, parsed.port, prefix=parsed.path or "/ppt")
