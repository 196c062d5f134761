"""A tiny HTTP MJPEG server on 127.0.0.1 for tests (what IP cameras and phone apps serve)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


class MJPEGServer:
    """Serves ``/video.mjpg`` as ``multipart/x-mixed-replace`` JPEG frames at ``fps`` on a free loopback port."""

    def __init__(self, size=(320, 240), fps: float = 20.0, max_seconds: float = 60.0) -> None:
        self.size, self.fps, self.max_seconds = size, fps, max_seconds
        self.frames_sent = 0
        self.paused = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                if server.paused.is_set():
                    self.close_connection = True
                    return  # camera away: close without answering
                if self.path != "/video.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                t_end = time.monotonic() + server.max_seconds
                i = 0
                w, h = server.size
                try:
                    while time.monotonic() < t_end and not server._closing:
                        if server.paused.is_set():
                            return  # drop the connection like a camera that went away
                        img = np.full((h, w, 3), (i * 7) % 255, np.uint8)
                        cv2.putText(img, str(i), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
                        ok, jpg = cv2.imencode(".jpg", img)
                        data = jpg.tobytes()
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n")
                        self.wfile.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                        server.frames_sent += 1
                        i += 1
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._closing = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/video.mjpg"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "MJPEGServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self.httpd.shutdown()
        self.httpd.server_close()
