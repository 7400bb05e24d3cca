"""Sample formats: integer PCM audio → float32 in [-1, 1], and what counts as an RGB frame.

PCM rules (the extractor reads raw integer audio by the same rules, see
``mmagent/extractors/modalities.py``): ``int16`` → ``x / 32768``, ``int32`` → ``x / 2**31``,
``uint8`` (8-bit PCM, silence at 128) → ``(x - 128) / 128``; float audio is taken as already in
[-1, 1].
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

#: dtype → (offset, scale): ``float = (pcm - offset) * scale``.
PCM_SCALES: dict[np.dtype, tuple[float, float]] = {
    np.dtype(np.int16): (0.0, 1.0 / 32768.0),
    np.dtype(np.int32): (0.0, 1.0 / 2**31),
    np.dtype(np.uint8): (128.0, 1.0 / 128.0),
}

#: Channel counts an image axis may have (grey, RGB, RGBA).
IMAGE_CHANNEL_COUNTS = (1, 3, 4)

#: An audio axis with at most this many entries (and shorter than the other) holds channels.
MAX_AUDIO_CHANNELS = 8


def is_audio_dtype(dtype: np.dtype) -> bool:
    """Whether audio of ``dtype`` can be turned into float32: any float, or a PCM dtype."""
    dtype = np.dtype(dtype)
    return np.issubdtype(dtype, np.floating) or dtype in PCM_SCALES


def pcm_to_float(samples: np.ndarray) -> np.ndarray:
    """``samples`` as float32 in [-1, 1] by the PCM rules above (float input is only cast).

    :raises ValueError: for any other dtype.
    """
    dtype = np.dtype(samples.dtype)
    if np.issubdtype(dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    if dtype not in PCM_SCALES:
        raise ValueError(
            f"audio of dtype {dtype} cannot be read; use float (in [-1, 1]), int16, int32 or "
            "uint8 (8-bit PCM) samples"
        )
    offset, scale = PCM_SCALES[dtype]
    return ((samples.astype(np.float32) - np.float32(offset)) * np.float32(scale)).astype(
        np.float32
    )


def looks_like_rgb_frame(space: spaces.Space) -> bool:
    """A uint8 ``Box`` of shape ``(H, W, C)`` or ``(C, H, W)`` with 1, 3 or 4 channels."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and (space.shape[-1] in IMAGE_CHANNEL_COUNTS or space.shape[0] in IMAGE_CHANNEL_COUNTS)
    )
