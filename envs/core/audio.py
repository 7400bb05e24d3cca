"""Audio for games: numpy sound synthesis and a mixer that places sounds around a listener.

Every sound is synthesised here (tones, chirps, noise bursts, envelopes); there are no audio
files. A step's sound is a list of :class:`SoundEvent`; :class:`AudioMixer` renders them into
one ``float32`` block of shape ``(channels, samples)`` for the step, with

* **equal-power stereo panning** by the source's direction relative to the listener's heading:
  ``pan = sin(bearing)`` (−1 full left, +1 full right), left gain ``cos((pan + 1)·π/4)``,
  right gain ``sin((pan + 1)·π/4)``, so loudness stays constant as a source moves across;
* **distance attenuation** ``reference_distance / max(distance, reference_distance)``
  (inverse distance, unity gain inside the reference distance);
* a hard clip to [−1, 1] (NaN or infinite samples are an error, never clipped).

Coordinates are screen-like: x grows to the right, y grows downwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TWO_PI = 2.0 * math.pi


def _sample_count(duration: float, sample_rate: int) -> int:
    if duration <= 0:
        raise ValueError(f"duration must be positive seconds, got {duration}")
    return max(1, round(duration * sample_rate))


def tone(
    frequency: float, duration: float, sample_rate: int, *, amplitude: float = 1.0
) -> np.ndarray:
    """A sine tone of ``frequency`` Hz lasting ``duration`` seconds, mono ``float32``."""
    times = np.arange(_sample_count(duration, sample_rate)) / sample_rate
    return (amplitude * np.sin(TWO_PI * frequency * times)).astype(np.float32)


def harmonic_tone(
    frequency: float,
    duration: float,
    sample_rate: int,
    *,
    harmonics: tuple[float, ...] = (1.0, 0.5, 0.25),
    amplitude: float = 1.0,
) -> np.ndarray:
    """A tone with overtones: ``harmonics[k]`` is the weight of the ``(k+1)``-th harmonic."""
    times = np.arange(_sample_count(duration, sample_rate)) / sample_rate
    wave = sum(
        weight * np.sin(TWO_PI * frequency * (index + 1) * times)
        for index, weight in enumerate(harmonics)
    )
    peak = float(np.max(np.abs(wave))) or 1.0
    return (amplitude * wave / peak).astype(np.float32)


def chirp(
    start_frequency: float,
    end_frequency: float,
    duration: float,
    sample_rate: int,
    *,
    amplitude: float = 1.0,
) -> np.ndarray:
    """A linear frequency sweep from ``start_frequency`` to ``end_frequency`` Hz."""
    count = _sample_count(duration, sample_rate)
    times = np.arange(count) / sample_rate
    sweep_rate = (end_frequency - start_frequency) / (count / sample_rate)
    phase = TWO_PI * (start_frequency * times + 0.5 * sweep_rate * times**2)
    return (amplitude * np.sin(phase)).astype(np.float32)


def noise_burst(
    duration: float,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    amplitude: float = 1.0,
    smoothing: int = 1,
) -> np.ndarray:
    """White noise from ``rng``; ``smoothing`` > 1 low-passes it with a moving average."""
    if smoothing < 1:
        raise ValueError(f"smoothing must be at least 1, got {smoothing}")
    noise = rng.uniform(-1.0, 1.0, _sample_count(duration, sample_rate))
    if smoothing > 1:
        noise = np.convolve(noise, np.full(smoothing, 1.0 / smoothing), mode="same")
        noise /= float(np.max(np.abs(noise))) or 1.0
    return (amplitude * noise).astype(np.float32)


def envelope(
    wave: np.ndarray, sample_rate: int, *, attack: float = 0.005, release: float = 0.02
) -> np.ndarray:
    """``wave`` with a linear fade-in of ``attack`` and fade-out of ``release`` seconds.

    Fades keep a sound from clicking when it starts or stops mid-waveform.
    """
    shaped = np.array(wave, dtype=np.float32)
    count = shaped.shape[-1]
    attack_count = min(count, round(attack * sample_rate))
    release_count = min(count - attack_count, round(release * sample_rate))
    if attack_count:
        shaped[..., :attack_count] *= np.linspace(0.0, 1.0, attack_count, dtype=np.float32)
    if release_count:
        shaped[..., count - release_count :] *= np.linspace(
            1.0, 0.0, release_count, dtype=np.float32
        )
    return shaped


def decay(wave: np.ndarray, sample_rate: int, *, half_life: float) -> np.ndarray:
    """``wave`` under an exponential decay that halves its level every ``half_life`` seconds."""
    times = np.arange(wave.shape[-1]) / sample_rate
    return (wave * np.exp2(-times / half_life)).astype(np.float32)


@dataclass(frozen=True)
class Listener:
    """Where the sound is heard from: a position and the direction the listener faces.

    ``heading`` is a direction vector (need not be unit length); the default faces up the screen.
    """

    position: tuple[float, float] = (0.0, 0.0)
    heading: tuple[float, float] = (0.0, -1.0)


@dataclass(frozen=True)
class SoundEvent:
    """One sound made during a step.

    :param waveform: mono samples in [−1, 1]; longer than a step is cut at the step's end.
    :param position: where the sound comes from; ``None`` plays it centred, at full level
        (for sounds the listener itself makes).
    :param gain: level before distance attenuation, a finite number.
    :param offset: the sample within the step at which the sound starts, an int in
        ``0 .. samples_per_step - 1`` (mixing an event that starts past the step is an error:
        it would never be heard).

    ``position``, ``gain`` and ``offset`` are checked when the event is made (a ``TypeError``
    or ``ValueError`` naming the field); the waveform when it is mixed.
    """

    waveform: np.ndarray
    position: tuple[float, float] | None = None
    gain: float = 1.0
    offset: int = 0

    def __post_init__(self) -> None:
        # The waveform is checked where it is mixed, by a message naming the game method or
        # sound function that returned it; the other fields are checked here, at the line that
        # made the event.
        position = self.position
        if position is not None:
            sequence = isinstance(position, (tuple, list)) or (
                isinstance(position, np.ndarray) and position.ndim == 1
            )
            pair = sequence and len(position) == 2
            if not pair or not all(_is_real(value) for value in position):
                hint = (
                    f" (the 2nd positional argument is position; for a level write "
                    f"gain={position!r})"
                    if _is_real(position)
                    else ""
                )
                raise TypeError(
                    f"SoundEvent position must be None or an (x, y) pair of numbers, got "
                    f"{type(position).__name__} {position!r}{hint}"
                )
        if not _is_real(self.gain):
            raise TypeError(
                f"SoundEvent gain must be a number (a level, 1.0 = as recorded), got "
                f"{type(self.gain).__name__} {self.gain!r}"
            )
        if not math.isfinite(self.gain):
            raise ValueError(f"SoundEvent gain must be finite, got {self.gain!r}")
        offset = self.offset
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
            raise TypeError(
                f"SoundEvent offset must be an int, the sample within the step at which the "
                f"sound starts, got {type(offset).__name__} {offset!r} (seconds into the step: "
                "offset=round(seconds * sample_rate))"
            )
        if offset < 0:
            raise ValueError(
                f"SoundEvent offset must be 0 or more (samples into the step), got {offset}; "
                "to start a sound before the step, cut its head off: waveform[-offset:]"
            )


def _is_real(value: object) -> bool:
    """Whether ``value`` is a real number (bools are not)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def stereo_gains(
    listener: Listener, position: tuple[float, float] | None, reference_distance: float
) -> tuple[float, float]:
    """Left and right gains of a source at ``position`` heard by ``listener``.

    Equal-power pan by the source's bearing, times inverse-distance attenuation.
    """
    if position is None:
        centre = math.cos(math.pi / 4)
        return centre, centre
    offset_x = position[0] - listener.position[0]
    offset_y = position[1] - listener.position[1]
    distance = math.hypot(offset_x, offset_y)
    heading_x, heading_y = listener.heading
    heading_length = math.hypot(heading_x, heading_y) or 1.0
    # The listener's right-hand side, in screen coordinates (y down), is the heading turned
    # a quarter clockwise; the lateral offset over the distance is the sine of the bearing.
    right_x, right_y = -heading_y / heading_length, heading_x / heading_length
    pan = (offset_x * right_x + offset_y * right_y) / distance if distance > 0 else 0.0
    attenuation = reference_distance / max(distance, reference_distance)
    angle = (pan + 1.0) * math.pi / 4
    return attenuation * math.cos(angle), attenuation * math.sin(angle)


