"""Test-wide setup: headless SDL (no window, no sound device) before pygame is imported, and
torch on one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # also for the subprocesses tests start


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    """The test models are tiny: one thread is faster than two OpenMP threads spinning on two
    shared cores (up to 100x on a busy machine)."""
    import torch

    torch.set_num_threads(1)
    yield
