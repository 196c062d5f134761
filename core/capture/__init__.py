"""Capture sources (cameras, URLs, files, folders), their threads, and frame-set synchronisation.

The frames they produce are :class:`core.records.Frame` and :class:`core.records.FrameSet`.
"""
