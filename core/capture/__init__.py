"""Capture sources (cameras, files, the virtual studio) and the frame records they all produce."""

from core.capture.frame import Frame, FrameSet

__all__ = ["Frame", "FrameSet"]
