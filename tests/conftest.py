"""Test-wide setup: headless SDL (no window, no sound device) before pygame is imported, and
torch on one thread."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # also for the subprocesses tests start
# SB3 makes an empty log folder in the temp dir (SB3-<timestamp>) for each learn() without a
# logger of its own, unless SB3_LOGDIR names one: one folder for the session, removed after it
SB3_LOG_DIR = tempfile.mkdtemp(prefix="mmagent-tests-sb3-log-")
os.environ["SB3_LOGDIR"] = SB3_LOG_DIR


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread() -> Iterator[None]:
    """The test models are tiny: one thread is faster than two OpenMP threads spinning on two
    shared cores (up to 100x on a busy machine)."""
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(autouse=True, scope="session")
def remove_sb3_log_dir() -> Iterator[None]:
    """Remove the session's SB3 log folder (see ``SB3_LOG_DIR``) when the tests end."""
    yield
    shutil.rmtree(SB3_LOG_DIR, ignore_errors=True)
