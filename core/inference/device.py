"""Run-time device, thread and precision choices."""

from __future__ import annotations

import contextlib

import torch


def select_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` -> CUDA when available, else CPU; an explicit CUDA request without CUDA is an error."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda[:N]'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available (use 'auto' or 'cpu')")
    return dev


def set_threads(num_threads: int | None) -> int:
    """Set PyTorch's intra-op thread count (``None`` keeps it); returns the count in effect."""
    if num_threads is not None:
        if int(num_threads) < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        torch.set_num_threads(int(num_threads))
    return torch.get_num_threads()


def autocast_for(device: torch.device, enabled: bool = True):
    """float16 autocast on CUDA, a no-op context elsewhere (CPU runs float32)."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (for honest timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
