"""One intra-op thread for these tests: the 2 cores are shared, and OpenMP with 2 threads under foreign load
slows small ops by 10x or more; results do not depend on the thread count beyond float rounding."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
