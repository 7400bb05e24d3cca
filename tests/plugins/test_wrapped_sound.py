"""A wrapped env's own sound is heard and recorded at its own sample rate.

The toy envs emit audio the way third-party envs do: int16 stereo samples-first ``(S, 2)``, or
uint8 mono; MapToConvention maps it onto ``audio`` and ``mmagent.watch`` records it (PyAV).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from mmagent.plugins import MapToConvention, make_multimodal, register_game
from mmagent.watch import watch
from mmagent.watch.rollout import UnknownSampleRateWarning, env_audio_format

av = pytest.importorskip("av")

RATE = 22_050
SAMPLES_PER_STEP = 2_205  # 10 steps per second
TONE_HZ = 1_000.0


class ToneEnv(gym.Env):
    """A screen and a steady 1 kHz tone, int16 stereo ``(samples, channels)`` like many
    emulators give it; the audio buffer is zeros at reset ("no audio yet")."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        render_mode: str | None = "rgb_array",
        rate: int = RATE,
        samples: int = SAMPLES_PER_STEP,
        pcm: str = "int16",
        declare_rate: bool = False,
    ) -> None:
        self.render_mode = render_mode
        self.rate, self.samples, self.pcm = rate, samples, pcm
        if declare_rate:
            self.metadata = {**type(self).metadata, "audio_sample_rate": rate}
        sound = (
            spaces.Box(-32768, 32767, (samples, 2), np.int16)
            if pcm == "int16"
            else spaces.Box(0, 255, (samples,), np.uint8)
        )
        self.observation_space = spaces.Dict(
            {"screen": spaces.Box(0, 255, (32, 32, 3), np.uint8), "sound": sound}
        )
        self.action_space = spaces.Discrete(2)
        self.clock = 0

    def _sound(self, silent: bool) -> np.ndarray:
        shape = self.observation_space["sound"].shape
        if silent:
            return np.zeros(shape, dtype=self.observation_space["sound"].dtype)
        t = (self.clock * self.samples + np.arange(self.samples)) / self.rate
        wave = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
        if self.pcm == "int16":
            return (np.stack([wave, wave], axis=1) * 32767).astype(np.int16)
        return np.rint(wave * 127 + 128).astype(np.uint8)

    def _observation(self, silent: bool = False) -> dict[str, np.ndarray]:
        screen = np.full((32, 32, 3), 40 * (self.clock % 6), dtype=np.uint8)
        return {"screen": screen, "sound": self._sound(silent)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.clock = 0
        return self._observation(silent=True), {}

    def step(self, action: Any):
        self.clock += 1
        return self._observation(), 0.0, self.clock >= 6, False, {}

    def render(self) -> np.ndarray:
        return np.full((48, 64, 3), 30 * (self.clock % 8), dtype=np.uint8)


gym.register("wrappedsound/Tone-v0", entry_point=ToneEnv)


def _recorded_audio(path) -> tuple[int, np.ndarray]:
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1, "the recording has no sound track"
        decoded = list(container.decode(audio=0))
    return decoded[0].sample_rate, np.concatenate([frame.to_ndarray() for frame in decoded], 1)


def _dominant_frequency(samples: np.ndarray, rate: int) -> float:
    mono = samples.mean(axis=0)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(mono.size)))
    return float(np.fft.rfftfreq(mono.size, 1.0 / rate)[np.argmax(spectrum)])


def make_tone(render_mode: str | None = "rgb_array") -> gym.Env:
    """The factory a user registers: the env's own sound at its own rate, in one call."""
    return make_multimodal(
        gym.make("wrappedsound/Tone-v0", render_mode=render_mode), sample_rate=RATE
    )


TONE_ID = register_game("wrappedsound/ToneHeard-v0", make_tone)


