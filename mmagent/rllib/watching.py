"""Watching and recording an RLlib run (``mmagent watch RUN_DIR [--record out.mp4]``).

:class:`ModulePolicy` is the watch :class:`~mmagent.watch.policies.Policy` of a
:class:`~mmagent.rllib.evaluation.ModuleAgent`: the same HUD (action probabilities, value) as
an SB3 model's :class:`~mmagent.watch.policies.ModelPolicy`, from the run's ``model.pt`` (or
``best_model.pt`` when the run was interrupted before its final weights), read without
unpickling anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from mmagent.checkpoints import CONFIG_FILE, MissingCheckpointError
from mmagent.config import load_config
from mmagent.rllib.evaluation import (
    BEST_WEIGHTS_FILE,
    MODEL_WEIGHTS_FILE,
    ModuleAgent,
    load_module,
)
from mmagent.watch.policies import PolicyInfo


class ModulePolicy:
    """Actions, action probabilities (``Discrete`` actions) and value estimates from an RLlib
    run's module, one observation at a time.

    :param agent: the module, acting as :class:`ModuleAgent` does in evaluation.
    :param deterministic: take the most likely action instead of sampling one.
    """

    def __init__(self, agent: ModuleAgent, *, deterministic: bool = False) -> None:
        self.agent = agent
        self.deterministic = deterministic

    def act(self, observation: Any) -> tuple[Any, PolicyInfo]:
        """Run the module once on ``observation`` (no gradient)."""
        action, probs, value = self.agent.decide(observation, deterministic=self.deterministic)
        if isinstance(self.agent.policy.action_space, spaces.Discrete):
            action = int(action)
        return action, PolicyInfo(action_probs=probs, value=value)


def run_weights_file(run_dir: str | Path) -> Path:
    """The weights to watch in an RLlib run directory: ``model.pt``, else ``best_model.pt``.

    :raises MissingCheckpointError: when it has neither (a run still training, or interrupted
        before its first evaluation), naming ``mmagent train --resume`` to finish it.
    """
    for name in (MODEL_WEIGHTS_FILE, BEST_WEIGHTS_FILE):
        path = Path(run_dir) / name
        if path.is_file():
            return path
    raise MissingCheckpointError(
        f"{run_dir} is an RLlib run with no {MODEL_WEIGHTS_FILE} or {BEST_WEIGHTS_FILE} yet; "
        f"finish it with mmagent train --resume {run_dir}, then watch it"
    )


def load_run_policy(
    run_dir: str | Path, env: gym.Env, *, deterministic: bool = False
) -> ModulePolicy:
    """The policy of the RLlib run in ``run_dir``, checked to fit ``env``'s spaces.

    :raises ValueError: when ``env`` has other observation or action spaces than the run's game
        (another game, or other ``env_kwargs``).
    :raises MissingCheckpointError: when the run has no weights file yet.
    """
    config = load_config(Path(run_dir) / CONFIG_FILE)
    weights = run_weights_file(run_dir)
    module = load_module(config, weights)
    for kind, trained, given in (
        ("observation", module.observation_space, env.observation_space),
        ("action", module.action_space, env.action_space),
    ):
        if trained != given:
            raise ValueError(
                f"{weights} was trained on {config.env_id} with another {kind} space than the "
                f"game to watch:\n  model: {trained}\n  env:   {given}\ndrop --env to watch it "
                "on its own game and env_kwargs"
            )
    return ModulePolicy(ModuleAgent(module), deterministic=deterministic)
