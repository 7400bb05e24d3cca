"""The observation convention, written once: what the extractor reads and the plug-in layer writes.

Both sides import this module: :mod:`mmagent.extractors.modalities` (how each key becomes the
tensor its encoder reads) and :mod:`mmagent.plugins.keys` / :mod:`mmagent.plugins.formats` (how a
third-party env's keys and formats are mapped onto the convention). A rule changed here changes
on both sides.

Convention (the built-in games emit exactly this; the plug-in layer maps other envs onto it):

* ``image``: ``Box(0, 255, (H, W, 3), uint8)`` pixels (any 2-D/3-D uint8 or float frame is read);
* ``text``: ``Box(0, V - 1, (L,), int64)`` token ids, :data:`PAD_TOKEN_ID` = padding,
  :data:`UNKNOWN_TOKEN_ID` = unknown word;
* ``audio``: ``Box(-1, 1, (C, S), float32)``, channels first; integer PCM is read by
  :data:`PCM_SCALES`;
* any other numeric ``Box``: a ``vector`` for the MLP encoder; an ``image`` that holds integer
  cell codes is a ``grid`` (see below).

Detection rules:

* **Image layout** (:func:`image_channels_first`): of the first and last axis of a 3-D frame the
  smaller is the channel axis; equal sizes are ambiguous.
* **Pixels** (:func:`looks_like_image`): a 3-D ``uint8`` ``Box`` whose channel axis can be told.
* **Symbolic grid** (:func:`looks_like_symbolic_grid`): integer codes per cell (object, colour,
  state, ... as MiniGrid's 7x7x3 view), not pixels. Detected when *all* of: an integer dtype (not
  bool); shape ``(H, W)`` or ``(H, W, C)`` / ``(C, H, W)`` with ``C <=`` :data:`MAX_GRID_CHANNELS`;
  ``H, W <=`` :data:`MAX_GRID_SIDE`; ``low >= 0``; every channel's ``high + 1 <=``
  :data:`MAX_GRID_CODES`; and the bounds are not the full pixel range (a ``uint8`` space with
  ``low == 0`` and ``high == 255`` everywhere is what SB3 and every pixel env declare, so it stays
  an image; MiniGrid declares its view that way, so map it explicitly, see ``docs/extractor.md``).
* **Audio layout** (:func:`audio_channels_first`): of a 2-D waveform the smaller axis is the
  channel axis when it has at most :data:`MAX_AUDIO_CHANNELS` entries; equal sizes are ambiguous.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.core.text import PAD_ID, UNKNOWN_ID

# -- modality names ---------------------------------------------------------------------------

IMAGE = "image"
TEXT = "text"
AUDIO = "audio"
VECTOR = "vector"
GRID = "grid"
"""A symbolic grid: integer codes per cell, embedded (never divided by 255)."""
IGNORE = "ignore"

MODALITY_KINDS: tuple[str, ...] = (IMAGE, TEXT, AUDIO, VECTOR, GRID)
"""The modality kinds an observation key can be mapped to (plus :data:`IGNORE`)."""

DETECTED_BY_NAME: tuple[str, ...] = (IMAGE, TEXT, AUDIO)
"""Keys with exactly these names are detected as that modality (an ``image`` key holding a
symbolic grid is detected as :data:`GRID`)."""

PAD_TOKEN_ID: int = PAD_ID
"""Text padding id (the games' ``envs.core.text.PAD_ID``)."""
UNKNOWN_TOKEN_ID: int = UNKNOWN_ID
"""Id of a word not in the vocabulary (the games' ``envs.core.text.UNKNOWN_ID``)."""

# -- dtypes and shapes of the convention ------------------------------------------------------

IMAGE_DTYPE = np.dtype(np.uint8)
"""Pixels: ``(H, W, C)`` uint8 in 0..255 (float frames in [0, 1] are read too)."""
TEXT_DTYPE = np.dtype(np.int64)
"""Token ids: ``(L,)`` int64."""
AUDIO_DTYPE = np.dtype(np.float32)
"""Waveform: ``(channels, samples)`` float32 in [-1, 1]."""

IMAGE_CHANNEL_COUNTS: tuple[int, ...] = (1, 3, 4)
"""Channel counts of an ordinary frame (grey, RGB, RGBA); used to name a non-``Dict``
observation ``image``."""

MAX_AUDIO_CHANNELS = 8
"""An audio axis with at most this many entries (and shorter than the other) holds channels."""

MAX_EXACT_TOKEN_ID = 2**24
"""Token ids arrive as float32 from SB3's ``preprocess_obs``, exact for integers up to 2**24."""

# -- PCM scales -------------------------------------------------------------------------------

FLOAT_AUDIO_DTYPES: tuple[np.dtype, ...] = (
    np.dtype(np.float16),
    np.dtype(np.float32),
    np.dtype(np.float64),
)
"""Float audio dtypes, taken as already in [-1, 1]."""

PCM_SCALES: dict[np.dtype, tuple[float, float]] = {
    np.dtype(np.int16): (0.0, 1.0 / 32768.0),
    np.dtype(np.int32): (0.0, 1.0 / 2**31),
    np.dtype(np.uint8): (128.0, 1.0 / 128.0),
}
"""Integer PCM dtype → ``(offset, scale)``: ``float = (pcm - offset) * scale``."""

AUDIO_SCALES: dict[np.dtype, tuple[float, float]] = {
    **{dtype: (0.0, 1.0) for dtype in FLOAT_AUDIO_DTYPES},
    **PCM_SCALES,
}
"""Every readable audio dtype → ``(offset, scale)`` (float audio: ``(0, 1)``)."""

# -- symbolic grids ---------------------------------------------------------------------------

MAX_GRID_SIDE = 32
"""A symbolic grid is at most this many cells high and wide (MiniGrid's view is 7x7)."""
MAX_GRID_CHANNELS = 8
"""A symbolic grid has at most this many codes per cell (MiniGrid: object, colour, state)."""
MAX_GRID_CODES = 256
"""A symbolic grid's channel has at most this many codes (``high + 1``): one embedding table."""


def is_audio_dtype(dtype: np.dtype | type) -> bool:
    """Whether audio of ``dtype`` can be read: float16/32/64 or an integer PCM dtype."""
    return np.dtype(dtype) in AUDIO_SCALES


def pcm_to_float(samples: np.ndarray) -> np.ndarray:
    """``samples`` as float32 in [-1, 1] by :data:`PCM_SCALES` (float input is only cast).

    :raises ValueError: for a dtype not in :data:`AUDIO_SCALES`.
    """
    dtype = np.dtype(samples.dtype)
    if dtype in FLOAT_AUDIO_DTYPES:
        return samples.astype(np.float32, copy=False)
    if dtype not in PCM_SCALES:
        raise ValueError(
            f"audio of dtype {dtype} cannot be read; use float16/32/64 (in [-1, 1]), int16, "
            "int32 or uint8 (8-bit PCM) samples"
        )
    offset, scale = PCM_SCALES[dtype]
    return ((samples.astype(np.float32) - np.float32(offset)) * np.float32(scale)).astype(
        np.float32
    )


def image_channels_first(shape: tuple[int, ...]) -> bool | None:
    """Layout of a 3-D frame: True for ``(C, H, W)``, False for ``(H, W, C)``, None when the first
    and last axes are equal (ambiguous). The smaller of the two is the channel axis."""
    if len(shape) != 3 or shape[0] == shape[2]:
        return None
    return shape[0] < shape[2]


def audio_channels_first(shape: tuple[int, ...]) -> bool | None:
    """Layout of a 2-D waveform: True for ``(C, S)``, False for ``(S, C)``, None when it cannot be
    told (equal axes, or no axis of at most :data:`MAX_AUDIO_CHANNELS` entries)."""
    if len(shape) != 2 or shape[0] == shape[1] or min(shape) > MAX_AUDIO_CHANNELS:
        return None
    return shape[0] < shape[1]


def has_pixel_bounds(space: spaces.Box) -> bool:
    """A ``uint8`` Box bounded by exactly 0 and 255 everywhere (SB3's ``is_image_space`` bounds)."""
    return (
        space.dtype == np.uint8 and bool(np.all(space.low == 0)) and bool(np.all(space.high == 255))
    )


def looks_like_image(space: spaces.Space) -> bool:
    """A 3-D ``uint8`` ``Box`` whose channel axis can be told (:func:`image_channels_first`)."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and image_channels_first(space.shape) is not None
    )


def grid_layout(space: spaces.Box) -> bool | None:
    """Channel layout of a grid-shaped Box: True ``(C, H, W)``, False ``(H, W, C)``, None when it
    has no channel axis (2-D) or cannot be told."""
    return image_channels_first(space.shape) if len(space.shape) == 3 else None


def grid_code_counts(space: spaces.Box, channels_first: bool | None) -> tuple[int, ...]:
    """Codes per channel of a symbolic grid (``high + 1`` of each channel), in channel order."""
    high = np.asarray(space.high)
    if high.ndim == 2:
        return (int(high.max()) + 1,)
    if channels_first:
        per_channel = high.reshape(high.shape[0], -1)
    else:
        per_channel = high.reshape(-1, high.shape[-1]).T
    return tuple(int(channel.max()) + 1 for channel in per_channel)


def looks_like_symbolic_grid(space: spaces.Space) -> bool:
    """Whether ``space`` holds integer cell codes rather than pixels (rule in the module
    docstring)."""
    if not isinstance(space, spaces.Box) or space.dtype == np.bool_:
        return False
    if not np.issubdtype(space.dtype, np.integer) or len(space.shape) not in (2, 3):
        return False
    if has_pixel_bounds(space) or np.any(space.low < 0):
        return False
    if len(space.shape) == 2:
        height, width = space.shape
    else:
        channels_first = grid_layout(space)
        if channels_first is None:
            return False
        channels = space.shape[0] if channels_first else space.shape[2]
        height, width = space.shape[1:] if channels_first else space.shape[:2]
        if channels > MAX_GRID_CHANNELS:
            return False
    if max(height, width) > MAX_GRID_SIDE:
        return False
    return int(np.max(space.high)) + 1 <= MAX_GRID_CODES
