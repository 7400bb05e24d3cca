"""What chooses the actions while watching: a small :class:`Policy` protocol and two policies.

A policy returns, besides the action, what the HUD shows about the decision: the probability
of every action (Discrete action spaces) and the value estimate. :class:`RandomPolicy` watches a
game without a model; :class:`ModelPolicy` wraps a stable-baselines3 PPO model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

# torch and stable-baselines3 are imported where a model is used, so that random watching and
# recording keyboard play start without them.


@dataclass(frozen=True)
class PolicyInfo:
    """What a policy knows about one decision, for the HUD.

    :param action_probs: the probability of each action (Discrete action spaces), else ``None``.
    :param value: the critic's estimate of the return from this observation, else ``None``.
    """

    action_probs: np.ndarray | None = None
    value: float | None = None


@runtime_checkable
class Policy(Protocol):
    """Anything that picks an action for one (unbatched) observation.

    A policy with memory may also have a ``reset()`` method: the episode runner calls it
    before each episode's first observation (:class:`ModelPolicy` resets a recurrent model's
    LSTM state there).
    """

    def act(self, observation: Any) -> tuple[Any, PolicyInfo]:
        """The action to take on ``observation`` and what the policy knows about it."""
        ...


class RandomPolicy:
    """Uniformly random actions from ``action_space``; shows the uniform probabilities.

    :param action_space: the env's action space.
    :param seed: seed of the action sampler.
    """

    def __init__(self, action_space: spaces.Space, seed: int | None = None) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def act(self, observation: Any) -> tuple[Any, PolicyInfo]:
        """A random action; ``action_probs`` is uniform for Discrete spaces."""
        probs = None
        if isinstance(self.action_space, spaces.Discrete):
            probs = np.full(int(self.action_space.n), 1.0 / int(self.action_space.n))
        return self.action_space.sample(), PolicyInfo(action_probs=probs, value=None)


class ModelPolicy:
    """Actions, action probabilities and value estimates from an SB3 actor-critic model.

    A recurrent model (``RecurrentPPO``) carries its LSTM state from one :meth:`act` to the
    next, for the actor and the critic; :meth:`reset` zeroes it for a new episode.

    :param model: a PPO (or other on-policy actor-critic) model; its current weights are used,
        so a training callback can watch the model as it learns.
    :param deterministic: take the most likely action instead of sampling one.
    """

    def __init__(self, model: BaseAlgorithm, *, deterministic: bool = False) -> None:
        from mmagent.recurrent import LstmState, is_recurrent_model

        self.model = model
        self.deterministic = deterministic
        self.lstm_state = LstmState(model) if is_recurrent_model(model) else None

    def reset(self) -> None:
        """Start a new episode: a recurrent model's next step starts from a zero state."""
        if self.lstm_state is not None:
            self.lstm_state.reset()

    def act(self, observation: Any) -> tuple[Any, PolicyInfo]:
        """Run the policy network once on ``observation`` (no gradient)."""
        import torch

        policy = self.model.policy
        if self.lstm_state is not None:
            actions, distribution, values = self.lstm_state.step(observation, self.deterministic)
        else:
            with torch.no_grad():
                observation_tensor, _ = policy.obs_to_tensor(observation)
                distribution = policy.get_distribution(observation_tensor)
                actions = distribution.get_actions(deterministic=self.deterministic)
                values = policy.predict_values(observation_tensor)
        action = actions.cpu().numpy().reshape((-1, *self.model.action_space.shape))[0]
        action_space = self.model.action_space
        if isinstance(action_space, spaces.Box):
            # As SB3's predict(): squashed policies output [-1, 1], others may overshoot.
            if policy.squash_output:
                action = policy.unscale_action(action)
            else:
                action = np.clip(action, action_space.low, action_space.high)
        elif isinstance(action_space, spaces.Discrete):
            action = int(action)
        probs = None
        if isinstance(action_space, spaces.Discrete):
            probs = distribution.distribution.probs[0].cpu().numpy().astype(np.float64)
        return action, PolicyInfo(action_probs=probs, value=float(values.reshape(-1)[0]))


def model_view_of(observation_space: spaces.Space) -> spaces.Space:
    """The observation space a model trained on ``observation_space`` was built for.

    SB3 moves channel-last image spaces to channel-first (``VecTransposeImage``) before it
    builds the policy; other spaces are unchanged.
    """
    from stable_baselines3.common.vec_env import VecTransposeImage

    if isinstance(observation_space, spaces.Dict):
        if any(_needs_transpose(space) for space in observation_space.spaces.values()):
            return spaces.Dict(
                {
                    key: VecTransposeImage.transpose_space(space, key)
                    if _needs_transpose(space)
                    else space
                    for key, space in observation_space.spaces.items()
                }
            )
        return observation_space
    if _needs_transpose(observation_space):
        return VecTransposeImage.transpose_space(observation_space)
    return observation_space


def check_model_fits_env(
    model: BaseAlgorithm, observation_space: spaces.Space, action_space: spaces.Space, env_id: str
) -> None:
    """Raise ``ValueError`` naming both spaces unless ``model`` can act in the env.

    :param env_id: named in the message (the game the model was asked to play).
    """
    expected_observations = model_view_of(observation_space)
    if model.observation_space != expected_observations and (
        model.observation_space != observation_space
    ):
        raise ValueError(
            f"the model was trained on another observation space than {env_id}'s:\n"
            f"  model: {model.observation_space}\n"
            f"  env:   {expected_observations}\n"
            "pass the game it was trained on with --env (or env_id=...), with the same "
            "env_kwargs (image size, audio format, instruction length)"
        )
    if model.action_space != action_space:
        raise ValueError(
            f"the model was trained on another action space than {env_id}'s: "
            f"model {model.action_space}, env {action_space}; pass the game it was trained "
            "on with --env (or env_id=...)"
        )


def _needs_transpose(space: spaces.Space) -> bool:
    from stable_baselines3.common.preprocessing import (
        is_image_space,
        is_image_space_channels_first,
    )

    return (
        isinstance(space, spaces.Box)
        and is_image_space(space)
        and not is_image_space_channels_first(space)
    )
