"""Which observation key is which modality, and how each one becomes the tensor its encoder reads.

Rules (also in ``docs/extractor.md``; the constants and detection rules live in
:mod:`mmagent.convention`, shared with the plug-in layer):

* **Detection.** A key named ``image``, ``text`` or ``audio`` is that modality, except that an
  ``image`` whose space is a symbolic grid (:func:`~mmagent.convention.looks_like_symbolic_grid`)
  is a ``grid``; every other ``Box`` key is a ``vector`` (MLP encoder).
  ``modalities={"screen": "image", ...}`` overrides detection; ``"ignore"`` drops a key.
  Non-``Box`` subspaces (``Discrete``, ``MultiDiscrete``, ...) are an error unless mapped to
  ``"ignore"``: SB3 one-hot encodes them before the extractor sees them, so the extractor would
  read different tensors inside and outside SB3.
* **Image.** ``(H, W, C)``, ``(C, H, W)`` or ``(H, W)``. Of the first and last axis, the smaller is
  the channel axis (``channels_first={"key": bool}`` overrides; a tie is an error). ``uint8`` is
  divided by 255 exactly once (see ``sb3_normalize_images``); float images are taken as already in
  ``[0, 1]``.
* **Grid.** ``(H, W, C)``, ``(C, H, W)`` or ``(H, W)`` integer cell codes (layout as images);
  never rescaled: the canonical input is the ``long`` codes (SB3's /255 of a ``uint8`` 0..255 space
  is undone exactly), one embedding table per channel of ``high + 1`` codes.
* **Text.** ``(L,)`` integer token ids, ``0`` = padding, vocabulary size = ``high.max() + 1``.
* **Audio.** ``(C, S)``, ``(S, C)`` or mono ``(S,)``. The smaller axis is the channel axis when it
  has at most 8 entries (``channels_first`` overrides). Float audio is read as-is (already in
  ``[-1, 1]``), ``int16`` as ``x / 32768``, ``int32`` as ``x / 2**31``, ``uint8`` as
  ``(x - 128) / 128``.
* **Vector.** Any numeric ``Box``; flattened, not rescaled (as SB3's ``FlattenExtractor``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space

from mmagent.convention import (
    AUDIO,
    AUDIO_SCALES,
    DETECTED_BY_NAME,
    GRID,
    IGNORE,
    IMAGE,
    MAX_AUDIO_CHANNELS,
    MAX_EXACT_TOKEN_ID,
    MODALITY_KINDS,
    PAD_TOKEN_ID,
    TEXT,
    UNKNOWN_TOKEN_ID,
    VECTOR,
    audio_channels_first,
    grid_code_counts,
    grid_layout,
    image_channels_first,
    looks_like_image,
    looks_like_symbolic_grid,
)

__all__ = [
    "AUDIO",
    "DETECTED_BY_NAME",
    "GRID",
    "IGNORE",
    "IMAGE",
    "MAX_AUDIO_CHANNELS",
    "MAX_EXACT_TOKEN_ID",
    "MODALITY_KINDS",
    "PAD_TOKEN_ID",
    "TEXT",
    "UNKNOWN_TOKEN_ID",
    "VECTOR",
    "ModalitySpec",
    "build_spec",
    "resolve_modalities",
    "sb3_scales_image",
    "set_hint",
]
"""The names come from :mod:`mmagent.convention` (re-exported here for older imports)."""


@dataclass(frozen=True)
class ModalitySpec:
    """What one observation key is and how to turn its tensor into the encoder's canonical input.

    Canonical inputs (batch first): image ``float (B, C, H, W)`` in ``[0, 1]``;
    grid ``long (B, C, H, W)`` cell codes; text ``long (B, L)``; audio ``float (B, C, S)`` in
    ``[-1, 1]``; vector ``float (B, D)``.
    """

    key: str
    """The observation key."""
    kind: str
    """One of :data:`MODALITY_KINDS`."""
    space: spaces.Box
    """The key's observation space as the extractor received it."""
    shape: tuple[int, ...]
    """Canonical per-sample shape: image and grid ``(C, H, W)``, text ``(L,)``, audio ``(C, S)``,
    vector ``(D,)``."""
    channels_first: bool = True
    """Layout of the incoming tensor for images and audio (False: channels on the last axis)."""
    offset: float = 0.0
    """Subtracted from the raw value before ``scale``."""
    scale: float = 1.0
    """Multiplies the raw value after ``offset``."""
    vocab_size: int = 0
    """Text only: number of token ids (``high.max() + 1``)."""
    sample_rate: int = 0
    """Audio only: samples per second."""
    code_counts: tuple[int, ...] = ()
    """Grid only: number of codes (``high + 1``) of each channel, in canonical channel order."""

    def to_canonical(self, observation: torch.Tensor) -> torch.Tensor:
        """Turn a batch of this key's observations (raw, or after SB3's ``preprocess_obs``) into the
        encoder's canonical input."""
        batch_size = observation.shape[0]
        if self.kind == TEXT:
            if observation.is_floating_point():
                # SB3's preprocess_obs casts every Box to float; ids below 2**24 survive exactly.
                observation = observation.round()
            return observation.long().reshape(batch_size, *self.shape)
        if self.kind == GRID:
            codes = observation
            if codes.is_floating_point():
                # SB3 casts to float, and divides a uint8 0..255 space by 255 (scale undoes it).
                codes = (codes * self.scale).round() if self.scale != 1.0 else codes.round()
            codes = codes.long()
            if codes.dim() == 3:  # (B, H, W): one code per cell
                return codes.unsqueeze(1)
            return codes if self.channels_first else codes.permute(0, 3, 1, 2)
        values = observation.float()
        if self.offset != 0.0:
            values = values - self.offset
        if self.scale != 1.0:
            values = values * self.scale
        if self.kind == VECTOR:
            return values.reshape(batch_size, -1)
        if self.kind == IMAGE:
            if values.dim() == 3:  # (B, H, W) grayscale
                return values.unsqueeze(1)
            return values if self.channels_first else values.permute(0, 3, 1, 2)
        # audio
        if values.dim() == 2:  # (B, S) mono
            return values.unsqueeze(1)
        return values if self.channels_first else values.transpose(1, 2)


