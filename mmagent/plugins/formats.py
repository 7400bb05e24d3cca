"""Sample formats of the plug-in layer: integer PCM audio → float32 in [-1, 1], and what counts
as an image.

The rules are :mod:`mmagent.convention`'s (the extractor reads raw observations by the same
ones); this module re-exports them under the names the plug-in wrappers import:
``int16`` → ``x / 32768``, ``int32`` → ``x / 2**31``, ``uint8`` (8-bit PCM, silence at 128) →
``(x - 128) / 128``; float16/32/64 audio is taken as already in [-1, 1].
"""

from __future__ import annotations

from mmagent.convention import (
    IMAGE_CHANNEL_COUNTS,
    MAX_AUDIO_CHANNELS,
    PCM_SCALES,
    is_audio_dtype,
    looks_like_image,
    pcm_to_float,
)

looks_like_rgb_frame = looks_like_image
"""The old name of :func:`mmagent.convention.looks_like_image`."""

__all__ = [
    "IMAGE_CHANNEL_COUNTS",
    "MAX_AUDIO_CHANNELS",
    "PCM_SCALES",
    "is_audio_dtype",
    "looks_like_image",
    "looks_like_rgb_frame",
    "pcm_to_float",
]
