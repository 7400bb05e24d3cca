"""Recall's sound palette: one tone per door, footsteps, a bump, and the opening door."""

from __future__ import annotations

import numpy as np

from envs.core.audio import decay, envelope, harmonic_tone, noise_burst, tone

LOWEST_TONE_HZ = 300.0
HIGHEST_TONE_HZ = 1200.0
TONE_SECONDS = 0.08
TONE_LEVEL = 0.8
FOOTSTEP_LEVEL = 0.2
BUMP_LEVEL = 0.3
OPEN_LEVEL = 0.5


def _normalised(wave: np.ndarray, level: float) -> np.ndarray:
    peak = float(np.max(np.abs(wave))) or 1.0
    return (wave * (level / peak)).astype(np.float32)


def door_frequencies(n_doors: int) -> np.ndarray:
    """Each door's pitch in Hz, geometrically spaced from low (left) to high (right)."""
    if n_doors == 1:
        return np.array([LOWEST_TONE_HZ])
    return LOWEST_TONE_HZ * (HIGHEST_TONE_HZ / LOWEST_TONE_HZ) ** (
        np.arange(n_doors) / (n_doors - 1)
    )


def door_tones(n_doors: int, sample_rate: int) -> list[np.ndarray]:
    """The tone each door plays while it is the sounding cue, under one step (0.08 s)."""
    return [
        _normalised(
            envelope(harmonic_tone(frequency, TONE_SECONDS, sample_rate), sample_rate),
            TONE_LEVEL,
        )
        for frequency in door_frequencies(n_doors)
    ]


def footstep_sound(sample_rate: int) -> np.ndarray:
    """A short soft scuff for every step walked (the same in every episode)."""
    scuff_generator = np.random.default_rng(11)  # fixed: every footstep sounds the same
    scuff = noise_burst(0.03, sample_rate, scuff_generator, smoothing=8)
    shaped = envelope(scuff, sample_rate, attack=0.002, release=0.01)
    return _normalised(decay(shaped, sample_rate, half_life=0.01), FOOTSTEP_LEVEL)


def bump_sound(sample_rate: int) -> np.ndarray:
    """A low thud for walking into the doors."""
    thud = decay(tone(90.0, 0.05, sample_rate), sample_rate, half_life=0.01)
    return _normalised(envelope(thud, sample_rate, attack=0.002), BUMP_LEVEL)


def open_sounds(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(right, wrong)``: a bright two-note chime for the right door, a low buzz otherwise."""
    half = 0.04
    right = np.concatenate(
        [
            envelope(tone(880.0, half, sample_rate), sample_rate, release=0.005),
            envelope(tone(1320.0, half, sample_rate), sample_rate),
        ]
    )
    wrong = envelope(
        harmonic_tone(110.0, 0.08, sample_rate, harmonics=(1.0, 0.9, 0.8, 0.7, 0.6)), sample_rate
    )
    return _normalised(right, OPEN_LEVEL), _normalised(wrong, OPEN_LEVEL)
