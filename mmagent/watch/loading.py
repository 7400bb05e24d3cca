"""Finding what to watch: the model file and the game of a ``.zip`` or a training run directory.

A run directory holds ``model.zip`` (the final model; preferred), maybe ``best_model.zip`` and
``checkpoints/step_*.zip``, and ``config.yaml`` whose ``env_id`` (and ``env_kwargs``) name the
game the model was trained on.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gymnasium as gym

    from mmagent.watch.policies import ModelPolicy

MODEL_FILE = "model.zip"
BEST_MODEL_FILE = "best_model.zip"
CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.yaml"
_CHECKPOINT_PATTERN = re.compile(r"^step_(\d+)\.zip$")


def find_model_file(path: str | Path) -> Path:
    """The model file behind ``path``: the ``.zip`` itself, or a run directory's model.

    In a run directory ``model.zip`` is preferred, then ``best_model.zip``, then the latest
    ``checkpoints/step_*.zip``.

    :raises FileNotFoundError: naming ``path`` and what was expected there.
    """
    path = Path(path)
    if path.is_dir():
        for name in (MODEL_FILE, BEST_MODEL_FILE):
            if (path / name).is_file():
                return path / name
        checkpoints = sorted(
            (int(match.group(1)), entry)
            for entry in (path / CHECKPOINT_DIR).glob("step_*.zip")
            if (match := _CHECKPOINT_PATTERN.match(entry.name))
        )
        if checkpoints:
            return checkpoints[-1][1]
        raise FileNotFoundError(
            f"run directory {path} holds no {MODEL_FILE}, {BEST_MODEL_FILE} or "
            f"{CHECKPOINT_DIR}/step_*.zip; pass a trained run directory or a model .zip"
        )
    if path.is_file():
        return path
    if path.suffix != ".zip" and path.with_suffix(".zip").is_file():
        raise FileNotFoundError(
            f"model file {path} does not exist, but {path.with_suffix('.zip')} does; pass that path"
        )
    raise FileNotFoundError(
        f"model file {path} does not exist; expected a stable-baselines3 model .zip or a run "
        f"directory containing {MODEL_FILE}"
    )


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The ``config.yaml`` beside a model (in the run directory, or next to the ``.zip``).

    Returns an empty dict when there is none.
    """
    path = Path(path)
    directory = path if path.is_dir() else path.parent
    candidates = [directory / CONFIG_FILE]
    if directory.name == CHECKPOINT_DIR:
        candidates.append(directory.parent / CONFIG_FILE)
    for candidate in candidates:
        if candidate.is_file():
            try:
                import yaml
            except ImportError as error:  # pragma: no cover - PyYAML is a core dependency
                raise ImportError(
                    'reading config.yaml needs PyYAML: pip install "pyyaml>=6"'
                ) from error
            with candidate.open(encoding="utf-8") as handle:
                content = yaml.safe_load(handle) or {}
            if not isinstance(content, dict):
                raise ValueError(f"{candidate} does not hold a mapping; it is not a run config")
            return content
    return {}


def resolve_env_id(path: str | Path | None, env_id: str | None) -> tuple[str, dict[str, Any]]:
    """The game to watch and its constructor kwargs.

    ``env_id`` wins when given (then ``env_kwargs`` come from the run config only if it names
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


def load_policy(
    path: str | Path, env: gym.Env, *, deterministic: bool = False, env_id: str | None = None
) -> ModelPolicy:
    """Load the PPO model at ``path`` (a ``.zip`` or a run directory) to act in ``env``.

    :param path: a model ``.zip`` or a run directory (see :func:`find_model_file`).
    :param env: the env it will play; its spaces must be those the model was trained on.
    :param deterministic: take the most likely action instead of sampling.
    :param env_id: the env's name in error messages (defaults to its spec id).
    :raises FileNotFoundError: when there is no model file at ``path``.
    :raises ValueError: when the model was trained on other observation or action spaces.
    """
    from stable_baselines3 import PPO

    from mmagent.watch.policies import ModelPolicy, check_model_fits_env

    model_file = find_model_file(path)
    try:
        model = PPO.load(model_file, device="cpu")
    except (zipfile.BadZipFile, EOFError, KeyError) as error:
        raise ValueError(
            f"{model_file} is not a stable-baselines3 PPO model ({type(error).__name__}: "
            f"{error}); pass the model.zip a training run saved"
        ) from error
    name = env_id or (env.spec.id if env.spec is not None else type(env.unwrapped).__name__)
    try:
        check_model_fits_env(model, env.observation_space, env.action_space, name)
    except ValueError as error:
        raise ValueError(f"{model_file}: {error}") from None
    return ModelPolicy(model, deterministic=deterministic)
