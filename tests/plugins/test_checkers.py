"""Every wrapper make_multimodal stacks passes Gymnasium's and SB3's env checkers, alone and
composed, on envs made with and without ``gym.make``; an env made with ``gym.make`` can be
made again from its spec (which Gymnasium's checker does), callables included."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.core.audio import Listener, SoundEvent, tone
from mmagent.plugins import (
    AddAudio,
    AddInstruction,
    CommandActions,
    MapToConvention,
    PixelsFromRender,
    StepContext,
    TextObservation,
    make_multimodal,
    register_game,
)
from mmagent.plugins.success import ReportSuccess

BEEP = tone(440.0, 0.05, 8_000)
WORDS = ("go", "left", "right", "to", "the", "door", "key", "get")


class MissionSpace(spaces.Space[str]):
    """A custom text space, as MiniGrid's: ``sample()`` returns a ``str``; not a ``Text``."""

    def __init__(self) -> None:
        super().__init__(dtype=None)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        return " ".join(self.np_random.choice(WORDS, size=3))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    @property
    def is_np_flattenable(self) -> bool:
        return False


class GridEnv(gym.Env):
    """A Dict observation with third-party names: a screen, a channels-last sound, a mission
    in a custom space and a Discrete direction; it takes command strings or ids."""

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "audio_sample_rate": 8_000,
    }

    def __init__(self, render_mode: str | None = None, commands: bool = False) -> None:
        self.render_mode = render_mode
        self.commands = commands
        self.observation_space = spaces.Dict(
            {
                "screen": spaces.Box(0, 255, (3, 40, 40), np.uint8),
                "sound": spaces.Box(-32768, 32767, (800, 2), np.int16),
                "mission": MissionSpace(),
                "direction": spaces.Discrete(4),
            }
        )
        self.action_space = spaces.Text(16) if commands else spaces.Discrete(3)
        self.position = 0

    def _observation(self) -> dict[str, Any]:
        screen = np.zeros((3, 40, 40), np.uint8)
        screen[:, :, self.position % 40] = 255
        sound = np.zeros((800, 2), np.int16)
        sound[: self.position * 10, 0] = 1000
        return {
            "screen": screen,
            "sound": sound,
            "mission": f"go to the {self.goal}",
            "direction": self.position % 4,
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position = int(self.np_random.integers(0, 5))
        self.goal = ("door", "key")[int(self.np_random.integers(0, 2))]
        return self._observation(), {}

    def step(self, action: Any):
        if self.commands:
            assert isinstance(action, str), action
            action = {"left": 0, "right": 1}.get(action, 2)
        self.position = max(0, self.position + (1 if action == 1 else -1 if action == 0 else 0))
        won = self.position >= 8
        return self._observation(), float(won), won, False, {}

    def render(self) -> np.ndarray:
        frame = np.zeros((60, 80, 3), np.uint8)
        frame[:, : self.position * 8] = 200
        return frame


class WordsEnv(gym.Env):
    """The whole observation is a string, in a custom (non-``Text``) space."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = MissionSpace()
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.count = 0
        return ("go left", "go right")[int(self.np_random.integers(0, 2))], {}

    def step(self, action: Any):
        self.count += 1
        return f"get the {'key' if action else 'door'}", 0.0, self.count >= 5, False, {}


gym.register("checkers/Grid-v0", entry_point=GridEnv, max_episode_steps=20)
gym.register("checkers/Words-v0", entry_point=WordsEnv, max_episode_steps=20)


def beeps(context: StepContext) -> list[SoundEvent]:
    return [SoundEvent(BEEP)] if context.step % 2 else []


def pick_instruction(np_random: np.random.Generator) -> str:
    return ("go left", "go right")[int(np_random.integers(0, 2))]


def won(observation: Any, reward: float, terminated: bool, truncated: bool, info: dict) -> bool:
    return terminated and reward > 0


def listen_from(context: StepContext) -> Listener:
    return Listener((float(context.step), 0.0))


def _check_both(env: gym.Env) -> None:
    """Both checkers pass; Gymnasium's recreates a gym.make'd env from its spec."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(env)
        sb3_check_env(env, warn=True)
    messages = [str(warning.message) for warning in caught]
    # A spec that cannot be copied makes the checker skip its recreation checks silently.
    assert not [message for message in messages if "copying the environment spec" in message]
    if env.spec is not None:
        recreated = env.spec.make()
        try:
            first = recreated.reset(seed=3)[0]
            again = env.reset(seed=3)[0]
            assert recreated.observation_space == env.observation_space
            if isinstance(again, dict):
                for key in again:
                    np.testing.assert_array_equal(first[key], again[key])
            else:
                np.testing.assert_array_equal(first, again)
            recreated.step(recreated.action_space.sample())
        finally:
            recreated.close()


def _cartpole(made: bool, render_mode: str | None = None) -> gym.Env:
    if made:
        return gym.make("CartPole-v1", render_mode=render_mode)
    from gymnasium.envs.classic_control import CartPoleEnv

    return CartPoleEnv(render_mode=render_mode)


def _grid(made: bool, **kwargs: Any) -> gym.Env:
    return gym.make("checkers/Grid-v0", **kwargs) if made else GridEnv(**kwargs)


def _words(made: bool) -> gym.Env:
    return gym.make("checkers/Words-v0") if made else WordsEnv()


ALONE: dict[str, Callable[[bool], gym.Env]] = {
    "MapToConvention cartpole": lambda made: MapToConvention(_cartpole(made)),
    "MapToConvention dict": lambda made: MapToConvention(
        _grid(made), keys={"mission": "mission"}, drop=["mission"]
    ),
    "TextObservation str": lambda made: TextObservation(_words(made), vocabulary=WORDS),
    "TextObservation dict": lambda made: TextObservation(
        _grid(made), key="mission", sample_texts=["go to the door", "go to the key"]
    ),
    "PixelsFromRender": lambda made: PixelsFromRender(_cartpole(made, "rgb_array"), 40),
    "AddInstruction fixed": lambda made: AddInstruction(_cartpole(made), fixed="go left"),
    "AddInstruction per episode": lambda made: AddInstruction(
        _cartpole(made), per_episode=pick_instruction, instructions=["go left", "go right"]
    ),
    "AddAudio": lambda made: AddAudio(
        _cartpole(made), beeps, sample_rate=8_000, listener=listen_from
    ),
    "CommandActions": lambda made: CommandActions(
        MapToConvention(_grid(made, commands=True), drop=["mission"]), ["left", "right", "wait"]
    ),
    "ReportSuccess": lambda made: ReportSuccess(_cartpole(made), won),
}


@pytest.mark.parametrize("made", [False, True], ids=["constructed", "gym.make"])
@pytest.mark.parametrize("name", list(ALONE))
def test_each_wrapper_alone_passes_both_checkers(name: str, made: bool) -> None:
    env = ALONE[name](made)
    if made:
        assert env.spec is not None
        assert type(env).__name__ in [wrapper.name for wrapper in env.spec.additional_wrappers]
    _check_both(env)


COMPOSED: dict[str, Callable[[bool], gym.Env]] = {
    "cartpole: pixels, instruction, sound, success": lambda made: make_multimodal(
        _cartpole(made, "rgb_array"),
        image_size=40,
        instruction="balance the pole",
        sound=beeps,
        sample_rate=8_000,
        success="terminated_with_positive_reward",
    ),
    "cartpole: lambdas and a partial": lambda made: make_multimodal(
        _cartpole(made),
        instruction=lambda np_random: "go left",
        instructions=["go left"],
        sound=functools.partial(beeps),
        success=lambda *step: None,
    ),
    "dict: own sound, custom text space, one-hot": lambda made: make_multimodal(
        _grid(made), text_key="mission", sample_texts=["go to the door", "go to the key"]
    ),
    "dict: its own image resized": lambda made: make_multimodal(
        _grid(made), image_size=36, drop=["mission"], success=won
    ),
    "str observation and commands": lambda made: make_multimodal(
        CommandActions(_words(made), [0, 1], names=["door", "key"]), vocabulary=WORDS
    ),
}


@pytest.mark.parametrize("made", [False, True], ids=["constructed", "gym.make"])
@pytest.mark.parametrize("name", list(COMPOSED))
def test_composed_stacks_pass_both_checkers(name: str, made: bool) -> None:
    _check_both(COMPOSED[name](made))


def _factory_env(render_mode: str | None = None) -> gym.Env:
    """A factory that makes new lambdas on every call, as users write them."""
    return make_multimodal(
        gym.make("checkers/Grid-v0", render_mode=render_mode),
        text_key="mission",
        vocabulary=WORDS,
        instruction_per_step=None,
        success=lambda observation, reward, terminated, truncated, info: (
            bool(terminated) if terminated or truncated else None
        ),
    )


FACTORY_ID = register_game("checkers/GridFactory-v0", _factory_env)


def test_a_registered_factory_with_lambdas_passes_both_checkers_and_is_recreated() -> None:
    env = gym.make(FACTORY_ID, render_mode="rgb_array")
    _check_both(env)
    names = [wrapper.name for wrapper in env.spec.additional_wrappers]
    assert {"TextObservation", "MapToConvention", "ReportSuccess"} <= set(names)
    assert env.metadata["audio_sample_rate"] == 8_000  # the env's own declaration


def test_recorded_arguments_are_data_not_used_up_iterables() -> None:
    texts = (text for text in ["go to the door", "go to the key"])  # a generator, used once
    env = TextObservation(_grid(True), key="mission", sample_texts=texts)
    kwargs = env.spec.additional_wrappers[-1].kwargs
    assert kwargs["vocabulary"] == ("go", "to", "the", "door", "key")
    assert kwargs["sample_texts"] is None
    recreated = env.spec.make()
    assert recreated.get_wrapper_attr("vocabulary").words == env.vocabulary.words
