"""Give an env without pixel observations an ``image``: :class:`PixelsFromRender`.

After every reset and step the wrapper calls the env's ``render()`` (the env must be made with
``render_mode="rgb_array"``), checks the frame — an ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array;
an alpha channel is dropped — and resizes it to ``size`` with :func:`resize_frame`:

* ``"area"`` (default): every output pixel is the mean of the input area it covers, partial
  pixels weighted by the overlap (what OpenCV calls ``INTER_AREA``); the right method for
  shrinking a large frame, since no input pixel is skipped;
* ``"nearest"``: every output pixel copies the input pixel under its centre; fast and exact
  for whole-number scale factors, but shrinking skips pixels (thin lines can vanish).

``render()`` itself is unchanged, so watching and recording still show the full-size frame.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.game import parse_frame_size
from mmagent.plugins.errors import PluginOutputError
from mmagent.plugins.keys import convention_key

RESIZE_METHODS = ("area", "nearest")


@functools.lru_cache(maxsize=64)
def _area_weights(source: int, target: int) -> np.ndarray:
    """``(target, source)`` weights: row ``j`` averages the source cells output ``j`` covers."""
    edges = np.arange(target + 1, dtype=np.float64) * (source / target)
    cells = np.arange(source, dtype=np.float64)
    overlap = np.minimum(cells[np.newaxis, :] + 1.0, edges[1:, np.newaxis]) - np.maximum(
        cells[np.newaxis, :], edges[:-1, np.newaxis]
    )
    weights = np.clip(overlap, 0.0, None)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    weights.flags.writeable = False
    return weights


def resize_frame(frame: np.ndarray, size: tuple[int, int], method: str = "area") -> np.ndarray:
    """Resize an ``(H, W, C)`` uint8 frame to ``size = (height, width)``.

    :param method: ``"area"`` or ``"nearest"`` (see the module docstring).
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize method {method!r} is unknown; use one of {RESIZE_METHODS}")
    height, width = size
    source_height, source_width, channels = frame.shape
    if (source_height, source_width) == (height, width):
        return frame.copy()
    if method == "nearest":
        rows = ((np.arange(height) + 0.5) * source_height / height).astype(np.intp)
        columns = ((np.arange(width) + 0.5) * source_width / width).astype(np.intp)
        return frame[rows][:, columns].copy()
    # Two small products, rows then columns. einsum without BLAS: these matrices are too small
    # for BLAS threads to pay off, and on busy cores they cost far more than they save.
    mixed_rows = np.einsum(
        "yh,hk->yk",
        _area_weights(source_height, height),
        frame.reshape(source_height, source_width * channels).astype(np.float32),
    )
    by_channel = np.ascontiguousarray(
        mixed_rows.reshape(height, source_width, channels).transpose(0, 2, 1)
    )
    mixed = np.einsum("ycw,xw->yxc", by_channel, _area_weights(source_width, width))
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


class PixelsFromRender(gym.Wrapper):
    """Adds ``image``: ``Box(0, 255, (height, width, 3), uint8)``, the env's ``render()`` frame
    resized (rules in the module docstring).

    :param env: an env made with ``render_mode="rgb_array"``.
    :param size: the image size, an int or ``(height, width)``; the default extractor's
        ``nature`` CNN needs at least 36×36.
    :param method: ``"area"`` or ``"nearest"``.
    :param key: the observation key to add.
    :param keep_observation: keep the env's own observation (a ``Dict`` keeps its keys, any
        other observation goes under ``vector``); False makes the image the only key.
    """

    def __init__(
        self,
        env: gym.Env,
        size: int | Sequence[int] = 64,
        *,
        method: str = "area",
        key: str = "image",
        keep_observation: bool = True,
    ) -> None:
        super().__init__(env)
        render_mode = env.render_mode
        if render_mode != "rgb_array":
            raise ValueError(
                f"PixelsFromRender needs an env rendering frames as arrays, but "
                f"{_env_name(env)} has render_mode={render_mode!r}; create it with "
                f"gym.make(..., render_mode='rgb_array')"
            )
        if method not in RESIZE_METHODS:
            raise ValueError(
                f"PixelsFromRender: method {method!r} is unknown; use one of {RESIZE_METHODS}"
            )
        self.size = parse_frame_size(size)
        self.method = method
        self.key = key
        image_space = spaces.Box(0, 255, (*self.size, 3), np.uint8)
        self._inner_key: str | None = None
        if not keep_observation:
            self._keep = False
            self.observation_space = spaces.Dict({key: image_space})
        else:
            self._keep = True
            inner = env.observation_space
            if isinstance(inner, spaces.Dict):
                if key in inner.spaces:
                    raise ValueError(
                        f"PixelsFromRender: the observation already has an {key!r} key; pass "
                        "another key=, or drop it first (MapToConvention(drop=[...]))"
                    )
                base = dict(inner.spaces)
            elif isinstance(inner, spaces.Box):
                self._inner_key = convention_key(inner)
                if self._inner_key == key:
                    raise ValueError(
                        f"PixelsFromRender: {_env_name(env)}'s observation {inner} already "
                        "looks like an image; resize it instead, or pass keep_observation=False"
                    )
                base = {self._inner_key: inner}
            else:
                raise ValueError(
                    f"PixelsFromRender: {_env_name(env)}'s observation is {inner}; convert it "
                    "first with MapToConvention, or pass keep_observation=False"
                )
            self.observation_space = spaces.Dict({**base, key: image_space})

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        return self._with_image(observation), info

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._with_image(observation), reward, terminated, truncated, info

    def frame(self) -> np.ndarray:
        """The env's current ``render()`` frame, checked, alpha dropped (full size)."""
        frame = self.env.render()
        source = f"{_env_name(self.env)}.render()"
        if not isinstance(frame, np.ndarray):
            raise PluginOutputError(
                f"{source} returned {type(frame).__name__}, not a frame; PixelsFromRender "
                "needs an (H, W, 3) uint8 array (render_mode='rgb_array')"
            )
        if frame.ndim != 3 or frame.shape[2] not in (3, 4) or min(frame.shape[:2]) == 0:
            raise PluginOutputError(
                f"{source} returned an array of shape {frame.shape}; PixelsFromRender needs "
                "(H, W, 3) RGB or (H, W, 4) RGBA"
            )
        if frame.dtype != np.uint8:
            raise PluginOutputError(
                f"{source} returned a {frame.dtype} frame; PixelsFromRender needs uint8 "
                "(0..255) pixels"
            )
        return frame[:, :, :3]

    def _with_image(self, observation: Any) -> dict[str, Any]:
        image = resize_frame(self.frame(), self.size, self.method)
        if not self._keep:
            return {self.key: image}
        combined = dict(observation) if self._inner_key is None else {self._inner_key: observation}
        combined[self.key] = image
        return combined


def _env_name(env: gym.Env) -> str:
    return type(env.unwrapped).__name__
