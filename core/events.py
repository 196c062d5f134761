"""Status and error events published by capture threads, the pipeline and the recorder (thread-safe).

The GUI subscribes with a callback (called on the publishing thread: hand it to the GUI thread itself) or
polls :meth:`EventBus.drain`; the history is bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)

#: Event kinds. ``camera_*`` carry the camera name.
EVENT_KINDS = (
    "camera_opened", "camera_lost", "camera_back", "camera_error", "camera_finished",
    "pipeline_started", "pipeline_stopped", "pipeline_finished", "recording_started", "recording_stopped",
    "error", "warning", "status", "person_found", "person_lost",
)


@dataclass(frozen=True)
class Event:
    """One status or error message.

    Attributes:
        kind: one of :data:`EVENT_KINDS`.
        message: human-readable text naming what happened and where.
        camera: the camera concerned, if any.
        t_wall: ``time.time()`` when published (seconds).
        data: small extra values (counts, paths).
    """

    kind: str
    message: str
    camera: str | None = None
    t_wall: float = field(default_factory=time.time)
    data: dict = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.kind in ("error", "camera_error", "camera_lost")


class EventBus:
    """Bounded event history with subscribers; safe to publish from any thread."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._lock = threading.Lock()
        self._history: deque[Event] = deque(maxlen=maxlen)
        self._unread: deque[Event] = deque(maxlen=maxlen)
        self._subscribers: list[Callable[[Event], None]] = []
        self._cond = threading.Condition(self._lock)

    def publish(self, kind: str, message: str, camera: str | None = None, **data) -> Event:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; expected one of {EVENT_KINDS}")
        event = Event(kind, message, camera, data=data)
        level = logging.WARNING if event.is_error or kind == "warning" else logging.INFO
        log.log(level, "%s%s: %s", kind, f" [{camera}]" if camera else "", message)
        with self._cond:
            self._history.append(event)
            self._unread.append(event)
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the publisher
                log.exception("event subscriber %r failed on %s", callback, event.kind)
        return event

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[Event], None]) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def drain(self, timeout: float | None = None) -> list[Event]:
        """Events published since the last drain (waits up to ``timeout`` s for one if there are none)."""
        with self._cond:
            if not self._unread and timeout:
                self._cond.wait(timeout)
            out = list(self._unread)
            self._unread.clear()
        return out

    def history(self, kind: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self._history if kind is None or e.kind == kind]
