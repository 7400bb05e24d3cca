"""Headless recordings: a video and an audio stream, in sync, holding the sound the agent heard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch import PolicyInfo, VideoRecorder, watch
from mmagent.watch.recorder import VIDEO_FORMATS

av = pytest.importorskip("av")

LEFTMOST_PAD, RIGHTMOST_PAD = 0, 4
# With seed 0 CueMatch's first episode sounds the rightmost pad, its second the leftmost.
SEED_WITH_RIGHT_THEN_LEFT = 0


class AudioLog(gym.Wrapper):
    """Keeps every audio block the agent received, and the sounding pad of each episode."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.blocks: list[np.ndarray] = []
        self.tone_pads: list[int] = []

    def reset(self, **kwargs: Any):
        observation, info = self.env.reset(**kwargs)
        self.blocks.append(observation["audio"].copy())
        self.tone_pads.append(self.env.unwrapped.state.tone_pad)
        return observation, info

    def step(self, action: Any):
        result = self.env.step(action)
        self.blocks.append(result[0]["audio"].copy())
        return result


class WaitPolicy:
    """Never presses: CueMatch runs to its time limit with the tone sounding."""

    def act(self, observation: Any) -> tuple[int, PolicyInfo]:
        return 0, PolicyInfo()


def _decode(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        kinds = sorted(stream.type for stream in container.streams)
        video = container.streams.video[0]
        frames = list(container.decode(video=0))
        fps = float(video.average_rate)
    result: dict[str, Any] = {"kinds": kinds, "frames": len(frames), "fps": fps}
    if "audio" in kinds:
        with av.open(str(path)) as container:
            decoded = list(container.decode(audio=0))
        result["audio"] = np.concatenate([frame.to_ndarray() for frame in decoded], axis=1)
        result["rate"] = decoded[0].sample_rate
    return result


def _energy(block: np.ndarray) -> np.ndarray:
    return (block.astype(np.float64) ** 2).sum(axis=1)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_two_episodes_record_in_sync_with_the_sound_the_agent_heard(tmp_path, suffix) -> None:
    env = AudioLog(gym.make("mmagent/CueMatch-v0", render_mode="rgb_array", max_steps=6))
    path = tmp_path / f"episodes{suffix}"
    summaries = watch(env, WaitPolicy(), episodes=2, record=path, seed=SEED_WITH_RIGHT_THEN_LEFT)

    assert [summary.ended for summary in summaries] == ["truncated", "truncated"]
    decoded = _decode(path)
    assert decoded["kinds"] == ["audio", "video"]
    # One frame per observation: each episode's reset frame plus one per step.
    steps = sum(summary.steps for summary in summaries)
    assert decoded["frames"] == steps + len(summaries) == len(env.blocks) == 14
    video_seconds = decoded["frames"] / decoded["fps"]
    audio_seconds = decoded["audio"].shape[1] / decoded["rate"]
    assert abs(video_seconds - audio_seconds) <= 1 / decoded["fps"]
    assert video_seconds == pytest.approx(14 * 0.1)

    heard = np.concatenate(env.blocks, axis=1)
    recorded = decoded["audio"]
    assert _energy(heard).sum() > 0 and _energy(recorded).sum() > 0.5 * _energy(heard).sum()
    # The tone comes from the sounding pad's side: right in episode 1, left in episode 2.
    assert env.tone_pads == [RIGHTMOST_PAD, LEFTMOST_PAD]
    half = recorded.shape[1] // 2
    first_left, first_right = _energy(recorded[:, :half])
    second_left, second_right = _energy(recorded[:, half:])
    assert first_right > 4 * first_left
    assert second_left > 4 * second_right


def test_gif_has_frames_and_no_sound(tmp_path) -> None:
    path = tmp_path / "clip.gif"
    summaries = watch("mmagent/Beacon-Easy-v0", None, max_steps=4, record=path, seed=1)
    decoded = _decode(path)
    assert decoded["kinds"] == ["video"]
    assert decoded["frames"] == summaries[0].steps + 1 == 5


def test_silent_steps_give_a_silent_track(tmp_path) -> None:
    path = tmp_path / "silent.mp4"
    with VideoRecorder(path, fps=10, sample_rate=16_000, channels=2) as recorder:
        for shade in range(0, 250, 50):
            recorder.add_step(np.full((48, 64, 3), shade, np.uint8), None)
    decoded = _decode(path)
    assert decoded["frames"] == 5 and np.abs(decoded["audio"]).max() < 1e-3


def test_recorder_pads_odd_frames_and_writes_atomically(tmp_path) -> None:
    path = tmp_path / "odd.mp4"
    path.write_bytes(b"previous")
    recorder = VideoRecorder(path, fps=10, sample_rate=16_000, channels=1)
    recorder.add_step(np.zeros((419, 385, 3), np.uint8), np.zeros((1, 1600), np.float32))
    assert path.read_bytes() == b"previous"  # nothing replaced until close()
    assert recorder.close() == path
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["odd.mp4"]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (386, 420)


def test_a_failed_recording_leaves_no_file(tmp_path) -> None:
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"), VideoRecorder(path, 10, 16_000, 2) as recorder:
        recorder.add_step(np.zeros((32, 32, 3), np.uint8), np.zeros((2, 1600), np.float32))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("frame", "audio", "message"),
    [
        (np.zeros((32, 32, 3), np.float32), None, "uint8"),
        (np.zeros((32, 32, 3), np.uint8), np.zeros((2, 800), np.float32), r"\(2, 1600\)"),
        (np.zeros((32, 32, 3), np.uint8), np.zeros((1, 1600), np.float32), "channels"),
    ],
)
def test_recorder_rejects_bad_steps_naming_the_fix(tmp_path, frame, audio, message) -> None:
    recorder = VideoRecorder(tmp_path / "bad.mp4", fps=10, sample_rate=16_000, channels=2)
    with pytest.raises(ValueError, match=message):
        recorder.add_step(frame, audio)
    recorder.abort()


def test_unknown_suffix_names_the_choices(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\.avi.*\.mp4, \.webm, \.gif"):
        VideoRecorder(tmp_path / "clip.avi", fps=10)
    assert set(VIDEO_FORMATS) == {".mp4", ".webm", ".gif"}
