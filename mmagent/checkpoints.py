"""Saving and loading models safely: atomic writes, and loads that say what went wrong.

A checkpoint is written to a temporary file beside its destination, flushed to disk, then
renamed over the destination: a kill mid-save leaves the previous file intact.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.zip$")
MODEL_FILE = "model.zip"
BEST_MODEL_FILE = "best_model.zip"
CONFIG_FILE = "config.yaml"


class CheckpointError(RuntimeError):
    """A checkpoint or model file is missing, corrupt or unusable; the message says which."""


def save_atomically(model: BaseAlgorithm, path: str | Path) -> Path:
    """Save ``model`` (weights, optimizer state, timestep counter) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            model.save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp creates files private to the owner
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def checkpoint_path(run_dir: str | Path, timesteps: int) -> Path:
    """Where the checkpoint at ``timesteps`` lives in ``run_dir``."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{timesteps:012d}.zip"


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the most timesteps in ``run_dir``, or ``None`` when there is none."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return None
    found = [
        (int(match.group(1)), entry)
        for entry in directory.iterdir()
        if (match := CHECKPOINT_PATTERN.match(entry.name))
    ]
    return max(found)[1] if found else None


def resolve_model_path(path: str | Path) -> Path:
    """A model file from a ``.zip`` path or a run directory (its ``model.zip``, else its
    latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise CheckpointError(
            f"run directory {path} holds no {MODEL_FILE} and no {CHECKPOINT_DIR}/step_*.zip; "
            "train into it first or pass a model .zip"
        )
    if not path.is_file():
        raise CheckpointError(
            f"model file {path} does not exist; pass a model .zip or a run directory"
        )
    return path


def load_model(path: str | Path, **kwargs: Any) -> PPO:
    """Load a PPO model from ``path`` (see :func:`resolve_model_path`), naming the file on error."""
    model_path = resolve_model_path(path)
    try:
        return PPO.load(model_path, **kwargs)
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError, OSError) as error:
        raise CheckpointError(
            f"model file {model_path} is corrupt or not an SB3 PPO model "
            f"({type(error).__name__}: {error}); use another checkpoint from the run's "
            f"{CHECKPOINT_DIR}/ or retrain"
        ) from error
