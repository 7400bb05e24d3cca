"""Training on Ray RLlib (``backend: rllib``, ``pip install "mmagent[ray]"``).

RLlib's PPO on its new API stack, with :class:`mmagent.rllib.module.MultimodalPPOModule` (the
multimodal extractor and SB3-style heads) as the policy, envs made by mmagent's registry on
every env runner, and the run directory, evaluation and ``eval.json`` of the SB3 path.
Importing this package does not import Ray; :func:`train_rllib` says how to install it.

Modules: ``module`` (the RLModule), ``config`` (TrainConfig → PPOConfig, refused keys),
``env`` (the env creator), ``callbacks`` (training success rate), ``evaluation`` (acting and
evaluating outside RLlib, weights files), ``train`` (the training loop, run directory and
resuming), ``watching`` (the ``mmagent watch`` policy of a run).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmagent.rllib.config import (
    INSTALL_HINT,
    check_rllib_config,
    check_sb3_config,
    is_rllib_run,
    require_ray,
)

if TYPE_CHECKING:
    import gymnasium as gym

    from mmagent.config import TrainConfig
    from mmagent.evaluation import EvaluationReport
    from mmagent.train import TrainResult
    from mmagent.watch.policies import Policy

__all__ = [
    "INSTALL_HINT",
    "check_rllib_config",
    "check_sb3_config",
    "evaluate_rllib_run",
    "is_rllib_run",
    "load_rllib_policy",
    "require_ray",
    "train_rllib",
]


def train_rllib(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    checkpoint: str | Path | None = None,
) -> TrainResult:
    """Train ``config`` on Ray RLlib (see :func:`mmagent.rllib.train.train_rllib`).

    :raises ConfigError: when Ray RLlib is not installed (naming ``pip install "mmagent[ray]"``)
        or the config has keys RLlib has no meaning for.
    """
    require_ray()
    from mmagent.rllib.train import train_rllib as train_on_rllib

    return train_on_rllib(config, run_dir, resume=resume, checkpoint=checkpoint)


def evaluate_rllib_run(run_dir: str | Path, **options: Any) -> EvaluationReport:
    """Evaluate the final module of the RLlib run in ``run_dir`` (see
    :func:`mmagent.rllib.evaluation.evaluate_run` for ``options``).

    :raises ConfigError: when Ray RLlib is not installed (naming ``pip install "mmagent[ray]"``).
    """
    require_ray()
    from mmagent.rllib.evaluation import evaluate_run

    return evaluate_run(run_dir, **options)


def load_rllib_policy(run_dir: str | Path, env: gym.Env, *, deterministic: bool = False) -> Policy:
    """The ``mmagent watch`` policy of the RLlib run in ``run_dir`` (see
    :func:`mmagent.rllib.watching.load_run_policy`).

    :raises ConfigError: when Ray RLlib is not installed (naming ``pip install "mmagent[ray]"``).
    """
    require_ray()
    from mmagent.rllib.watching import load_run_policy

    return load_run_policy(run_dir, env, deterministic=deterministic)
