"""A synthetic tri-modal game for the extractor tests: each step shows a class in every modality
(a coloured patch, a token, a tone), and choosing that class as the action earns reward 1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

SAMPLE_RATE = 16000
TONE_HZ = (500.0, 1500.0, 3000.0, 5000.0)


class SyntheticMultimodalEnv(gym.Env):
    """Dict observations with image, text, audio and a vector; Discrete(n_classes) actions.

    :param image_shape: Box shape of the image, uint8; the channel axis is the smaller end axis.
    :param text_length: tokens per instruction (right-padded with 0).
    :param vocab_size: token ids are ``0 .. vocab_size - 1``.
    :param audio_shape: Box shape of the audio.
    :param audio_channels_first: whether ``audio_shape`` is (channels, samples).
    :param audio_dtype: float32 (in [-1, 1]), int16 or uint8 PCM.
    :param names: rename keys, e.g. ``{"image": "screen"}``.
    :param vector_dim: size of the extra ``vars`` vector key (0: no such key).
    :param n_classes: number of actions / classes (at most 4).
    :param episode_length: steps per episode.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        image_shape: tuple[int, ...] = (36, 36, 3),
        text_length: int = 8,
        vocab_size: int = 16,
        audio_shape: tuple[int, int] = (2, 400),
        audio_channels_first: bool = True,
        audio_dtype: type = np.float32,
        names: dict[str, str] | None = None,
        vector_dim: int = 3,
        n_classes: int = 3,
        episode_length: int = 16,
    ) -> None:
        self.names = {"image": "image", "text": "text", "audio": "audio", "vars": "vars"}
        self.names.update(names or {})
        self.image_shape = image_shape
        self.text_length = text_length
        self.vocab_size = vocab_size
        self.audio_shape = audio_shape
        self.audio_channels_first = audio_channels_first
        self.audio_dtype = np.dtype(audio_dtype)
        self.vector_dim = vector_dim
        self.n_classes = n_classes
        self.episode_length = episode_length
        if self.audio_dtype == np.int16:
            audio_space = spaces.Box(-32768, 32767, audio_shape, np.int16)
        elif self.audio_dtype == np.uint8:
            audio_space = spaces.Box(0, 255, audio_shape, np.uint8)
        else:
            audio_space = spaces.Box(-1.0, 1.0, audio_shape, self.audio_dtype.type)
        observation_spaces: dict[str, spaces.Space] = {
            self.names["image"]: spaces.Box(0, 255, image_shape, np.uint8),
            self.names["text"]: spaces.Box(0, vocab_size - 1, (text_length,), np.int64),
            self.names["audio"]: audio_space,
        }
        if vector_dim:
            observation_spaces[self.names["vars"]] = spaces.Box(-5.0, 5.0, (vector_dim,))
        self.observation_space = spaces.Dict(observation_spaces)
        self.action_space = spaces.Discrete(n_classes)
        self._label = 0
        self._steps = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        return self._observe(), {}

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        reward = float(int(action) == self._label)
        self._steps += 1
        truncated = self._steps >= self.episode_length
        return self._observe(), reward, False, truncated, {}

    def _observe(self) -> dict[str, np.ndarray]:
        rng = self.np_random
        self._label = int(rng.integers(self.n_classes))
        observation = {
            self.names["image"]: self._image(rng),
            self.names["text"]: self._text(rng),
            self.names["audio"]: self._audio(rng),
        }
        if self.vector_dim:
            observation[self.names["vars"]] = rng.uniform(-1, 1, self.vector_dim).astype(np.float32)
        return observation

    def _image(self, rng: np.random.Generator) -> np.ndarray:
        channels_last = self.image_shape[-1] < self.image_shape[0]
        height, width, channels = (
            self.image_shape if channels_last else (*self.image_shape[1:], self.image_shape[0])
        )
        image = np.zeros((height, width, channels), np.uint8)
        top, left = rng.integers(0, height - 6), rng.integers(0, width - 6)
        image[top : top + 6, left : left + 6, self._label % channels] = 255
        return image if channels_last else np.ascontiguousarray(image.transpose(2, 0, 1))

    def _text(self, rng: np.random.Generator) -> np.ndarray:
        tokens = np.zeros(self.text_length, np.int64)
        length = int(rng.integers(2, self.text_length + 1))
        tokens[:length] = rng.integers(2 + self.n_classes, self.vocab_size, length)
        tokens[int(rng.integers(length))] = 2 + self._label
        return tokens

    def _audio(self, rng: np.random.Generator) -> np.ndarray:
        channels, samples = (
            self.audio_shape if self.audio_channels_first else self.audio_shape[::-1]
        )
        time = np.arange(samples) / SAMPLE_RATE
        phase = rng.uniform(0, 2 * np.pi)
        wave = 0.5 * np.sin(2 * np.pi * TONE_HZ[self._label] * time + phase)
        audio = np.repeat(wave[None, :], channels, axis=0)
        if not self.audio_channels_first:
            audio = audio.T
        if self.audio_dtype == np.int16:
            return np.round(audio * 32767).astype(np.int16)
        if self.audio_dtype == np.uint8:
            return np.round(128 + audio * 127).astype(np.uint8)
        return audio.astype(self.audio_dtype)


@pytest.fixture
def make_env():
    """Factory for :class:`SyntheticMultimodalEnv`."""
    return SyntheticMultimodalEnv


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    """Seed torch and numpy (the root conftest already runs torch on one thread)."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield
