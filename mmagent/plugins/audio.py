"""Give any env a sound track: :class:`AddAudio` adds an ``audio`` observation made by a function.

The function gets a :class:`~mmagent.plugins.context.StepContext` (observation, info, reward,
action, termination, a seeded generator) at every reset and step and returns one of:

* a list of :class:`~envs.core.audio.SoundEvent` — mixed by :class:`~envs.core.audio.AudioMixer`
  exactly as in the built-in games: equal-power stereo panning and inverse-distance attenuation
  relative to the ``listener``, waveforms of any length (cut at the step's end), the sum clipped
  to [-1, 1]. Each waveform must be a 1-D float array of finite samples;
* a waveform block of exactly ``samples_per_step`` samples: mono ``(samples,)`` (copied to
  every channel) or ``(channels, samples)``; float in [-1, 1], or int16 / int32 / uint8 PCM
  (converted as ``int16 / 32768``, ``int32 / 2**31``, ``(uint8 - 128) / 128``);
* ``None`` — silence.

Anything else — a block of another length, ``(samples, channels)`` order, NaN or infinite
samples, float samples beyond [-1, 1] — raises :class:`~mmagent.plugins.errors.PluginOutputError`
naming the function. Synthesise sounds with the built-in games' helpers, :mod:`envs.core.audio`
(``tone``, ``chirp``, ``noise_burst``, ``envelope``, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.audio import AudioMixer, Listener, SoundEvent
from mmagent.plugins.channel import ObservationChannel
from mmagent.plugins.constructor_args import record_constructor_args, unwrap_function
from mmagent.plugins.context import StepContext
from mmagent.plugins.errors import PluginOutputError, callable_name
from mmagent.plugins.formats import PCM_SCALES, pcm_to_float
from mmagent.plugins.keys import AUDIO_SAMPLE_RATE_KEY

SoundOutput = Sequence[SoundEvent] | np.ndarray | None
SoundFunction = Callable[[StepContext], SoundOutput]
ListenerSource = Listener | Callable[[StepContext], Listener] | None

#: Float samples may exceed [-1, 1] by this much (rounding) before they are an error.
RANGE_TOLERANCE = 1e-5


class AddAudio(ObservationChannel, gym.utils.RecordConstructorArgs):
    """Adds ``audio``: ``Box(-1, 1, (channels, samples_per_step), float32)``, the sound made
    during each step, computed by ``sound`` (rules in the module docstring).

    :param env: the env to wrap (``Dict`` or ``Box`` observation).
    :param sound: ``sound(context) -> list[SoundEvent] | waveform | None``.
    :param sample_rate: samples per second.
    :param channels: 1 (mono) or 2 (stereo).
    :param step_seconds: how long one env step sounds; ``samples_per_step =
        round(sample_rate * step_seconds)``.
    :param listener: where :class:`SoundEvent` positions are heard from: a
        :class:`~envs.core.audio.Listener`, a function ``listener(context) -> Listener``, or
        ``None`` (the origin, facing up the screen).
    :param reference_distance: distance within which a sound is heard at full level.
    :param key: the observation key to add.
    """

    def __init__(
        self,
        env: gym.Env,
        sound: SoundFunction,
        *,
        sample_rate: int = 16_000,
        channels: int = 2,
        step_seconds: float = 0.1,
        listener: ListenerSource = None,
        reference_distance: float = 1.0,
        key: str = "audio",
    ) -> None:
        sound, listener = unwrap_function(sound), unwrap_function(listener)
        record_constructor_args(
            self,
            sound=sound,
            sample_rate=sample_rate,
            channels=channels,
            step_seconds=step_seconds,
            listener=listener,
            reference_distance=reference_distance,
            key=key,
        )
        if not callable(sound):
            raise TypeError(
                f"AddAudio: sound must be a function sound(context) -> list[SoundEvent] or a "
                f"waveform, got {sound!r}"
            )
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"AddAudio: sample_rate must be a positive int, got {sample_rate!r}")
        if isinstance(step_seconds, bool) or not isinstance(step_seconds, (int, float)):
            raise ValueError(f"AddAudio: step_seconds must be a number, got {step_seconds!r}")
        if step_seconds <= 0:
            raise ValueError(f"AddAudio: step_seconds must be positive, got {step_seconds!r}")
        if listener is not None and not isinstance(listener, Listener) and not callable(listener):
            raise TypeError(
                f"AddAudio: listener must be a Listener, a function of the step context, or "
                f"None; got {listener!r}"
            )
        self.sample_rate = sample_rate
        self.step_seconds = float(step_seconds)
        self.samples_per_step = max(1, round(sample_rate * step_seconds))
        self.mixer = AudioMixer(
            sample_rate,
            self.samples_per_step,
            channels=channels,
            reference_distance=reference_distance,
        )
        super().__init__(
            env,
            key,
            spaces.Box(-1.0, 1.0, (self.mixer.channels, self.samples_per_step), np.float32),
        )
        self.sound = sound
        self.listener = listener
        self.last_audio = self.mixer.silence()
        self.metadata = {
            **env.metadata,
            "render_fps": round(1.0 / self.step_seconds),
            AUDIO_SAMPLE_RATE_KEY: sample_rate,
        }

    def channel_value(self, context: StepContext) -> np.ndarray:
        """Call the sound function and turn its result into one audio block."""
        source = f"AddAudio sound function {callable_name(self.sound)}"
        result = self.sound(context)
        if result is None:
            block = self.mixer.silence()
        elif isinstance(result, np.ndarray):
            block = self._waveform_block(result, source)
        elif isinstance(result, (list, tuple)):
            check_sound_events(result, source)
            block = self.mixer.mix(list(result), self._listener(context))
            if not np.isfinite(block).all():
                raise PluginOutputError(
                    f"{source} returned sound events that mix to non-finite audio (NaN or "
                    "inf); check their gains"
                )
        else:
            raise PluginOutputError(
                f"{source} returned {type(result).__name__} {result!r}; return a list of "
                "SoundEvent, a waveform array, or None for silence"
            )
        self.last_audio = block
        return block.copy()

    def _listener(self, context: StepContext) -> Listener:
        if self.listener is None:
            return Listener()
        if isinstance(self.listener, Listener):
            return self.listener
        listener = self.listener(context)
        if not isinstance(listener, Listener):
            raise PluginOutputError(
                f"AddAudio listener function {callable_name(self.listener)} returned "
                f"{listener!r}; return an envs.core.audio.Listener"
            )
        return listener

    def _waveform_block(self, waveform: np.ndarray, source: str) -> np.ndarray:
        channels, samples = self.mixer.channels, self.samples_per_step
        if not (np.issubdtype(waveform.dtype, np.floating) or waveform.dtype in PCM_SCALES):
            raise PluginOutputError(
                f"{source} returned audio of dtype {waveform.dtype}; return float samples in "
                "[-1, 1] (or int16 / int32 / uint8 PCM)"
            )
        if waveform.ndim == 1 and waveform.shape[0] == samples:
            block = np.repeat(pcm_to_float(waveform)[np.newaxis, :], channels, axis=0)
        elif waveform.shape == (channels, samples):
            block = pcm_to_float(waveform).copy()
        elif waveform.shape == (samples, channels):
            raise PluginOutputError(
                f"{source} returned audio of shape {waveform.shape}, (samples, channels); "
                f"return (channels, samples) = {(channels, samples)}: transpose it with .T"
            )
        else:
            raise PluginOutputError(
                f"{source} returned audio of shape {waveform.shape}; one step is exactly "
                f"{samples} samples ({self.sample_rate} Hz × {self.step_seconds:g} s): return "
                f"({samples},) mono or {(channels, samples)}, or return SoundEvents (any "
                "length; cut at the step's end)"
            )
        if not np.isfinite(block).all():
            raise PluginOutputError(f"{source} returned audio with NaN or infinite samples")
        peak = float(np.max(np.abs(block))) if block.size else 0.0
        if peak > 1.0 + RANGE_TOLERANCE:
            raise PluginOutputError(
                f"{source} returned audio peaking at {peak:.3g}; samples must lie in [-1, 1]: "
                "scale it down (or return SoundEvents, whose mix is clipped)"
            )
        np.clip(block, -1.0, 1.0, out=block)
        return block.astype(np.float32, copy=False)


def check_sound_events(events: Sequence[Any], source: str) -> None:
    """Raise :class:`PluginOutputError` naming ``source`` unless every item is a
    :class:`SoundEvent` with a 1-D float waveform of finite samples and finite gain."""
    for index, event in enumerate(events):
        where = f"{source} item {index}"
        if not isinstance(event, SoundEvent):
            shape = getattr(event, "shape", None)
            raise PluginOutputError(
                f"{where} is a {type(event).__name__}"
                + (f" of shape {shape}" if shape is not None else f" ({event!r:.60})")
                + "; wrap waveforms in SoundEvent(waveform, position=...)"
            )
        waveform = event.waveform
        if not isinstance(waveform, np.ndarray) or waveform.ndim != 1:
            shape = getattr(waveform, "shape", None)
            raise PluginOutputError(
                f"{where} has a waveform of type {type(waveform).__name__} shape {shape}; a "
                "SoundEvent waveform is a 1-D float array (make one with envs.core.audio.tone, "
                "chirp, noise_burst)"
            )
        if not np.issubdtype(waveform.dtype, np.floating):
            raise PluginOutputError(
                f"{where} has a {waveform.dtype} waveform; SoundEvent waveforms are float in "
                "[-1, 1] (convert int16 PCM with samples / 32768)"
            )
        if not np.isfinite(waveform).all() or not np.isfinite(event.gain):
            raise PluginOutputError(f"{where} has NaN or infinite samples or gain")
