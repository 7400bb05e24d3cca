"""Showing frames in a window and playing step audio through speakers (``render_mode="human"``).

The games only produce frames and audio blocks; this module is the one place that opens a
display or a sound device, and it does so only when a window is asked for.
"""

from __future__ import annotations

import numpy as np
import pygame


def to_mixer_samples(audio: np.ndarray, sample_rate: int, mixer_rate: int, mixer_channels: int):
    """Convert a ``(channels, samples)`` float block into the mixer's int16 ``(samples, ch)``.

    Resamples linearly when the mixer runs at another rate, and duplicates or averages
    channels to match the mixer's channel count.
    """
    block = np.asarray(audio, dtype=np.float32)
    if mixer_rate != sample_rate:
        source_times = np.arange(block.shape[1]) / sample_rate
        target_count = max(1, round(block.shape[1] * mixer_rate / sample_rate))
        target_times = np.arange(target_count) / mixer_rate
        block = np.stack([np.interp(target_times, source_times, row) for row in block])
    if block.shape[0] != mixer_channels:
        mono = block.mean(axis=0, keepdims=True)
        block = np.repeat(mono, mixer_channels, axis=0)
    samples = np.clip(block.T, -1.0, 1.0) * 32767.0
    return np.ascontiguousarray(samples.astype(np.int16))


class HumanWindow:
    """A pygame window that shows RGB frames and plays each step's audio as it arrives.

    :param title: window caption.
    :param sample_rate: rate of the audio blocks that :meth:`play` receives.
    :param sound: open the sound device; ``False`` keeps the window silent.
    """

    def __init__(self, title: str, sample_rate: int, *, sound: bool = True) -> None:
        self.title = title
        self.sample_rate = sample_rate
        self.sound_enabled = sound
        self._screen: pygame.Surface | None = None
        self._channel: pygame.mixer.Channel | None = None
        self._mixer_format: tuple[int, int] | None = None
        self.clock = pygame.time.Clock()

    def _open(self, size: tuple[int, int]) -> pygame.Surface:
        if self.sound_enabled and self._mixer_format is None:
            # pygame.init() would open the mixer at 44.1 kHz; ask for the game's rate first and
            # read back what the device granted.
            pygame.mixer.pre_init(frequency=self.sample_rate, size=-16, channels=2, buffer=512)
            try:
                pygame.mixer.init()
                frequency, _format, channels = pygame.mixer.get_init()
                self._mixer_format = (frequency, channels)
                self._channel = pygame.mixer.Channel(0)
            except pygame.error:
                self.sound_enabled = False
        pygame.display.init()
        pygame.display.set_caption(self.title)
        self._screen = pygame.display.set_mode(size)
        return self._screen

    def show(self, frame: np.ndarray, fps: float | None = None) -> None:
        """Blit an ``(H, W, 3)`` uint8 frame to the window, then wait to keep ``fps``."""
        height, width = frame.shape[:2]
        screen = self._screen
        if screen is None or screen.get_size() != (width, height):
            screen = self._open((width, height))
        pygame.surfarray.blit_array(screen, np.ascontiguousarray(frame.swapaxes(0, 1)))
        pygame.event.pump()
        pygame.display.flip()
        if fps:
            self.clock.tick(fps)

    def play(self, audio: np.ndarray) -> None:
        """Queue one step's ``(channels, samples)`` audio so steps play back to back."""
        if not self.sound_enabled or self._channel is None or self._mixer_format is None:
            return
        mixer_rate, mixer_channels = self._mixer_format
        sound = pygame.sndarray.make_sound(
            to_mixer_samples(audio, self.sample_rate, mixer_rate, mixer_channels)
        )
        if self._channel.get_busy():
            self._channel.queue(sound)
        else:
            self._channel.play(sound)

    def close(self) -> None:
        """Close the window and the sound device."""
        if self._mixer_format is not None:
            pygame.mixer.quit()
            self._mixer_format = None
            self._channel = None
        if self._screen is not None:
            pygame.display.quit()
            self._screen = None
