"""Watching policies: loading a model from a .zip or a run directory; errors that say the fix."""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch import (
    ModelPolicy,
    Policy,
    RandomPolicy,
    add_watch_arguments,
    find_model_file,
    load_policy,
    resolve_env_id,
    run_watch,
)

GAME = "mmagent/CueMatch-v0"
OTHER_GAME = "mmagent/Beacon-Easy-v0"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory as training leaves it: model.zip and config.yaml naming the game."""
    directory = tmp_path_factory.mktemp("run")
    env = gym.make(GAME)
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, n_epochs=1, device="cpu")
    model.learn(8)
    model.save(directory / "model.zip")
    (directory / "config.yaml").write_text(
        f"env_id: {GAME}\nenv_kwargs:\n  max_steps: 12\nseed: 0\n"
    )
    env.close()
    return directory


def _parse(*argv: str) -> argparse.Namespace:
    return add_watch_arguments(argparse.ArgumentParser(prog="mmagent watch")).parse_args(argv)


@pytest.fixture(scope="module")
def loaded_policy(run_dir) -> ModelPolicy:
    return load_policy(run_dir, gym.make(GAME), deterministic=True)


def test_model_policy_reports_probabilities_and_value(loaded_policy) -> None:
    env = gym.make(GAME)
    observation, _ = env.reset(seed=0)
    policy = loaded_policy
    assert isinstance(policy, Policy) and policy.deterministic
    action, info = policy.act(observation)
    assert info.action_probs is not None and info.action_probs.shape == (6,)
    assert info.action_probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert action == int(np.argmax(info.action_probs)) and env.action_space.contains(action)
    assert isinstance(info.value, float)
    predicted, _ = policy.model.predict(observation, deterministic=True)
    assert action == int(predicted)
    env.step(action)


def test_sampled_actions_follow_the_probabilities(loaded_policy) -> None:
    env = gym.make(GAME)
    observation, _ = env.reset(seed=0)
    sampling = ModelPolicy(loaded_policy.model, deterministic=False)
    actions = {sampling.act(observation)[0] for _ in range(16)}
    assert len(actions) > 1  # an untrained policy is close to uniform over 6 actions


def test_random_policy_shows_uniform_probabilities() -> None:
    action_space = gym.spaces.Discrete(4)
    action, info = RandomPolicy(action_space, seed=0).act(None)
    assert action_space.contains(action) and info.value is None
    assert np.allclose(info.action_probs, 0.25)


def test_run_directory_prefers_model_zip_and_names_the_game(run_dir, tmp_path) -> None:
    assert find_model_file(run_dir) == run_dir / "model.zip"
    assert resolve_env_id(run_dir, None) == (GAME, {"max_steps": 12})
    assert resolve_env_id(run_dir, GAME) == (GAME, {"max_steps": 12})
    assert resolve_env_id(run_dir / "model.zip", OTHER_GAME) == (OTHER_GAME, {})
    best_only = tmp_path / "best"
    best_only.mkdir()
    (best_only / "best_model.zip").write_bytes((run_dir / "model.zip").read_bytes())
    assert find_model_file(best_only) == best_only / "best_model.zip"
    with pytest.raises(ValueError, match="--env"):
        resolve_env_id(best_only, None)


def test_missing_model_names_the_path_and_what_was_expected(tmp_path) -> None:
    env = gym.make(GAME)
    with pytest.raises(FileNotFoundError, match=r"nothing\.zip.*model \.zip"):
        load_policy(tmp_path / "nothing.zip", env)
    with pytest.raises(FileNotFoundError, match=r"holds no model\.zip"):
        load_policy(tmp_path, env)


def test_model_of_another_game_names_both_spaces_and_the_fix(run_dir) -> None:
    env = gym.make(OTHER_GAME)
    with pytest.raises(ValueError, match="observation space") as error:
        load_policy(run_dir, env)
    message = str(error.value)
    assert "model:" in message and "env:" in message and "--env" in message
    assert "(2, 1600)" in message and "Box(0, 16, (12,)" in message


def test_model_with_another_action_space_names_it(run_dir) -> None:
    env = gym.make(GAME, n_pads=4)  # same observations, one action fewer
    with pytest.raises(ValueError, match=r"action space.*Discrete\(6\).*Discrete\(5\)"):
        load_policy(run_dir, env)


def test_cli_records_a_run_directory_headless(run_dir, tmp_path, capsys) -> None:
    video = tmp_path / "watched.mp4"
    args = _parse(str(run_dir), "--record", str(video), "--episodes", "1", "--deterministic")
    assert run_watch(args) == 0
    assert video.is_file() and video.stat().st_size > 1000
    assert "recorded 1 episode(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nowhere/model.zip", "--env", GAME], "does not exist"),
        (["--policy", "random"], "--env ID"),
        (["model.zip", "--policy", "random", "--env", GAME], "takes no model"),
        ([], "run directory or a model .zip"),
    ],
)
def test_cli_errors_exit_2_with_the_fix(argv, message, capsys) -> None:
    assert run_watch(_parse(*argv)) == 2
    assert message in capsys.readouterr().err


def test_cli_with_another_games_env_explains(run_dir, capsys) -> None:
    assert run_watch(_parse(str(run_dir), "--env", OTHER_GAME, "--record", "x.mp4")) == 2
    assert "pass the game it was trained on with --env" in capsys.readouterr().err
