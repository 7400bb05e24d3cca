"""The example game on the base: under 80 lines, registered by import, hearing matters, and
``mmagent train`` / ``mmagent watch --record`` work on it as on a built-in game."""

from __future__ import annotations

from pathlib import Path

import av
import gymnasium as gym
import numpy as np
import pygame
from gymnasium.utils.env_checker import check_env

import examples.sonar_dig as sonar_dig
import mmagent.play as play_module
from mmagent.cli import main

SPEC = "examples.sonar_dig:examples/SonarDig-v0"
EXAMPLE_FILE = Path(sonar_dig.__file__)


def test_the_example_fits_in_80_lines() -> None:
    lines = EXAMPLE_FILE.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 80, f"{EXAMPLE_FILE.name} has {len(lines)} lines"


def test_importing_the_module_registers_a_valid_env() -> None:
    env = gym.make(SPEC, image_size=40)
    assert "examples/SonarDig-v0" in gym.registry
    assert env.observation_space["image"].shape == (40, 40, 3)
    check_env(env.unwrapped, skip_render_check=True)


def _audio_for(digger: int, beacons: dict[str, int]) -> np.ndarray:
    game = sonar_dig.SonarDigEnv()
    game.reset(seed=0)
    game.digger, game.beacons = digger, beacons
    return game.step(0 if digger > 0 else 1)[0]["audio"]


def test_only_the_sound_tells_where_the_beacons_are() -> None:
    # Beacons to the right of the digger sound louder on the right, and the reverse.
    left, right = np.abs(_audio_for(0, {"high": 5, "low": 6})).max(axis=1)
    assert right > 2 * left
    left, right = np.abs(_audio_for(6, {"high": 0, "low": 1})).max(axis=1)
    assert left > 2 * right
    # The image does not show them: two layouts with the digger in one place look the same.
    first, second = sonar_dig.SonarDigEnv(), sonar_dig.SonarDigEnv()
    for game, beacons in ((first, {"high": 1, "low": 5}), (second, {"high": 6, "low": 0})):
        game.reset(seed=0)
        game.digger, game.beacons = 3, beacons
    np.testing.assert_array_equal(first.step(0)[0]["image"], second.step(0)[0]["image"])


def test_digging_at_the_named_beacon_wins() -> None:
    game = sonar_dig.SonarDigEnv()
    _, info = game.reset(seed=1)
    target = game.beacons[game.wanted]
    while game.digger != target:
        game.step(1 if target > game.digger else 0)
    _, reward, terminated, _, info = game.step(2)
    assert (reward, terminated, info["is_success"]) == (1.0, True, True)
    assert info["instruction"] == f"dig at the {game.wanted} beep"


def test_keyboard_play_walks_with_arrows_and_digs_with_space(monkeypatch) -> None:
    keys = [pygame.K_RIGHT, pygame.K_SPACE]
    presses = [[pygame.event.Event(pygame.KEYDOWN, key=key)] for key in keys]
    monkeypatch.setattr(
        play_module.pygame.event,
        "get",
        lambda: presses.pop(0) if presses else [pygame.event.Event(pygame.QUIT)],
    )
    summaries = play_module.play(SPEC, seed=0, episodes=1)
    same_game = sonar_dig.SonarDigEnv()
    same_game.reset(seed=0)
    same_game.step(1)  # right
    expected_reward = same_game.step(2)[1]  # dig
    assert [(summary.steps, summary.total_reward) for summary in summaries] == [
        (2, expected_reward)
    ]


def test_mmagent_train_and_watch_record_the_example(tmp_path) -> None:
    run_dir = tmp_path / "sonar"
    code = main(
        [
            "train", SPEC,
            "--total-timesteps", "256",
            "--n-envs", "2",
            "--device", "cpu",
            "--run-dir", str(run_dir),
            "--no-progress-bar",
            "--set", "n_steps=32",
            "--set", "batch_size=64",
            "--set", "n_epochs=1",
            "--set", "eval_freq=0",
            "--set", "checkpoint_freq=0",
            "--set", "final_eval_episodes=2",
            "--set", "env_kwargs.image_size=40",
            "--set", "policy_kwargs.net_arch=[32]",
        ]
    )  # fmt: skip
    assert code == 0
    assert (run_dir / "model.zip").is_file() and (run_dir / "eval.json").is_file()

    video = tmp_path / "sonar.mp4"
    assert main(["watch", str(run_dir), "--record", str(video), "--seed", "3"]) == 0
    with av.open(str(video)) as container:
        assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
        frames = sum(1 for _ in container.decode(video=0))
        container.seek(0)
        sound = np.concatenate([frame.to_ndarray().ravel() for frame in container.decode(audio=0)])
    assert frames >= 2  # the reset frame and at least one step
    assert np.abs(sound).max() > 0.05  # the beacons beep every step
