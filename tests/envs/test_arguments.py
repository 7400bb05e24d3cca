"""Bad constructor arguments raise ValueError naming the argument."""

from __future__ import annotations

import gymnasium as gym
import pytest

from envs.beacon import BeaconEnv
from envs.cue_match import CueMatchEnv

BAD_BASE_ARGUMENTS = [
    ("image_size", 0),
    ("image_size", (64, -1)),
    ("image_size", "big"),
    ("display_size", -5),
    ("sample_rate", 0),
    ("sample_rate", -16000),
    ("audio_channels", 3),
    ("step_seconds", 0.0),
    ("instruction_length", 0),
    ("max_steps", 0),
    ("render_mode", "ascii"),
]

BAD_GAME_ARGUMENTS = [
    (BeaconEnv, "arena_size", 0),
    (BeaconEnv, "arena_size", 2),
    (BeaconEnv, "n_landmarks", 2),
    (BeaconEnv, "n_landmarks", 16),
    (BeaconEnv, "n_landmarks", 4.0),
    (BeaconEnv, "n_obstacles", -1),
    (BeaconEnv, "view_radius", 0),
    (BeaconEnv, "view_radius", 1.5),
    (CueMatchEnv, "n_pads", 1),
    (CueMatchEnv, "n_pads", 10),
    (CueMatchEnv, "max_cue_delay", -1),
    (CueMatchEnv, "max_cue_delay", 12),
]


@pytest.mark.parametrize("game_class", [BeaconEnv, CueMatchEnv])
@pytest.mark.parametrize(("name", "value"), BAD_BASE_ARGUMENTS)
def test_bad_base_argument_is_named(game_class, name: str, value) -> None:
    expected = "audio_channels" if name == "audio_channels" else name
    with pytest.raises(ValueError, match=expected):
        game_class(**{name: value})


@pytest.mark.parametrize(("game_class", "name", "value"), BAD_GAME_ARGUMENTS)
def test_bad_game_argument_is_named(game_class, name: str, value) -> None:
    with pytest.raises(ValueError, match=name):
        game_class(**{name: value})


def test_crowded_arena_is_rejected_with_the_fix() -> None:
    with pytest.raises(ValueError, match="arena_size=4 is too small"):
        BeaconEnv(arena_size=4, n_obstacles=8)


def test_unknown_variant_id_is_an_error() -> None:
    with pytest.raises(gym.error.Error, match="Beacon-Huge"):
        gym.make("mmagent/Beacon-Huge-v0")


def test_out_of_range_action_is_rejected() -> None:
    env = BeaconEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        env.step(3)