def set_hint(option: str, key: str, value: object) -> str:
    """How to set ``features_extractor_kwargs[option][key] = value`` in Python and with the CLI's
    ``--set`` (errors name both)::

        encoders={'image': 'small'}
        (CLI: --set policy_kwargs.features_extractor_kwargs.encoders.image=small)

    A dict ``value`` becomes one ``--set`` per entry (``encoder_kwargs.image.cell_pixels=N``).
    """
    prefix = f"policy_kwargs.features_extractor_kwargs.{option}.{key}"
    if isinstance(value, Mapping):
        assignments = [f"--set {prefix}.{name}={_yaml(item)}" for name, item in value.items()]
        python_value = "{" + ", ".join(f"{name!r}: {item}" for name, item in value.items()) + "}"
    else:
        assignments = [f"--set {prefix}={_yaml(value)}"]
        python_value = repr(value)
    return f"{option}={{{key!r}: {python_value}}} (CLI: {' '.join(assignments)})"


def _yaml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_modalities(
    observation_space: spaces.Space, modalities: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map every observation key to a modality kind (or ``"ignore"``).

    :param observation_space: the env's ``Dict`` observation space.
    :param modalities: explicit ``{key: kind}`` overrides; other keys are detected by name.
    :return: ``{key: kind}`` for every key of the space, in the space's order.
    """
    if not isinstance(observation_space, spaces.Dict):
        raise ValueError(
            f"MultimodalExtractor needs a gymnasium.spaces.Dict observation space, got "
            f"{observation_space!r}. Wrap the env so it returns a dict, e.g. "
            f"{{'image': frame}}, or use SB3's NatureCNN / FlattenExtractor for a single Box."
        )
    overrides = dict(modalities or {})
    available = list(observation_space.spaces)
    for key, kind in overrides.items():
        if key not in observation_space.spaces:
            raise KeyError(
                f"modalities maps {key!r} to {kind!r}, but the observation space has no key "
                f"{key!r}; available keys: {available}. Fix the key name in modalities=."
            )
        if kind not in (*MODALITY_KINDS, IGNORE):
            raise ValueError(
                f"modalities maps {key!r} to unknown kind {kind!r}; "
                f"use one of {[*MODALITY_KINDS, IGNORE]}."
            )

    resolved: dict[str, str] = {}
    for key, subspace in observation_space.spaces.items():
        if key in overrides:
            kind = overrides[key]
        else:
            kind = key if key in DETECTED_BY_NAME else VECTOR
            if kind == IMAGE and looks_like_symbolic_grid(subspace):
                kind = GRID
            elif kind == VECTOR and looks_like_image(subspace):
                warnings.warn(
                    f"observation {key!r} {subspace} looks like an image but is not named 'image', "
                    f"so it goes to the MLP vector encoder; pass "
                    f"{set_hint('modalities', key, IMAGE)} to give it a CNN (or 'grid' if it "
                    f"holds integer cell codes).",
                    stacklevel=3,
                )
        if kind != IGNORE and not isinstance(subspace, spaces.Box):
            raise ValueError(
                f"observation {key!r} is a {type(subspace).__name__} space ({subspace}); "
                f"MultimodalExtractor reads Box spaces only. Convert it to a Box in a wrapper "
                f"(e.g. a one-hot Box for Discrete) or drop it with "
                f"{set_hint('modalities', key, IGNORE)}."
            )
        resolved[key] = kind

    if all(kind == IGNORE for kind in resolved.values()):
        raise ValueError(
            f"every observation key is ignored ({available}); map at least one to "
            f"{list(MODALITY_KINDS)} in modalities=."
        )
    return resolved


def build_spec(
    key: str,
    kind: str,
    space: spaces.Box,
    *,
    channels_first: bool | None = None,
    sample_rate: int = 16000,
    images_arrive_scaled: bool = False,
) -> ModalitySpec:
    """Validate ``space`` for ``kind`` and work out its layout and normalisation.

    :param key: the observation key (named in errors).
    :param kind: one of :data:`MODALITY_KINDS`.
    :param space: the key's Box space.
    :param channels_first: layout override for images and audio; None detects it.
    :param sample_rate: audio samples per second.
    :param images_arrive_scaled: True when the SB3 policy has already divided this image (or grid)
        by 255 (``normalize_images=True`` and SB3's ``is_image_space`` accepts the space).
    """
    if kind == IMAGE:
        return _image_spec(key, space, channels_first, images_arrive_scaled)
    if kind == GRID:
        return _grid_spec(key, space, channels_first, images_arrive_scaled)
    if kind == TEXT:
        _reject_layout_override(key, kind, channels_first)
        return _text_spec(key, space)
    if kind == AUDIO:
        return _audio_spec(key, space, channels_first, sample_rate)
    if kind == VECTOR:
        _reject_layout_override(key, kind, channels_first)
        if not (np.issubdtype(space.dtype, np.number) or space.dtype == np.bool_):
            raise ValueError(
                f"observation {key!r} has dtype {space.dtype}; a vector must be numeric. "
                f"Map it to 'ignore' or convert it in a wrapper."
            )
        return ModalitySpec(key=key, kind=VECTOR, space=space, shape=(int(np.prod(space.shape)),))
    raise ValueError(f"unknown modality kind {kind!r} for {key!r}; use one of {MODALITY_KINDS}.")


def sb3_scales_image(space: spaces.Box) -> bool:
    """Whether SB3's ``preprocess_obs`` divides this space by 255 when ``normalize_images=True``."""
    return bool(is_image_space(space))


def _reject_layout_override(key: str, kind: str, channels_first: bool | None) -> None:
    if channels_first is not None:
        raise ValueError(
            f"channels_first is given for {key!r}, a {kind} observation; it applies to image "
            f"and audio keys only. Remove {key!r} from channels_first=."
        )


def _image_spec(
    key: str, space: spaces.Box, channels_first: bool | None, arrives_scaled: bool
) -> ModalitySpec:
    shape = tuple(int(size) for size in space.shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"observation {key!r} is mapped to 'image' but has shape {shape}; an image needs "
            f"(H, W, C), (C, H, W) or (H, W). Map it to 'vector' "
            f"({set_hint('modalities', key, VECTOR)}) or reshape it in a wrapper."
        )
    if space.dtype == np.uint8:
        scale = 1.0 if arrives_scaled else 1.0 / 255.0
    elif np.issubdtype(space.dtype, np.floating):
        scale = 1.0
    else:
        raise ValueError(
            f"image {key!r} has dtype {space.dtype}; use uint8 (0..255) or float (0..1) images, "
            f"e.g. convert it with gymnasium.wrappers.TransformObservation."
        )
    if len(shape) == 2:
        if channels_first is not None:
            _reject_layout_override(key, "2-D (grayscale) image", channels_first)
        return ModalitySpec(key=key, kind=IMAGE, space=space, shape=(1, *shape), scale=scale)
    if channels_first is None:
        channels_first = image_channels_first(shape)
        if channels_first is None:
            raise ValueError(
                f"image {key!r} has shape {shape}: the first and last axes are equal, so the "
                f"channel axis is ambiguous. Pass channels_first={{{key!r}: True or False}} "
                f"(CLI: --set policy_kwargs.features_extractor_kwargs.channels_first.{key}=true "
                f"or false)."
            )
    canonical = shape if channels_first else (shape[2], shape[0], shape[1])
    return ModalitySpec(
        key=key,
        kind=IMAGE,
        space=space,
        shape=canonical,
        channels_first=channels_first,
        scale=scale,
    )


def _grid_spec(
    key: str, space: spaces.Box, channels_first: bool | None, arrives_scaled: bool
) -> ModalitySpec:
    shape = tuple(int(size) for size in space.shape)
    fix = (
        f"A grid is integer cell codes (H, W, C), (C, H, W) or (H, W) with low >= 0; map the key "
        f"to 'image' (pixels) or 'vector' instead ({set_hint('modalities', key, IMAGE)})."
    )
    if len(shape) not in (2, 3) or not np.issubdtype(space.dtype, np.integer):
        raise ValueError(f"observation {key!r} is mapped to 'grid' but is {space}. {fix}")
    if np.any(space.low < 0):
        raise ValueError(
            f"grid {key!r} allows negative codes (low={int(np.min(space.low))}); shift the codes "
            f"to start at 0 in a wrapper. {fix}"
        )
    if len(shape) == 2:
        if channels_first is not None:
            _reject_layout_override(key, "2-D (one code per cell) grid", channels_first)
        canonical, channels_first = (1, *shape), True
    else:
        if channels_first is None:
            channels_first = grid_layout(space)
            if channels_first is None:
                raise ValueError(
                    f"grid {key!r} has shape {shape}: the first and last axes are equal, so the "
                    f"channel axis is ambiguous. Pass {set_hint('channels_first', key, False)} "
                    f"for (H, W, C), or True for (C, H, W)."
                )
        canonical = shape if channels_first else (shape[2], shape[0], shape[1])
    counts = grid_code_counts(space, channels_first)
    return ModalitySpec(
        key=key,
        kind=GRID,
        space=space,
        shape=canonical,
        channels_first=channels_first,
        scale=255.0 if arrives_scaled else 1.0,
        code_counts=counts,
    )


def _text_spec(key: str, space: spaces.Box) -> ModalitySpec:
    shape = tuple(int(size) for size in space.shape)
    if len(shape) != 1 or not np.issubdtype(space.dtype, np.integer):
        raise ValueError(
            f"text {key!r} is {space}; text must be token ids in a 1-D integer Box, "
            f"e.g. Box(0, vocab_size - 1, (max_length,), int64) with 0 as padding."
        )
    low, high = int(np.min(space.low)), int(np.max(space.high))
    if low < 0:
        raise ValueError(
            f"text {key!r} allows negative token ids (low={low}); ids must be >= 0, "
            f"with 0 = padding."
        )
    if high >= MAX_EXACT_TOKEN_ID:
        raise ValueError(
            f"text {key!r} has high={high}, read as a vocabulary of {high + 1} tokens; set the "
            f"Box's high to vocab_size - 1 (at most {MAX_EXACT_TOKEN_ID - 1})."
        )
    return ModalitySpec(key=key, kind=TEXT, space=space, shape=shape, vocab_size=high + 1)


def _audio_spec(
    key: str, space: spaces.Box, channels_first: bool | None, sample_rate: int
) -> ModalitySpec:
    shape = tuple(int(size) for size in space.shape)
    dtype = np.dtype(space.dtype)
    if dtype not in AUDIO_SCALES:
        raise ValueError(
            f"audio {key!r} has dtype {dtype}; supported: float16/32/64 (in [-1, 1]), int16, "
            f"int32, uint8 (8-bit PCM). Convert it to float32 in [-1, 1] in a wrapper."
        )
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate} (for audio {key!r}).")
    offset, scale = AUDIO_SCALES[dtype]
    if len(shape) == 1:
        if channels_first is not None:
            _reject_layout_override(key, "mono (1-D) audio", channels_first)
        canonical, channels_first = (1, shape[0]), True
    elif len(shape) == 2:
        if channels_first is None:
            channels_first = audio_channels_first(shape)
            if channels_first is None:
                raise ValueError(
                    f"audio {key!r} has shape {shape}; cannot tell channels from samples (the "
                    f"channel axis must be the smaller one with at most {MAX_AUDIO_CHANNELS} "
                    f"entries). Pass {set_hint('channels_first', key, True)} for (channels, "
                    f"samples) or False for (samples, channels)."
                )
        canonical = shape if channels_first else (shape[1], shape[0])
    else:
        raise ValueError(
            f"audio {key!r} has shape {shape}; audio must be (channels, samples), "
            f"(samples, channels) or (samples,)."
        )
    return ModalitySpec(
        key=key,
        kind=AUDIO,
        space=space,
        shape=canonical,
        channels_first=channels_first,
        offset=offset,
        scale=scale,
        sample_rate=sample_rate,
    )
