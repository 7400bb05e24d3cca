"""The training callback records an episode of the learning model, with sound, every N steps."""

from __future__ import annotations

import gymnasium as gym
import pytest
from stable_baselines3 import PPO

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch import RecordEpisodeCallback

av = pytest.importorskip("av")


def test_callback_writes_a_video_with_sound_during_learning(tmp_path) -> None:
    env = gym.make("mmagent/CueMatch-v0")
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, n_epochs=1, device="cpu")
    callback = RecordEpisodeCallback(
        "mmagent/CueMatch-v0", every_n_steps=8, video_dir=tmp_path / "videos", max_steps=3
    )
    model.learn(16, callback=callback)

    names = sorted(path.name for path in (tmp_path / "videos").iterdir())
    assert names == ["step_000000008.mp4", "step_000000016.mp4"]
    with av.open(str(tmp_path / "videos" / names[0])) as container:
        assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == callback.summaries[0].steps + 1


def test_callback_rejects_a_game_the_model_cannot_play(tmp_path) -> None:
    env = gym.make("mmagent/CueMatch-v0")
    model = PPO("MultiInputPolicy", env, n_steps=8, batch_size=8, device="cpu")
    callback = RecordEpisodeCallback(
        lambda: gym.make("mmagent/Beacon-Easy-v0"), every_n_steps=1, video_dir=tmp_path
    )
    with pytest.raises(ValueError, match="observation space"):
        model.learn(8, callback=callback)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every_n_steps": 0}, "every_n_steps"),
        ({"every_n_steps": 10, "video_format": "avi"}, "mp4, webm, gif"),
    ],
)
def test_callback_arguments_are_checked(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        RecordEpisodeCallback("mmagent/CueMatch-v0", video_dir=tmp_path, **kwargs)
