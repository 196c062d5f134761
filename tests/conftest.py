"""Shared test fixtures.

Real data lives in ``../shared/data`` beside the project. Tests that need it use :func:`shared_data`:
they skip with a reason when the folder is absent (a user's clone) and fail when
``PPT_REQUIRE_SHARED_DATA=1`` (CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path inside ``../shared/data``; skips (or fails under ``PPT_REQUIRE_SHARED_DATA=1``) when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"real test data not found: {path}"
        if os.environ.get("PPT_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message + " (PPT_REQUIRE_SHARED_DATA=1)")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data():
    """The ``shared_path`` function as a fixture."""
    return shared_path


def wait_for(predicate, timeout: float = 30.0, poll: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False); for threaded code."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False
