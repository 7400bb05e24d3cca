"""Recurrent policies (``algo: ppo_lstm``): sb3-contrib's ``RecurrentPPO`` with an LSTM between
mmagent's multimodal extractor and the policy heads, and the LSTM-state bookkeeping that acting
one observation at a time needs (evaluation, watching, recording).

What ``algo: ppo_lstm`` changes in a config (:func:`resolve_algorithm`):

- ``policy`` names the kind of input, the algorithm the memory: ``MultiInputPolicy`` becomes
  ``MultiInputLstmPolicy`` (``MlpPolicy`` → ``MlpLstmPolicy``, ``CnnPolicy`` →
  ``CnnLstmPolicy``); an LSTM policy with ``algo: ppo`` is a config error.
- ``trainer`` picks the recurrent trainer: ``fast`` (the default)
  :class:`mmagent.fast.recurrent.PackedRecurrentPPO`, sb3-contrib's ``RecurrentPPO`` whose
  update encodes each observation once instead of the padded minibatch; ``sb3`` sb3-contrib's
  own. Both learn the same PPO and load each other's files. ``bf16_update`` and
  ``compile_acting``, :class:`mmagent.fast.FastPPO`'s options, are config errors.
- ``policy_kwargs`` takes the LSTM's options (:data:`LSTM_POLICY_KWARGS`) beside every
  multimodal extractor option; they are an error with ``algo: ppo``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmagent.config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from stable_baselines3 import PPO
    from stable_baselines3.common.base_class import BaseAlgorithm

ALGORITHMS = ("ppo", "ppo_lstm")
"""The values of config key ``algo`` (RL Zoo's names)."""
RECURRENT_ALGO = "ppo_lstm"
LSTM_POLICIES = {
    "MultiInputPolicy": "MultiInputLstmPolicy",
    "MlpPolicy": "MlpLstmPolicy",
    "CnnPolicy": "CnnLstmPolicy",
}
"""The recurrent policy of each feed-forward policy name."""
LSTM_POLICY_KWARGS = (
    "lstm_hidden_size",
    "n_lstm_layers",
    "shared_lstm",
    "enable_critic_lstm",
    "lstm_kwargs",
)
"""``policy_kwargs`` only a recurrent policy takes."""
RECURRENT_POLICY_MODULES = ("sb3_contrib.common.recurrent.policies", "mmagent.fast.recurrent")
"""Where recurrent model files' policy classes live (sb3-contrib's, and their packed twins)."""


def is_recurrent_config(config: TrainConfig) -> bool:
    """Whether ``config`` trains a recurrent policy."""
    return config.algo == RECURRENT_ALGO


def policy_name(config: TrainConfig) -> str:
    """The policy ``config`` trains: for ``ppo_lstm``, the LSTM twin of a feed-forward name."""
    if is_recurrent_config(config):
        return LSTM_POLICIES.get(config.policy, config.policy)
    return config.policy


def algorithm_class(config: TrainConfig) -> type[PPO]:
    """The class that trains ``config``, by ``trainer``: for ``algo: ppo_lstm``
    :class:`mmagent.fast.recurrent.PackedRecurrentPPO` (``fast``) or sb3-contrib's
    ``RecurrentPPO`` (``sb3``), else :class:`mmagent.fast.FastPPO` or stable-baselines3's
    ``PPO``."""
    if is_recurrent_config(config):
        if config.trainer == "sb3":
            from sb3_contrib import RecurrentPPO

            return RecurrentPPO
        from mmagent.fast.recurrent import PackedRecurrentPPO

        return PackedRecurrentPPO
    from mmagent.train import TRAINERS

    return TRAINERS[config.trainer]


def recurrent_trainer_options(config: TrainConfig) -> dict[str, Any]:
    """The trainer-only keywords of a recurrent run: none; ``bf16_update`` and
    ``compile_acting`` (FastPPO's) are a :class:`ConfigError` naming the fix."""
    chosen = [name for name in ("bf16_update", "compile_acting") if getattr(config, name)]
    if chosen:
        raise ConfigError(
            f"{', '.join(chosen)} needs the fast trainer, which has no recurrence (the config "
            f"has algo: {RECURRENT_ALGO}); drop {', '.join(chosen)} or use algo: ppo"
        )
    return {}


def drop_shipped_lstm_options(config: TrainConfig, user_keys: set[str]) -> TrainConfig:
    """``config`` without the LSTM ``policy_kwargs`` that only a game's shipped config set, when
    ``algo`` is not recurrent (``mmagent train mmagent/Recall-v0 --algo ppo``: the memoryless
    baseline on the shipped settings), with a one-line note on stderr; ``user_keys`` are the
    ``policy_kwargs`` keys a config file, ``--set`` or a flag set (those stay, and
    :func:`resolve_algorithm` refuses them)."""
    shipped = sorted((set(config.policy_kwargs) & set(LSTM_POLICY_KWARGS)) - user_keys)
    if is_recurrent_config(config) or not shipped:
        return config
    print(
        f"note: algo {config.algo} has no LSTM: the shipped config's {', '.join(shipped)} "
        "do not apply",
        file=sys.stderr,
        flush=True,
    )
    kept = {key: value for key, value in config.policy_kwargs.items() if key not in shipped}
    return dataclasses.replace(config, policy_kwargs=kept)


def resolve_algorithm(config: TrainConfig, source: str = "the config") -> TrainConfig:
    """``config`` with its ``policy`` made to fit its ``algo`` (see the module docstring); a
    :class:`ConfigError` naming the fix when it cannot."""
    lstm_kwargs = sorted(set(config.policy_kwargs) & set(LSTM_POLICY_KWARGS))
    if not is_recurrent_config(config):
        if config.policy in LSTM_POLICIES.values():
            raise ConfigError(
                f"policy {config.policy!r} in {source} is recurrent but algo is {config.algo!r}; "
                f"use algo: {RECURRENT_ALGO} (--algo {RECURRENT_ALGO}) or a feed-forward policy"
            )
        if lstm_kwargs:
            raise ConfigError(
                f"policy_kwargs {lstm_kwargs} in {source} configure an LSTM, but algo is "
                f"{config.algo!r}; use algo: {RECURRENT_ALGO} (--algo {RECURRENT_ALGO}) or "
                "drop them"
            )
        return config
    recurrent_trainer_options(config)
    return dataclasses.replace(config, policy=policy_name(config))


def is_recurrent_model(model: BaseAlgorithm) -> bool:
    """Whether ``model``'s policy carries an LSTM state from step to step."""
    return hasattr(model.policy, "lstm_actor")


def saved_algorithm(path: str | Path) -> type[PPO] | None:
    """:class:`~mmagent.fast.recurrent.PackedRecurrentPPO` when the model file at ``path``
    holds a recurrent policy (read from the plain JSON SB3 writes beside its pickles, nothing
    unpickled), else the run's ``config.yaml``'s ``algo``; ``None`` when neither says it is
    recurrent (a PPO model)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        data = {}
    entry = data.get("policy_class") if isinstance(data, Mapping) else None
    module = entry.get("__module__") if isinstance(entry, Mapping) else None
    recurrent = module in RECURRENT_POLICY_MODULES
    if module is None:
        from mmagent.checkpoints import read_run_config

        try:
            recurrent = read_run_config(path).get("algo") == RECURRENT_ALGO
        except (OSError, ValueError):
            recurrent = False
    if not recurrent:
        return None
    from mmagent.fast.recurrent import PackedRecurrentPPO

    return PackedRecurrentPPO


class LstmState:
    """The LSTM state of one env acting one observation at a time, for the actor and the
    critic, reset at each episode start (as ``RecurrentPPO`` does while collecting rollouts).

    :param model: a ``RecurrentPPO`` model; its current weights are used.
    """

    def __init__(self, model: BaseAlgorithm) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        """Forget the episode: the next step starts from a zero state."""
        self.actor: tuple[Any, Any] | None = None
        self.critic: tuple[Any, Any] | None = None
        self.episode_start = True

    def step(self, observation: Any, deterministic: bool) -> tuple[Any, Any, Any]:
        """Act on ``observation`` (unbatched), advancing the state: the action tensor, the
        action distribution and the value estimate."""
        import torch

        policy = self.model.policy
        policy.set_training_mode(False)
        with torch.no_grad():
            observation_tensor, _ = policy.obs_to_tensor(observation)
            zeros = torch.zeros(policy.lstm_hidden_state_shape, device=policy.device)
            actor = self.actor or (zeros, zeros.clone())
            critic = self.critic or (zeros.clone(), zeros.clone())
            starts = torch.tensor([float(self.episode_start)], device=policy.device)
            features = policy.extract_features(observation_tensor)
            pi_features, vf_features = (
                (features, features) if policy.share_features_extractor else features
            )
            latent_pi, actor = policy._process_sequence(
                pi_features, actor, starts, policy.lstm_actor
            )
            if policy.lstm_critic is not None:
                latent_vf, critic = policy._process_sequence(
                    vf_features, critic, starts, policy.lstm_critic
                )
            elif policy.shared_lstm:
                latent_vf = latent_pi
            else:
                latent_vf = policy.critic(vf_features)
            distribution = policy._get_action_dist_from_latent(
                policy.mlp_extractor.forward_actor(latent_pi)
            )
            values = policy.value_net(policy.mlp_extractor.forward_critic(latent_vf))
            actions = distribution.get_actions(deterministic=deterministic)
        self.actor, self.critic = actor, critic
        self.episode_start = False
        return actions, distribution, values

    def hidden(self) -> np.ndarray | None:
        """The actor's hidden state after the last step (``None`` before the first)."""
        return None if self.actor is None else self.actor[0].cpu().numpy().copy()
