"""Every registered game passes Gymnasium's and SB3's env checkers and builds vec envs."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

import mmagent
from envs import GAME_IDS


def test_import_registers_every_game() -> None:
    assert set(mmagent.GAME_IDS) == set(GAME_IDS)
    assert {"mmagent/CueMatch-v0", "mmagent/Beacon-v0", "mmagent/Beacon-Easy-v0"} <= set(GAME_IDS)
    for game_id in GAME_IDS:
        assert game_id in gym.registry


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_gymnasium_env_checker(game_id: str) -> None:
    env = gym.make(game_id, render_mode="rgb_array").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning is a defect here
        gymnasium_check_env(env, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_stable_baselines3_env_checker(game_id: str) -> None:
    env = gym.make(game_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (channels, samples) audio is a 2-D Box by design; the multimodal extractor reads it.
        warnings.filterwarnings("ignore", message="Your observation audio has an unconventional")
        sb3_check_env(env, warn=True)
    env.close()


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_make_vec_env_steps(game_id: str) -> None:
    vec_env = make_vec_env(game_id, n_envs=2, seed=0)
    observations = vec_env.reset()
    assert observations["image"].shape == (2, 64, 64, 3)
    assert observations["audio"].shape == (2, 2, 1600)
    for _ in range(20):
        observations, _, _, _ = vec_env.step([vec_env.action_space.sample() for _ in range(2)])
    assert observations["text"].shape[0] == 2
    vec_env.close()
