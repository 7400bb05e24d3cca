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
TEMPORARY_PATTERN = re.compile(r"^\..+\.tmp$")
"""The name of a temporary file :func:`write_atomically` writes (``.<name>.<random>.tmp``)."""
MODEL_FILE = "model.zip"
BEST_MODEL_FILE = "best_model.zip"
CONFIG_FILE = "config.yaml"


class CheckpointError(RuntimeError):
    """A checkpoint or model file is missing, corrupt or unusable; the message says which."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """There is no model file where one was expected."""


class CorruptCheckpointError(CheckpointError, ValueError):
    """A model file exists but cannot be read as an SB3 PPO model."""


class RunConfigError(CheckpointError, ValueError):
    """A run's ``config.yaml`` exists but is not valid YAML or not a mapping."""


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


def list_numbered_checkpoints(
    run_dir: str | Path, pattern: re.Pattern[str], *, folders: bool
) -> list[Path]:
    """The entries of ``run_dir``'s ``checkpoints/`` whose whole name matches ``pattern`` (its
    first group: the step count ``N``), files or ``folders``, newest (largest ``N``) first;
    empty when there is none. SB3 checkpoints are files, RLlib's folders."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = [
        (int(match.group(1)), entry)
        for entry in directory.iterdir()
        if (match := pattern.fullmatch(entry.name))
        and (entry.is_dir() if folders else entry.is_file())
    ]
    return [entry for _, entry in sorted(found, reverse=True)]


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The checkpoints ``checkpoints/step_<N>.zip`` of ``run_dir``, newest (largest ``N``) first;
    empty when there is none."""
    return list_numbered_checkpoints(run_dir, CHECKPOINT_PATTERN, folders=False)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the most timesteps in ``run_dir``, or ``None`` when there is none
    (whether it loads is not checked: resuming skips corrupt ones, see
    :func:`mmagent.train.train`)."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[0] if checkpoints else None


def remove_stale_temporary_files(run_dir: str | Path) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.tmp``) that saves killed mid-write left in
    ``run_dir`` and its ``checkpoints/``, and return them. Call it only when no other process
    is saving into ``run_dir``."""
    removed = []
    for directory in (Path(run_dir), Path(run_dir) / CHECKPOINT_DIR):
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if TEMPORARY_PATTERN.match(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


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


def load_model(
    path: str | Path,
    algorithm: type[PPO] | None = None,
    *,
    trust_model: bool = False,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    spaces: tuple[Any, Any] | None = None,
    **kwargs: Any,
) -> PPO:
    """Load a PPO model from ``path`` (see :func:`resolve_model_path`), naming the file on error.

    By default nothing in the file is unpickled (:func:`mmagent.safe_loading.load_model_safely`:
    weights and plain JSON from the file, spaces from the game, the rest from the run's
    ``config.yaml``); a file that needs unpickling is refused with an error naming
    ``--trust-model``.

    :param algorithm: the class to load into (default ``stable_baselines3.PPO``, or
        sb3-contrib's ``RecurrentPPO`` for a file holding a recurrent policy; training resumes
        with :class:`mmagent.fast.FastPPO`). Either PPO class reads the other's files.
    :param trust_model: load with SB3's own loader, which unpickles the file's objects and so
        runs any code a crafted file holds: only for files you trust.
    :param env_id: the game whose spaces the model takes when no ``env`` is given (default: the
        run config's ``env_id``); with ``env_kwargs``, its constructor keywords. Safe loads only.
    :param spaces: ``(observation_space, action_space)`` of the game, instead of making it.
    :param kwargs: ``env``, ``device`` and attributes to set, as SB3's ``load`` takes them.
    """
    from stable_baselines3 import PPO

    from mmagent.config import ConfigError

    model_path = resolve_model_path(path)
    require_device(kwargs.get("device"))
    if algorithm is None:  # a recurrent model (algo: ppo_lstm) loads as sb3-contrib's RecurrentPPO
        from mmagent.recurrent import saved_algorithm

        algorithm = saved_algorithm(model_path)
    try:
        if trust_model:
            return (algorithm or PPO).load(model_path, **kwargs)
        from mmagent.safe_loading import load_model_safely

        return load_model_safely(
            model_path, algorithm, env_id=env_id, env_kwargs=env_kwargs, spaces=spaces, **kwargs
        )
    except (CheckpointError, ConfigError):
        raise
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError, OSError) as error:
        raise CorruptCheckpointError(
            f"model file {model_path} is corrupt or not an SB3 PPO model "
            f"({type(error).__name__}: {error}); use another checkpoint from the run's "
            f"{CHECKPOINT_DIR}/ or retrain"
        ) from error


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The raw ``config.yaml`` of the run a model belongs to (in the run directory, beside the
    ``.zip``, or above ``checkpoints/``); an empty dict when there is none.

    :raises RunConfigError: naming the file, when it is not YAML or not a mapping.
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    candidates = [directory / CONFIG_FILE]
    if directory.name == CHECKPOINT_DIR:
        candidates.append(directory.parent / CONFIG_FILE)
    for candidate in candidates:
        if candidate.is_file():
            try:
                content = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as error:
                raise RunConfigError(
                    f"run config {candidate} is not valid YAML ({error}); repair it or replace "
                    "it with the config the run was trained with"
                ) from error
            if not isinstance(content, dict):
                raise RunConfigError(
                    f"run config {candidate} holds a {type(content).__name__}, not a mapping of "
                    "config keys; it is not a run config"
                )
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
