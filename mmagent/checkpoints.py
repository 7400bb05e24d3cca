"""Saving and loading models safely: atomic writes, and loads that say what went wrong.

A checkpoint is written to a temporary file beside its destination, flushed to disk, then
renamed over the destination: a kill mid-save leaves the previous file intact.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import yaml

from mmagent.config import require_device

if TYPE_CHECKING:  # stable-baselines3 (and torch) load only when a model is saved or loaded
    from stable_baselines3 import PPO
    from stable_baselines3.common.base_class import BaseAlgorithm

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.zip$")
MODEL_FILE = "model.zip"
BEST_MODEL_FILE = "best_model.zip"
CONFIG_FILE = "config.yaml"


class CheckpointError(RuntimeError):
    """A checkpoint or model file is missing, corrupt or unusable; the message says which."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """There is no model file where one was expected."""


class CorruptCheckpointError(CheckpointError, ValueError):
    """A model file exists but cannot be read as an SB3 PPO model."""


def save_atomically(model: BaseAlgorithm, path: str | Path) -> Path:
    """Save ``model`` (weights, optimizer state, timestep counter) to ``path`` atomically."""
    return write_atomically(path, model.save)


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Have ``write`` fill a temporary file beside ``path``, then rename it to ``path``: a kill
    mid-write leaves the previous file (or none), never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
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
    """A model file from a ``.zip`` path or a run directory: its ``model.zip``, else its
    ``best_model.zip``, else its latest checkpoint.

    :raises MissingCheckpointError: naming ``path`` and what was expected there.
    """
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_FILE, BEST_MODEL_FILE):
            if (path / name).is_file():
                return path / name
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise MissingCheckpointError(
            f"run directory {path} holds no {MODEL_FILE}, {BEST_MODEL_FILE} or "
            f"{CHECKPOINT_DIR}/step_*.zip; train into it first or pass a model .zip"
        )
    if path.is_file():
        return path
    if path.suffix != ".zip" and path.with_suffix(".zip").is_file():
        raise MissingCheckpointError(
            f"model file {path} does not exist, but {path.with_suffix('.zip')} does; pass that path"
        )
    raise MissingCheckpointError(
        f"model file {path} does not exist; pass a model .zip or a run directory"
    )


def load_model(path: str | Path, algorithm: type[PPO] | None = None, **kwargs: Any) -> PPO:
    """Load a PPO model from ``path`` (see :func:`resolve_model_path`), naming the file on error.

    :param algorithm: the class to load into (default ``stable_baselines3.PPO``; training
        resumes with :class:`mmagent.fast.FastPPO`). Either class reads the other's files.
    """
    from stable_baselines3 import PPO

    model_path = resolve_model_path(path)
    require_device(kwargs.get("device"))
    try:
        return (algorithm or PPO).load(model_path, **kwargs)
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError, OSError) as error:
        raise CorruptCheckpointError(
            f"model file {model_path} is corrupt or not an SB3 PPO model "
            f"({type(error).__name__}: {error}); use another checkpoint from the run's "
            f"{CHECKPOINT_DIR}/ or retrain"
        ) from error


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The raw ``config.yaml`` of the run a model belongs to (in the run directory, beside the
    ``.zip``, or above ``checkpoints/``); an empty dict when there is none."""
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    candidates = [directory / CONFIG_FILE]
    if directory.name == CHECKPOINT_DIR:
        candidates.append(directory.parent / CONFIG_FILE)
    for candidate in candidates:
        if candidate.is_file():
            content = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            if not isinstance(content, dict):
                raise ValueError(f"{candidate} does not hold a mapping; it is not a run config")
            return content
    return {}


def resolve_env_id(path: str | Path | None, env_id: str | None) -> tuple[str, dict[str, Any]]:
    """The game a model plays and its constructor kwargs.

    ``env_id`` wins when given (``env_kwargs`` then come from the run config only if it names
    the same game); otherwise the run's ``config.yaml`` names it.

    :raises ValueError: when neither names a game.
    """
    config = read_run_config(path) if path is not None else {}
    config_id = config.get("env_id")
    config_kwargs = config.get("env_kwargs") or {}
    if not isinstance(config_kwargs, dict):
        raise ValueError(
            f"env_kwargs in the run's {CONFIG_FILE} must be a mapping, got {config_kwargs!r}"
        )
    if env_id is not None:
        return env_id, dict(config_kwargs) if config_id == env_id else {}
    if isinstance(config_id, str) and config_id:
        return config_id, dict(config_kwargs)
    raise ValueError(
        f"cannot tell which game {path} was trained on: no {CONFIG_FILE} with an env_id beside "
        "it; pass the game with --env, e.g. --env mmagent/Beacon-v0"
    )