@pytest.mark.parametrize("made", ["constructed", "gym.make", "registered id"])
def test_int16_samples_first_audio_is_recorded_at_its_own_rate(tmp_path, made):
    if made == "registered id":
        env: gym.Env | str = TONE_ID  # as `mmagent watch ID --record` makes it
        checked = gym.make(TONE_ID)
    else:
        inner = gym.make("wrappedsound/Tone-v0") if made == "gym.make" else ToneEnv()
        env = checked = make_multimodal(inner, sample_rate=RATE)
    assert checked.observation_space["audio"].shape == (2, SAMPLES_PER_STEP)
    assert env_audio_format(checked) == (RATE, 2, SAMPLES_PER_STEP)

    path = tmp_path / "tone.mp4"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownSampleRateWarning)
        summaries = watch(env, None, episodes=1, record=path, seed=0)
    assert summaries[0].steps == 6

    rate, audio = _recorded_audio(path)
    assert rate == RATE
    assert audio.shape[0] == 2
    # 7 observations (reset + 6 steps) of 0.1 s each; the reset one is silence.
    assert audio.shape[1] >= 6 * SAMPLES_PER_STEP
    tone = audio[:, SAMPLES_PER_STEP : 6 * SAMPLES_PER_STEP]
    assert np.sqrt(np.mean(tone**2)) > 0.2  # a 0.5-amplitude sine: RMS ~0.35
    assert abs(_dominant_frequency(tone, rate) - TONE_HZ) < 20


def test_a_rate_declared_in_the_env_metadata_is_used(tmp_path):
    """uint8 mono at 8 kHz, declared by the env: no sample_rate= needed."""
    env = make_multimodal(
        gym.make("wrappedsound/Tone-v0", rate=8_000, samples=800, pcm="uint8", declare_rate=True)
    )
    assert env_audio_format(env) == (8_000, 1, 800)
    path = tmp_path / "mono.mp4"
    watch(env, None, episodes=1, record=path, seed=0)
    rate, audio = _recorded_audio(path)
    assert rate == 8_000
    tone = audio[:, 800 : 6 * 800]
    assert abs(_dominant_frequency(tone, rate) - TONE_HZ) < 20


def test_an_all_zero_uint8_buffer_is_no_audio_yet_not_full_scale():
    env = make_multimodal(ToneEnv(rate=8_000, samples=800, pcm="uint8"), sample_rate=8_000)
    observation, _ = env.reset(seed=0)
    assert not observation["audio"].any()  # silence, not -1.0 (uint8 0) everywhere
    observation, *_ = env.step(0)
    assert 0.4 < np.abs(observation["audio"]).max() <= 0.51
    # 8-bit PCM silence (128) is silence too.
    silence = {"screen": np.zeros((32, 32, 3), np.uint8), "sound": np.full(800, 128, np.uint8)}
    mapped = MapToConvention(ToneEnv(rate=8_000, samples=800, pcm="uint8"), sample_rate=8_000)
    assert not mapped.observation(silence)["audio"].any()


def test_unknown_rate_warns_naming_the_argument(tmp_path):
    env = make_multimodal(ToneEnv())
    with pytest.warns(
        UnknownSampleRateWarning, match=r"make_multimodal\(env, sample_rate=\.\.\.\)"
    ):
        watch(env, None, episodes=1, record=tmp_path / "silent.mp4", seed=0)


def test_sample_rate_without_any_audio_is_not_silently_ignored():
    with pytest.warns(UserWarning, match="sample_rate=8000 is unused: the env has no audio"):
        make_multimodal(gym.make("CartPole-v1"), sample_rate=8_000)
    with pytest.raises(ValueError, match="sample_rate=8000 was given, but no observation"):
        MapToConvention(gym.make("CartPole-v1"), sample_rate=8_000)


def test_sample_rate_contradicting_the_metadata_is_an_error():
    with pytest.raises(ValueError, match="contradicts the env's metadata"):
        make_multimodal(ToneEnv(declare_rate=True), sample_rate=RATE * 2)


def test_an_added_sound_track_declares_its_rate_in_the_metadata():
    env = make_multimodal(gym.make("CartPole-v1"), sound=lambda context: None, sample_rate=8_000)
    assert env.metadata["audio_sample_rate"] == 8_000
    assert env_audio_format(env) == (8_000, 2, 800)