class AudioMixer:
    """Renders a step's :class:`SoundEvent` list into ``(channels, samples_per_step)`` audio.

    :param sample_rate: samples per second.
    :param samples_per_step: samples in one step's block.
    :param channels: 1 (mono: the pan is dropped, attenuation kept) or 2 (left, right).
    :param reference_distance: distance within which a source is heard at full level.
    """

    def __init__(
        self,
        sample_rate: int,
        samples_per_step: int,
        channels: int = 2,
        reference_distance: float = 1.0,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if samples_per_step <= 0:
            raise ValueError(f"samples_per_step must be positive, got {samples_per_step}")
        if channels not in (1, 2):
            raise ValueError(f"audio_channels must be 1 (mono) or 2 (stereo), got {channels}")
        if reference_distance <= 0:
            raise ValueError(f"reference_distance must be positive, got {reference_distance}")
        self.sample_rate = sample_rate
        self.samples_per_step = samples_per_step
        self.channels = channels
        self.reference_distance = reference_distance

    def silence(self) -> np.ndarray:
        """An all-zero block for one step."""
        return np.zeros((self.channels, self.samples_per_step), dtype=np.float32)

    def mix(self, events: list[SoundEvent], listener: Listener) -> np.ndarray:
        """Sum the events, each panned and attenuated for ``listener``, clipped to [−1, 1].

        :raises ValueError: for an event whose ``offset`` is past the step (it would never be
            heard: a sound does not carry over into the next step), or when the sum has NaN or
            infinite samples (a waveform or gain that is not finite) — never clipped silently.
        """
        block = self.silence()
        for event in events:
            start = event.offset
            if not 0 <= start < self.samples_per_step:
                last = self.samples_per_step - 1
                raise ValueError(
                    f"SoundEvent offset={start} is past the step: a step has samples_per_step="
                    f"{self.samples_per_step} samples, so offset must be 0..{last}; a sound "
                    "does not carry over into a later step: return the event in the step in "
                    "which it starts"
                )
            samples = event.waveform[: self.samples_per_step - start]
            left, right = stereo_gains(listener, event.position, self.reference_distance)
            if self.channels == 2:
                block[0, start : start + samples.shape[0]] += (event.gain * left) * samples
                block[1, start : start + samples.shape[0]] += (event.gain * right) * samples
            else:
                level = event.gain * math.hypot(left, right)
                block[0, start : start + samples.shape[0]] += level * samples
        if not np.isfinite(block).all():
            raise ValueError(
                "the mixed sound has NaN or infinite samples; every SoundEvent waveform sample "
                "and gain must be finite"
            )
        np.clip(block, -1.0, 1.0, out=block)
        return block
