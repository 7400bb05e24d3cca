"""register_game validates ids and games; resolve_env_spec turns every spec form into an id."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from envs.cue_match import CueMatchEnv
from examples.sonar_dig import SonarDigEnv
from mmagent.plugins import (
    GameRegistrationError,
    make_env,
    make_multimodal,
    register_game,
    resolve_env_spec,
)


class TinyEnv(gym.Env):
    """A one-step Gymnasium env that is not a MultimodalGame."""

    observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, render_mode: str | None = None, level: int = 0) -> None:
        self.render_mode = render_mode
        self.level = level

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, True, False, {}


def make_tiny_multimodal(render_mode: str | None = None) -> gym.Env:
    """A factory: a wrapped third-party-style env, as a user registers one."""
    return make_multimodal(TinyEnv(render_mode), instruction="press any key")


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Ids a test registers; removed afterwards so tests stay independent."""
    ids: list[str] = []
    yield ids
    for game_id in ids:
        gym.registry.pop(game_id, None)


@pytest.mark.parametrize(
    "game_id", ["Tiny-v0", "tests/Tiny", "tests/Tiny-vX", "tests/9Tiny-v0", "a/b/Tiny-v0", ""]
)
def test_malformed_ids_are_rejected_with_the_expected_form(game_id) -> None:
    with pytest.raises(GameRegistrationError, match="must look like 'namespace/Name-vN'"):
        register_game(game_id, TinyEnv)


@pytest.mark.parametrize(
    ("game", "message"),
    [
        (dict, "builtins.dict is not a game: subclass envs.core.MultimodalGame"),
        (42, "cannot register 42"),
        ("not an entry point", "must be 'module.path:Name'"),
    ],
)
def test_things_that_are_not_games_are_rejected(game, message) -> None:
    with pytest.raises(GameRegistrationError, match=message):
        register_game("tests/NotAGame-v0", game)
    assert "tests/NotAGame-v0" not in gym.registry


def test_a_class_registers_by_import_path_with_default_kwargs(registered) -> None:
    registered.append(register_game("tests/Tiny-v0", TinyEnv, level=3))
    spec = gym.registry["tests/Tiny-v0"]
    assert spec.entry_point == f"{__name__}:TinyEnv"  # survives pickling and fresh processes
    env = gym.make("tests/Tiny-v0")
    assert env.unwrapped.level == 3
    assert gym.make("tests/Tiny-v0", level=5).unwrapped.level == 5


def test_registering_again_is_harmless_but_a_different_game_is_an_error(registered) -> None:
    registered.append(register_game("tests/Tiny-v0", TinyEnv))
    assert register_game("tests/Tiny-v0", TinyEnv) == "tests/Tiny-v0"
    with pytest.raises(GameRegistrationError, match=r"already registered.*TinyEnv.*-v1"):
        register_game("tests/Tiny-v0", CueMatchEnv)
    with pytest.raises(GameRegistrationError, match="already registered"):
        register_game("tests/Tiny-v0", TinyEnv, level=1)


def test_local_classes_and_factories_register_as_objects(registered) -> None:
    class LocalEnv(TinyEnv):
        pass

    registered.append(register_game("tests/Local-v0", LocalEnv))
    assert gym.registry["tests/Local-v0"].entry_point is LocalEnv
    assert isinstance(gym.make("tests/Local-v0").unwrapped, LocalEnv)
    registered.append(register_game("tests/TinyWrapped-v0", make_tiny_multimodal))
    observation, info = gym.make("tests/TinyWrapped-v0").reset(seed=0)
    assert set(observation) == {"vector", "text"} and info["instruction"] == "press any key"


def test_resolve_accepts_every_spec_form(registered) -> None:
    assert resolve_env_spec("mmagent/CueMatch-v0") == "mmagent/CueMatch-v0"
    module_form = "examples.sonar_dig:examples/SonarDig-v0"
    assert resolve_env_spec(module_form) == module_form  # gym.make re-imports it anywhere
    registered.append(resolve_env_spec("examples.sonar_dig:SonarDigEnv"))
    assert registered[-1] == "custom/SonarDigEnv-v0"
    assert isinstance(gym.make(registered[-1]).unwrapped, SonarDigEnv)
    assert resolve_env_spec("examples.sonar_dig:SonarDigEnv") == "custom/SonarDigEnv-v0"
    registered.append(resolve_env_spec(f"{__name__}:make_tiny_multimodal"))
    assert registered[-1] == "custom/make_tiny_multimodal-v0"
    assert isinstance(make_env(f"{__name__}:make_tiny_multimodal"), gym.Env)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mmagent/Cuematch-v0", "did you mean mmagent/CueMatch-v0"),
        ("NoSuchGame-v0", "registered mmagent games: .*mmagent/CueMatch-v0"),
        ("no_such_package.games:Game", "cannot import 'no_such_package.games'.*PYTHONPATH"),
        ("examples.sonar_dig:Nope", "no 'Nope'.*registers examples/SonarDig-v0"),
        ("examples.sonar_dig:PITCHES", "is a dict, not a game class"),
        ("a:b:c", "one colon"),
        ("  ", "non-empty"),
    ],
)
def test_unresolvable_specs_say_what_to_write(spec, message) -> None:
    with pytest.raises(GameRegistrationError, match=message):
        resolve_env_spec(spec)


def test_make_env_pickles_for_subprocess_vec_envs() -> None:
    factory = pickle.loads(
        pickle.dumps(functools.partial(make_env, "examples.sonar_dig:SonarDigEnv"))
    )
    env = factory(image_size=40)
    assert env.observation_space["image"].shape == (40, 40, 3)
    gym.registry.pop("custom/SonarDigEnv-v0", None)
