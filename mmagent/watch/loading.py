"""Finding what to watch: the model file and the game of a ``.zip`` or a training run directory.

A run directory holds ``model.zip`` (the final model; preferred), maybe ``best_model.zip`` and
``checkpoints/step_*.zip``, and ``config.yaml`` whose ``env_id`` (and ``env_kwargs``) name the
game the model was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mmagent.checkpoints import (
    BEST_MODEL_FILE,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    MODEL_FILE,
    read_run_config,
    resolve_env_id,
)
from mmagent.checkpoints import resolve_model_path as find_model_file

if TYPE_CHECKING:
    import gymnasium as gym

    from mmagent.watch.policies import ModelPolicy, Policy


__all__ = [
    "BEST_MODEL_FILE",
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "MODEL_FILE",
    "find_model_file",
    "load_policy",
    "read_run_config",
    "resolve_env_id",
]


def load_policy(
    path: str | Path,
    env: gym.Env,
    *,
    deterministic: bool = False,
    env_id: str | None = None,
    trust_model: bool = False,
) -> ModelPolicy | Policy:
    """Load the PPO model at ``path`` (a ``.zip`` or a run directory) to act in ``env``.

    A run directory trained with ``--backend rllib`` gives its module (``model.pt``, read as
    plain tensors; see :func:`mmagent.rllib.load_rllib_policy`).

    Nothing in the file is unpickled unless ``trust_model`` (see :func:`mmagent.checkpoints.
    load_model`): the model takes ``env``'s spaces, checked against those it was trained on.

    :param path: a model ``.zip`` or a run directory (see :func:`find_model_file`).
    :param env: the env it will play; its spaces must be those the model was trained on.
    :param deterministic: take the most likely action instead of sampling.
    :param env_id: the env's name in error messages (defaults to its spec id).
    :param trust_model: load with SB3's unpickling loader (runs code a crafted file holds).
    :raises FileNotFoundError: when there is no model file at ``path``.
    :raises ValueError: when the model was trained on other observation or action spaces.
    :raises mmagent.checkpoints.CheckpointError: when the file is corrupt, or (without
        ``trust_model``) could only be loaded by unpickling it.
    """
    from mmagent.checkpoints import load_model
    from mmagent.rllib import is_rllib_run
    from mmagent.watch.policies import ModelPolicy, check_model_fits_env

    if is_rllib_run(path):
        from mmagent.rllib import load_rllib_policy

        return load_rllib_policy(path, env, deterministic=deterministic)
    model_file = find_model_file(path)
    name = env_id or (env.spec.id if env.spec is not None else type(env.unwrapped).__name__)
    model = load_model(
        model_file,
        device="cpu",
        trust_model=trust_model,
        env_id=name,
        spaces=(env.observation_space, env.action_space),
    )
    try:
        check_model_fits_env(model, env.observation_space, env.action_space, name)
    except ValueError as error:
        raise ValueError(f"{model_file}: {error}") from None
    return ModelPolicy(model, deterministic=deterministic)
