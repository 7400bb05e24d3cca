"""Acting and evaluating with a :class:`~mmagent.rllib.module.MultimodalPPOModule` outside RLlib.

:class:`ModuleAgent` gives the module the face of a stable-baselines3 model that
:func:`mmagent.evaluation.evaluate` uses (``predict``, ``device``, ``policy``), so an RLlib run
is evaluated by the same code, on the same seeds, with the same report as an SB3 run (modality
ablation included: the module's extractor is found under ``policy``).

Weights travel as ``model.pt`` / ``best_model.pt``: a plain ``state_dict`` of tensors, read back
with ``torch.load(weights_only=True)``, so evaluating a run unpickles nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns

from mmagent.checkpoints import CONFIG_FILE, CheckpointError, write_atomically
from mmagent.config import TrainConfig, load_config
from mmagent.evaluation import EVAL_SEED_BASE, EvaluationReport, evaluate
from mmagent.rllib.config import model_config
from mmagent.rllib.module import MultimodalPPOModule

MODEL_WEIGHTS_FILE = "model.pt"
"""The final module weights of an RLlib run."""
BEST_WEIGHTS_FILE = "best_model.pt"
"""The module weights of the best periodic evaluation of an RLlib run."""


class ModuleAgent:
    """A :class:`MultimodalPPOModule` acting one unbatched observation at a time, as
    stable-baselines3's ``model.predict`` does (the module acts on the CPU, in eval mode)."""

    def __init__(self, module: MultimodalPPOModule) -> None:
        self.policy = module.eval()
        self.device = torch.device("cpu")

    def predict(
        self,
        observation: Mapping[str, Any],
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """The action for ``observation`` (greedy when ``deterministic``, else sampled from the
        torch random state) and ``None`` for the state (the module has no memory)."""
        action, _ = self._act(observation, deterministic)
        return action, None

    def decide(
        self, observation: Mapping[str, Any], deterministic: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, float]:
        """What ``mmagent watch`` shows of one decision: the action (as :meth:`predict`), the
        probability of every action (``Discrete`` action spaces, else ``None``) and the
        critic's value of ``observation``."""
        action, batch = self._act(observation, deterministic)
        with torch.no_grad():
            output = self.policy.forward_inference(batch)
            value = float(self.policy.compute_values(batch).reshape(-1)[0])
        probs = None
        if isinstance(self.policy.action_space, gym.spaces.Discrete):
            logits = output[Columns.ACTION_DIST_INPUTS][0]
            probs = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        return action, probs, value

    def _act(
        self, observation: Mapping[str, Any], deterministic: bool
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The action for one unbatched observation, and the batch of one made of it."""
        batch = {
            Columns.OBS: {
                key: torch.as_tensor(np.asarray(value))[None] for key, value in observation.items()
            }
        }
        with torch.no_grad():
            output = self.policy.forward_inference(batch)
            distribution = self.policy.get_inference_action_dist_cls().from_logits(
                output[Columns.ACTION_DIST_INPUTS]
            )
            if deterministic:
                distribution = distribution.to_deterministic()
            action = distribution.sample()[0].cpu().numpy()
        space = self.policy.action_space
        if isinstance(space, gym.spaces.Box):  # as the training env runners clip them
            action = np.clip(action.reshape(space.shape), space.low, space.high)
        return action, batch


def game_spaces(config: TrainConfig) -> tuple[gym.Space, gym.Space]:
    """The observation and action space of ``config``'s game (made once and closed)."""
    from mmagent.plugins import make_env

    env = make_env(config.env_id, **dict(config.env_kwargs))
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def build_module(config: TrainConfig) -> MultimodalPPOModule:
    """A fresh module for ``config``'s game and ``policy_kwargs`` (as the env runners build it)."""
    observation_space, action_space = game_spaces(config)
    return MultimodalPPOModule(
        observation_space=observation_space,
        action_space=action_space,
        model_config=model_config(config),
    )


def save_weights(state: Mapping[str, Any], path: str | Path) -> Path:
    """Write a module's ``state_dict`` (tensors or numpy arrays) to ``path`` atomically."""
    tensors = {key: torch.as_tensor(np.asarray(value)) for key, value in state.items()}
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    encoded = buffer.getvalue()
    return write_atomically(path, lambda handle: handle.write(encoded))


def load_module(config: TrainConfig, weights: str | Path) -> MultimodalPPOModule:
    """The module of ``config`` with the weights saved at ``weights`` (nothing unpickled).

    :raises CheckpointError: when the file is missing or does not fit the module.
    """
    path = Path(weights)
    if not path.is_file():
        raise CheckpointError(f"no module weights at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} is not a weights file mmagent wrote: {error}") from error
    module = build_module(config)
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(
            f"{path} does not fit the module of {config.env_id} with this run's policy_kwargs: "
            f"{error}"
        ) from error
    return module


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int = 100,
    seed_base: int = EVAL_SEED_BASE,
    deterministic: bool | None = None,
    ablate: tuple[str, ...] = (),
    best: bool = False,
) -> EvaluationReport:
    """Evaluate the module of an RLlib run (``model.pt``, or ``best_model.pt`` with ``best``)
    on its game and ``env_kwargs``, with the run's ``eval_deterministic`` unless
    ``deterministic`` says otherwise."""
    run_dir = Path(run_dir)
    config = load_config(run_dir / CONFIG_FILE)
    module = load_module(config, run_dir / (BEST_WEIGHTS_FILE if best else MODEL_WEIGHTS_FILE))
    return evaluate(
        ModuleAgent(module),  # type: ignore[arg-type]
        config.env_id,
        env_kwargs=config.env_kwargs,
        episodes=episodes,
        seed_base=seed_base,
        deterministic=config.eval_deterministic if deterministic is None else deterministic,
        ablate=ablate,
    )
