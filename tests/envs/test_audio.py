"""Synthesis helpers, the mixer's panning and attenuation, and the games' audio cues."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from envs.beacon import rules as beacon_rules
from envs.core.audio import (
    AudioMixer,
    Listener,
    SoundEvent,
    chirp,
    envelope,
    noise_burst,
    stereo_gains,
    tone,
)

RATE = 16_000


def _energy(block: np.ndarray) -> np.ndarray:
    return (block.astype(np.float64) ** 2).sum(axis=1)


def _dominant_frequency(wave: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wave))
    return float(np.fft.rfftfreq(wave.size, 1 / RATE)[np.argmax(spectrum)])


def test_tone_has_its_frequency_and_length() -> None:
    wave = tone(440.0, 0.1, RATE)
    assert wave.dtype == np.float32 and wave.shape == (1600,)
    assert abs(_dominant_frequency(wave) - 440.0) <= 10.0


def test_chirp_sweeps_upwards() -> None:
    wave = chirp(500.0, 3000.0, 0.2, RATE)
    assert _dominant_frequency(wave[:800]) < _dominant_frequency(wave[-800:])


def test_noise_burst_is_reproducible_from_its_generator() -> None:
    one = noise_burst(0.05, RATE, np.random.default_rng(3))
    two = noise_burst(0.05, RATE, np.random.default_rng(3))
    assert np.array_equal(one, two) and np.abs(one).max() <= 1.0


def test_envelope_fades_in_and_out() -> None:
    shaped = envelope(np.ones(1600, np.float32), RATE, attack=0.01, release=0.01)
    assert shaped[0] == 0.0 and shaped[-1] == 0.0 and shaped[800] == 1.0


def test_equal_power_pan_keeps_loudness() -> None:
    listener = Listener((0.0, 0.0), (0.0, -1.0))
    for angle in np.linspace(0, 2 * math.pi, 13):
        position = (0.5 * math.cos(angle), 0.5 * math.sin(angle))
        left, right = stereo_gains(listener, position, reference_distance=1.0)
        assert left**2 + right**2 == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("heading", "position", "louder"),
    [
        ((0.0, -1.0), (-3.0, 0.0), "left"),  # facing up, source to the west
        ((0.0, -1.0), (3.0, 0.0), "right"),
        ((1.0, 0.0), (0.0, -3.0), "left"),  # facing east, source to the north
        ((0.0, 1.0), (-3.0, 0.0), "right"),  # facing down, source to the west
    ],
)
def test_source_side_sets_the_louder_channel(heading, position, louder) -> None:
    mixer = AudioMixer(RATE, 1600)
    block = mixer.mix([SoundEvent(tone(500.0, 0.1, RATE), position)], Listener((0.0, 0.0), heading))
    left, right = _energy(block)
    assert (left > 4 * right) if louder == "left" else (right > 4 * left)


def test_farther_source_is_quieter() -> None:
    mixer = AudioMixer(RATE, 1600)
    listener = Listener()
    wave = tone(500.0, 0.1, RATE)
    near = _energy(mixer.mix([SoundEvent(wave, (0.0, -2.0))], listener)).sum()
    far = _energy(mixer.mix([SoundEvent(wave, (0.0, -6.0))], listener)).sum()
    assert far < near / 4


def test_mixer_clips_offsets_and_mono() -> None:
    stereo = AudioMixer(RATE, 400)
    loud = [SoundEvent(np.ones(1000, np.float32), gain=3.0, offset=100)]
    block = stereo.mix(loud, Listener())
    assert block.shape == (2, 400) and block.max() == 1.0 and block[:, :100].max() == 0.0
    mono = AudioMixer(RATE, 400, channels=1).mix(loud, Listener())
    assert mono.shape == (1, 400)


def _beacon_with_one_sounding_landmark(offset: tuple[int, int], heading: int):
    env = gym.make("mmagent/Beacon-v0", n_obstacles=0).unwrapped
    env.reset(seed=0)
    agent = (4, 4)
    landmarks = (
        beacon_rules.Landmark((agent[0] + offset[0], agent[1] + offset[1]), sound="beeping"),
        beacon_rules.Landmark((0, 8), colour="red", shape="ball"),
    )
    env.state = beacon_rules.BeaconState(
        arena_size=9,
        agent=agent,
        heading=heading,
        obstacles=frozenset(),
        landmarks=landmarks,
        target_index=0,
        phrasing=0,
        grid=beacon_rules.build_grid(9, frozenset(), landmarks),
    )
    return env


@pytest.mark.parametrize(
    ("offset", "heading", "louder"),
    [((-3, 0), 0, "left"), ((3, 0), 0, "right"), ((0, -3), 1, "left"), ((0, 3), 1, "right")],
)
def test_beacon_target_side_is_heard_in_that_ear(offset, heading, louder) -> None:
    env = _beacon_with_one_sounding_landmark(offset, heading)
    left, right = _energy(env.mixer.mix(env.sounds(), env.listener()))
    assert (left > 2 * right) if louder == "left" else (right > 2 * left)


def test_beacon_farther_target_is_quieter() -> None:
    near_env = _beacon_with_one_sounding_landmark((0, -1), 0)
    far_env = _beacon_with_one_sounding_landmark((0, -4), 0)
    near = _energy(near_env.mixer.mix(near_env.sounds(), near_env.listener())).sum()
    far = _energy(far_env.mixer.mix(far_env.sounds(), far_env.listener())).sum()
    assert far < near / 4


def test_cue_match_tone_comes_from_its_pads_side() -> None:
    env = gym.make("mmagent/CueMatch-v0").unwrapped
    for seed in range(40):
        env.reset(seed=seed)
        env.state.cue_delay = 0
        if env.state.tone_pad in (0, env.n_pads - 1):
            break
    left, right = _energy(env.mixer.mix(env.sounds(), env.listener()))
    if env.state.tone_pad == 0:
        assert left > 2 * right
    else:
        assert right > 2 * left


def test_cue_match_pads_have_distinct_pitches() -> None:
    env = gym.make("mmagent/CueMatch-v0").unwrapped
    env.reset(seed=0)
    peaks = [_dominant_frequency(np.pad(wave, (0, 4000))) for wave in env._pad_tones]
    assert peaks == sorted(peaks) and len(set(np.round(peaks, -1))) == env.n_pads


def test_cue_match_is_silent_before_the_cue() -> None:
    env = gym.make("mmagent/CueMatch-v0").unwrapped
    for seed in range(50):
        observation, _ = env.reset(seed=seed)
        if env.state.cue_delay > 0:
            assert np.abs(observation["audio"]).max() == 0.0
            lit = env.state.lit_pad
            observation, *_ = env.step(0)
            while not env.state.cue_on:
                observation, *_ = env.step(0)
            assert np.abs(observation["audio"]).max() > 0.1
            assert lit == env.state.lit_pad
            return
    pytest.fail("no episode with a cue delay in 50 seeds")
