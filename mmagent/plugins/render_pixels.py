"""Pixels at the size the agent reads: :class:`PixelsFromRender` gives an env without pixel
observations an ``image`` taken from ``render()``; :class:`ResizeImage` resizes the ``image`` an
env already has. ``make_multimodal(env, image_size=...)`` picks the one that fits.

After every reset and step the wrapper calls the env's ``render()`` (the env must be made with
``render_mode="rgb_array"``), checks the frame — an ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array;
an alpha channel is dropped — and resizes it to ``size`` with :func:`resize_frame`:

* ``"area"`` (default): every output pixel is the mean of the input area it covers, partial
  pixels weighted by the overlap (what OpenCV calls ``INTER_AREA``); the right method for
  shrinking a large frame, since no input pixel is skipped;
* ``"nearest"``: every output pixel copies the input pixel under its centre; fast and exact
  for whole-number scale factors, but shrinking skips pixels (thin lines can vanish).

``render()`` itself is unchanged, so watching and recording still show the full-size frame.

:class:`ResizeImage` resizes an existing ``(H, W, C)`` or ``(H, W)`` frame (uint8, or float kept
as float) by the same two methods. It refuses a symbolic grid (integer cell codes, see
:func:`mmagent.convention.looks_like_symbolic_grid`): averaging or repeating codes would make up
cells; the ``grid`` encoder reads a grid at its own size.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.game import parse_frame_size
from mmagent.convention import IMAGE, image_channels_first, looks_like_symbolic_grid
from mmagent.plugins.constructor_args import record_constructor_args
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
    """Resize an ``(H, W, C)`` or ``(H, W)`` frame to ``size = (height, width)``: uint8 stays
    uint8 (rounded), a float frame stays float32 (not rounded or clipped).

    :param method: ``"area"`` or ``"nearest"`` (see the module docstring).
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize method {method!r} is unknown; use one of {RESIZE_METHODS}")
    if frame.ndim == 2:
        return resize_frame(frame[:, :, np.newaxis], size, method)[:, :, 0]
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
    if np.issubdtype(frame.dtype, np.floating):
        return mixed.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


class PixelsFromRender(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``image``: ``Box(0, 255, (height, width, 3), uint8)``, the env's ``render()`` frame
    resized (rules in the module docstring).

    :param env: an env made with ``render_mode="rgb_array"``.
    :param size: the image size, an int or ``(height, width)``; the default extractor reads
        36×36 and larger with the ``nature`` CNN, smaller with the ``small`` CNN.
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
        record_constructor_args(
            self,
            size=tuple(size) if isinstance(size, Sequence) else size,
            method=method,
            key=key,
            keep_observation=keep_observation,
        )
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
        # only rgb_array works underneath: Gymnasium's checker remakes the env in every mode
        self.metadata = {**env.metadata, "render_modes": ["rgb_array"]}
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


class ResizeImage(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Resizes the env's own image observation ``key`` to ``size`` (rules in the module
    docstring); the other keys pass through unchanged.

    :param env: an env with a ``Dict`` observation holding ``key``: ``(H, W, C)`` or ``(H, W)``,
        uint8 or float (map a channels-first frame with ``MapToConvention`` first).
    :param size: the new size, an int or ``(height, width)``.
    :param method: ``"area"`` (default, for shrinking) or ``"nearest"``.
    :param key: the image key.
    """

    def __init__(
        self,
        env: gym.Env,
        size: int | Sequence[int] = 64,
        *,
        method: str = "area",
        key: str = IMAGE,
    ) -> None:
        record_constructor_args(
            self, size=tuple(size) if isinstance(size, Sequence) else size, method=method, key=key
        )
        super().__init__(env)
        if method not in RESIZE_METHODS:
            raise ValueError(
                f"ResizeImage: method {method!r} is unknown; use one of {RESIZE_METHODS}"
            )
        self.size = parse_frame_size(size)
        self.method = method
        self.key = key
        inner = env.observation_space
        if not isinstance(inner, spaces.Dict) or key not in inner.spaces:
            raise ValueError(
                f"ResizeImage: {_env_name(env)}'s observation {inner} has no {key!r} key; pass "
                "key= (the image's key), or map the env first with MapToConvention"
            )
        image = inner.spaces[key]
        self._check_space(env, image)
        shape = (*self.size, *image.shape[2:])
        if image.dtype == np.uint8:
            resized = spaces.Box(0, 255, shape, np.uint8)
        else:
            resized = spaces.Box(
                float(np.min(image.low)), float(np.max(image.high)), shape, np.float32
            )
        self.observation_space = spaces.Dict({**inner.spaces, key: resized})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The observation with ``key`` resized."""
        resized = dict(observation)
        resized[self.key] = resize_frame(np.asarray(observation[self.key]), self.size, self.method)
        return resized

    def _check_space(self, env: gym.Env, image: spaces.Space) -> None:
        where = f"ResizeImage: {_env_name(env)}'s {self.key!r} {image}"
        if not isinstance(image, spaces.Box) or len(image.shape) not in (2, 3):
            raise ValueError(f"{where} is not an (H, W, C) or (H, W) frame; it cannot be resized")
        if looks_like_symbolic_grid(image):
            raise ValueError(
                f"{where} holds integer cell codes (a symbolic grid), not pixels; resizing would "
                "make up cells. Drop image_size=: the 'grid' encoder reads the grid as it is"
            )
        if not (image.dtype == np.uint8 or np.issubdtype(image.dtype, np.floating)):
            raise ValueError(
                f"{where} has dtype {image.dtype}; ResizeImage resizes uint8 (0..255) or float "
                "frames"
            )
        if len(image.shape) == 3 and image_channels_first(image.shape):
            raise ValueError(
                f"{where} is channels-first; move the channels last first (MapToConvention "
                "does it; make_multimodal applies it)"
            )


def _env_name(env: gym.Env) -> str:
    return type(env.unwrapped).__name__
