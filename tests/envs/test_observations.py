"""Observations follow the convention, stay inside their spaces and are fully reproducible."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from envs import GAME_IDS


def _run_episode(game_id: str, seed: int, actions: list[int], **kwargs) -> list[dict]:
    env = gym.make(game_id, **kwargs).unwrapped
    observation, info = env.reset(seed=seed)
    records = [{"obs": observation, "info": info}]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        records.append({"obs": observation, "reward": reward, "info": info})
        if terminated or truncated:
            break
    env.close()
    return records


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_observation_convention(game_id: str) -> None:
    env = gym.make(game_id).unwrapped
    space = env.observation_space
    assert space["image"].shape == (64, 64, 3) and space["image"].dtype == np.uint8
    assert space["text"].dtype == np.int64 and space["text"].low.min() == 0
    assert space["text"].high.max() == env.vocabulary.size - 1
    assert space["audio"].shape == (2, 1600) and space["audio"].dtype == np.float32
    observation, info = env.reset(seed=1)
    assert env.vocabulary.decode(observation["text"]) == info["instruction"]


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_whole_episode_is_deterministic_and_inside_spaces(game_id: str) -> None:
    actions = np.random.default_rng(5).integers(0, 3, size=200).tolist()
    first = _run_episode(game_id, 42, actions)
    second = _run_episode(game_id, 42, actions)
    assert len(first) == len(second) > 1
    space = gym.make(game_id).observation_space
    heard_sound = False
    for one, two in zip(first, second, strict=True):
        for key in ("image", "text", "audio"):
            assert one["obs"][key].tobytes() == two["obs"][key].tobytes(), key
        assert one["info"] == two["info"]
        assert space.contains(one["obs"])
        heard_sound |= bool(np.abs(one["obs"]["audio"]).max() > 0.01)
    assert heard_sound, "a whole episode without sound: the audio cue is missing"


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_different_seeds_give_different_episodes(game_id: str) -> None:
    env = gym.make(game_id).unwrapped
    starts = {
        env.reset(seed=seed)[0]["image"].tobytes() + env.instruction().encode()
        for seed in range(20)
    }
    assert len(starts) > 3


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_is_success_reported_at_every_episode_end(game_id: str) -> None:
    env = gym.make(game_id).unwrapped
    rng = np.random.default_rng(0)
    for seed in range(10):
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                assert isinstance(info["is_success"], bool)
                break
            assert "is_success" not in info
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_render_rgb_array_is_the_larger_display_frame(game_id: str) -> None:
    env = gym.make(game_id, render_mode="rgb_array")
    observation, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] > observation["image"].shape[0] * 4
    assert frame.std() > 5  # something was drawn


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_human_render_mode_runs_headless(game_id: str) -> None:
    env = gym.make(game_id, render_mode="human")
    env.reset(seed=0)
    for _ in range(3):
        _, _, terminated, truncated, _ = env.step(0)
        if terminated or truncated:
            env.reset()
    env.close()


@pytest.mark.parametrize("size", [48, (40, 72)])
def test_image_size_is_configurable(size) -> None:
    env = gym.make("mmagent/Beacon-v0", image_size=size).unwrapped
    observation, _ = env.reset(seed=0)
    expected = (size, size) if isinstance(size, int) else size
    assert observation["image"].shape == (*expected, 3)
    assert env.observation_space["image"].shape == (*expected, 3)


def test_audio_format_is_configurable() -> None:
    env = gym.make(
        "mmagent/CueMatch-v0", sample_rate=8000, audio_channels=1, step_seconds=0.05
    ).unwrapped
    observation, _ = env.reset(seed=0)
    assert observation["audio"].shape == (1, 400)


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_last_action_is_observed_one_hot_when_asked_for(game_id: str) -> None:
    assert "last_action" not in gym.make(game_id).observation_space.spaces
    env = gym.make(game_id, observe_last_action=True).unwrapped
    n_actions = int(env.action_space.n)
    space = env.observation_space["last_action"]
    assert space.shape == (n_actions,) and space.dtype == np.float32
    observation, _ = env.reset(seed=3)
    np.testing.assert_array_equal(observation["last_action"], np.zeros(n_actions))
    for action in (n_actions - 1, 0):
        observation, _, terminated, truncated, _ = env.step(action)
        assert observation in env.observation_space
        np.testing.assert_array_equal(observation["last_action"], np.eye(n_actions)[action])
        if terminated or truncated:
            break
    observation, _ = env.reset(seed=4)  # a new episode forgets the last one's action
    np.testing.assert_array_equal(observation["last_action"], np.zeros(n_actions))


def test_observe_last_action_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="observe_last_action must be True or False"):
        gym.make(GAME_IDS[0], observe_last_action=1)
