"""Beacon's sound palette: one synthesised waveform per beacon sound, plus the bump."""

from __future__ import annotations

import numpy as np

from envs.core.audio import chirp, decay, envelope, harmonic_tone, noise_burst, tone

PEAK_LEVEL = 0.6
BUMP_LEVEL = 0.3


def _normalised(wave: np.ndarray, level: float) -> np.ndarray:
    peak = float(np.max(np.abs(wave))) or 1.0
    return (wave * (level / peak)).astype(np.float32)


def beacon_sounds(sample_rate: int) -> dict[str, np.ndarray]:
    """Waveforms for every sound in :data:`envs.beacon.rules.SOUNDS`, distinct in spectrum.

    Each lasts under 0.1 s and is played once per step by its beacon.
    """
    nyquist_margin = 0.45 * sample_rate
    hiss_generator = np.random.default_rng(7)  # fixed: the hiss is the same in every episode
    palette = {
        "beeping": envelope(tone(1000.0, 0.06, sample_rate), sample_rate),
        "buzzing": envelope(
            harmonic_tone(150.0, 0.09, sample_rate, harmonics=(1.0, 0.8, 0.6, 0.5, 0.4, 0.3)),
            sample_rate,
        ),
        "chirping": envelope(
            chirp(min(1800.0, nyquist_margin / 2), min(3600.0, nyquist_margin), 0.05, sample_rate),
            sample_rate,
        ),
        "ringing": decay(
            harmonic_tone(660.0, 0.09, sample_rate, harmonics=(1.0, 0.6, 0.3)),
            sample_rate,
            half_life=0.03,
        ),
        "hissing": envelope(noise_burst(0.08, sample_rate, hiss_generator), sample_rate),
    }
    return {name: _normalised(wave, PEAK_LEVEL) for name, wave in palette.items()}


def bump_sound(sample_rate: int) -> np.ndarray:
    """A short low thud for walking into a wall or an obstacle."""
    thud = decay(tone(90.0, 0.05, sample_rate), sample_rate, half_life=0.01)
    return _normalised(envelope(thud, sample_rate, attack=0.002), BUMP_LEVEL)
