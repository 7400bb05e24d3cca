"""Recording keyboard play: a wrapper writes every reset and step, frame and sound, to one video."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch import RecordVideoWithAudio

av = pytest.importorskip("av")


def test_played_steps_are_recorded_when_the_env_closes(tmp_path) -> None:
    path = tmp_path / "played.mp4"
    # Keyboard play runs the game in human mode; the wrapper reads the game's display frame.
    env = RecordVideoWithAudio(
        gym.make("mmagent/CueMatch-v0", render_mode="human", max_steps=4, max_cue_delay=0), path
    )
    heard = [env.reset(seed=0)[0]["audio"]]
    for _ in range(4):
        heard.append(env.step(0)[0]["audio"])
    assert not path.exists()
    env.close()

    with av.open(str(path)) as container:
        assert sorted(stream.type for stream in container.streams) == ["audio", "video"]
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        recorded = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], 1)
    assert frames == 5
    expected = np.concatenate(heard, axis=1)
    assert np.abs(expected).max() > 0.1
    assert abs(recorded.shape[1] - expected.shape[1]) < 1600
    assert np.sqrt(np.mean(recorded**2)) == pytest.approx(np.sqrt(np.mean(expected**2)), rel=0.2)


def test_closing_without_steps_writes_nothing(tmp_path) -> None:
    env = RecordVideoWithAudio(gym.make("mmagent/Beacon-Easy-v0"), tmp_path / "empty.webm")
    env.close()
    assert list(tmp_path.iterdir()) == []
