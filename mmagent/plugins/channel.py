"""The base of the wrappers that add one observation key, computed at every reset and step."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.plugins.context import StepContext
from mmagent.plugins.keys import convention_key

# A stream number mixed into the reset seed, so a channel's random draws differ from the
# wrapped env's own (which is seeded with the same number).
_CHANNEL_STREAM = 0x6D6D61


def channel_generator(seed: int | None) -> np.random.Generator:
    """The generator a channel wrapper draws from after ``reset(seed=seed)``."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence([int(seed), _CHANNEL_STREAM]))


class ObservationChannel(gym.Wrapper):
    """Adds the key ``key`` (space ``space``) to every observation of ``env``.

    A ``Dict`` observation gets the key added; a ``Box`` observation becomes a ``Dict`` holding
    it under its convention key (``image`` for an RGB frame, ``vector`` otherwise) plus the new
    key. Subclasses implement :meth:`channel_value`.

    :param env: the env to wrap; its observation must be a ``Dict`` or a ``Box`` (apply
        :class:`~mmagent.plugins.keys.MapToConvention` or
        :class:`~mmagent.plugins.text_observation.TextObservation` first otherwise).
    :param key: the observation key to add.
    :param space: the space of the added values.
    """

    def __init__(self, env: gym.Env, key: str, space: spaces.Space) -> None:
        super().__init__(env)
        name = type(self).__name__
        inner = _observation_space(env, name)
        if isinstance(inner, spaces.Dict):
            if key in inner.spaces:
                raise ValueError(
                    f"{name}: the observation already has a {key!r} key "
                    f"(keys: {list(inner.spaces)}); pass another key= or drop that key with "
                    f"MapToConvention(drop=[{key!r}])"
                )
            self._inner_key: str | None = None
            base = dict(inner.spaces)
        elif isinstance(inner, spaces.Box):
            self._inner_key = convention_key(inner)
            if self._inner_key == key:
                raise ValueError(
                    f"{name}: the env's {inner} observation would be called {key!r}, the key "
                    f"this wrapper adds; pass another key="
                )
            base = {self._inner_key: inner}
        else:
            raise ValueError(
                f"{name} needs a Dict or Box observation, got {inner}; convert it first with "
                "MapToConvention (Discrete, MultiBinary, MultiDiscrete) or TextObservation "
                "(text), or use make_multimodal(), which does both"
            )
        self.key = key
        self.observation_space = spaces.Dict({**base, key: space})
        self.np_random_channel = channel_generator(None)
        self.episode_steps = 0

    def channel_value(self, context: StepContext) -> Any:
        """The value of :attr:`key` for this reset or step."""
        raise NotImplementedError

    def describe_info(self, info: dict[str, Any]) -> None:
        """Add this channel's entries to ``info`` (after :meth:`channel_value`)."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self.np_random_channel = channel_generator(seed)
        self.episode_steps = 0
        context = StepContext(observation, info, self.np_random_channel)
        return self._with_channel(observation, info, context)

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.episode_steps += 1
        context = StepContext(
            observation,
            info,
            self.np_random_channel,
            step=self.episode_steps,
            action=action,
            reward=float(reward),
            terminated=bool(terminated),
            truncated=bool(truncated),
        )
        observation, info = self._with_channel(observation, info, context)
        return observation, reward, terminated, truncated, info

    def _with_channel(
        self, observation: Any, info: dict[str, Any], context: StepContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        value = self.channel_value(context)
        combined = dict(observation) if self._inner_key is None else {self._inner_key: observation}
        combined[self.key] = value
        info = dict(info)
        self.describe_info(info)
        return combined, info


def _observation_space(env: gym.Env, wrapper_name: str) -> spaces.Space:
    try:
        return env.observation_space
    except AttributeError:
        raise ValueError(
            f"{wrapper_name}: {type(env.unwrapped).__name__} declares no observation_space; "
            "wrap it in TextObservation (text observations) or give it one first"
        ) from None
