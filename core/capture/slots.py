"""The hand-off between threads: a one-slot buffer where the newest item wins (live) or the writer waits (offline).

Capture threads hand frames to the synchroniser through one, the synchroniser hands frame sets to the processing
thread through another (:mod:`core.pipeline`), the studio's render thread hands frames to its camera sources.
"""

from __future__ import annotations

import threading


class LatestSlot:
    """One-slot buffer: a new frame overwrites an unread one (counted in ``dropped``).

    With ``blocking=True`` (offline processing of files) :meth:`put` waits instead until the slot is read, so
    nothing is dropped; memory stays bounded either way.
    """

    def __init__(self, blocking: bool = False, notify: threading.Event | None = None) -> None:
        self.blocking = blocking
        self._cond = threading.Condition()
        self._notify = notify
        self._item = None
        self.dropped = 0
        self.put_count = 0

    def put(self, item, stop: threading.Event | None = None) -> bool:
        """Store ``item``; returns False if it overwrote an unread item (or if ``stop`` ended a blocking wait)."""
        with self._cond:
            if self.blocking:
                while self._item is not None:
                    if stop is not None and stop.is_set():
                        return False
                    self._cond.wait(0.05)
            overwrote = self._item is not None
            if overwrote:
                self.dropped += 1
            self._item = item
            self.put_count += 1
            self._cond.notify_all()
        if self._notify is not None:
            self._notify.set()
        return not overwrote

    def get(self, timeout: float | None = None):
        """Take the item (emptying the slot); waits up to ``timeout`` s; ``None`` if there is none."""
        with self._cond:
            if self._item is None and timeout:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self._cond.notify_all()
            return item

    def peek(self):
        with self._cond:
            return self._item
