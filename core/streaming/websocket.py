"""A small WebSocket server (RFC 6455, text frames, standard library only) that broadcasts live 3D joints as JSON.

Each result becomes one message ``{"index", "t", "latency_ms", "units", "up", "skeleton", "joints": [names],
"points": [[x, y, z] | null, ...], "views": [n, ...]}``. Clients (a browser, a game engine plug-in) connect to
``ws://HOST:PORT/``; what they send is ignored. Sending is latest-wins on its own thread, so a slow client never
slows the pipeline; a client that cannot keep up or goes away is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import struct
import threading

import numpy as np

log = logging.getLogger(__name__)

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def text_frame(payload: str) -> bytes:
    """One unmasked server-to-client text frame."""
    data = payload.encode("utf-8")
    n = len(data)
    if n < 126:
        head = struct.pack(">BB", 0x81, n)
    elif n < 1 << 16:
        head = struct.pack(">BBH", 0x81, 126, n)
    else:
        head = struct.pack(">BBQ", 0x81, 127, n)
    return head + data


def result_message(result) -> str:
    """The JSON text of one :class:`core.records.PipelineResult`."""
    pose = result.pose_3d
    pts = [None if not np.isfinite(p).all() else [round(float(v), 6) for v in p] for p in pose.points]
    return json.dumps({"index": int(result.index), "t": result.frame_set.t_ns / 1e9,
                       "latency_ms": round(result.timings.durations_ms()["glass_to_skeleton"], 3),
                       "units": pose.units, "up": pose.up, "skeleton": pose.skeleton.name,
                       "joints": list(pose.skeleton.joints), "points": pts,
                       "views": [int(v) for v in pose.views_used.sum(axis=0)]})


class WebSocketStreamer:
    """Pipeline sink serving live joints to WebSocket clients.

    Args:
        host, port: where to listen (``port=0`` picks a free port; read :attr:`port`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._server.bind((host, int(port)))
        except OSError as exc:
            self._server.close()
            raise ValueError(f"cannot listen for WebSocket clients on {host}:{port}: {exc}") from exc
        self._server.listen(8)
        self._server.settimeout(0.2)
        self.host, self.port = host, self._server.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._pending: str | None = None
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self.sent = 0
        self.dropped_clients = 0
        self._threads = [threading.Thread(target=self._accept_loop, name="ws-accept", daemon=True),
                         threading.Thread(target=self._send_loop, name="ws-send", daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def __call__(self, result) -> None:
        self.send(result)

    def send(self, result) -> None:
        """Queue ``result`` for the clients (replacing one not yet sent)."""
        if not self.clients:
            return
        message = result_message(result)
        with self._wake:
            self._pending = message
            self._wake.notify()

    def _handshake(self, conn: socket.socket) -> bool:
        conn.settimeout(2.0)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 8192:
            chunk = conn.recv(1024)
            if not chunk:
                return False
            data += chunk
        headers = {}
        for line in data.decode("latin-1").split("\r\n")[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not key or "websocket" not in headers.get("upgrade", "").lower():
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return False
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii"))
        conn.settimeout(1.0)  # a client that blocks a send for a second is dropped
        return True

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                if self._handshake(conn):
                    with self._lock:
                        self._clients.append(conn)
                    log.info("WebSocket client %s:%d connected", *addr)
                else:
                    conn.close()
            except OSError as exc:
                log.info("WebSocket handshake with %s failed: %s", addr, exc)
                conn.close()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if self._pending is None:
                    self._wake.wait(0.2)
                message, self._pending = self._pending, None
            if message is None:
                continue
            frame = text_frame(message)
            with self._lock:
                clients = list(self._clients)
            for conn in clients:
                try:
                    conn.sendall(frame)
                    self.sent += 1
                except OSError:
                    with self._lock:
                        if conn in self._clients:
                            self._clients.remove(conn)
                    self.dropped_clients += 1
                    conn.close()

    def close(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(2.0)
        self._server.close()
        with self._lock:
            for conn in self._clients:
                try:
                    conn.close()
                except OSError:
                    pass
            self._clients.clear()
