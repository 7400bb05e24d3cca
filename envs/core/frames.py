"""Copying a numpy frame onto a game's drawing surface, for games that draw with numpy.

A game on the base draws its view on the ``pygame.Surface`` the base gives it
(:meth:`~envs.core.game.MultimodalGame.draw_observation`). A game that already has its picture as
an array copies it in with :func:`blit_frame`, which takes exactly what the view is, an
``(H, W, 3)`` uint8 RGB array of the surface's size, and names the fix for anything else rather
than stretching, widening or casting it.
"""

from __future__ import annotations

import numpy as np
import pygame


def blit_frame(surface: pygame.Surface, frame: np.ndarray) -> None:
    """Copy ``frame``, an ``(H, W, 3)`` uint8 RGB array, onto ``surface`` (of size ``W × H``).

    :raises TypeError: when ``frame`` is not a numpy array.
    :raises ValueError: naming the frame's shape or dtype and the fix: a grey ``(H, W)`` or
        ``(H, W, 1)`` frame (repeat it to three channels), ``(H, W, 4)`` (drop the alpha), a
        float or other non-uint8 frame, or a frame of another size than the surface.
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(
            f"blit_frame needs a numpy array of shape (H, W, 3), got {type(frame).__name__}"
        )
    width, height = surface.get_size()
    shape = tuple(frame.shape)
    if len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        raise ValueError(
            f"blit_frame got a one-channel frame of shape {shape}; the view is RGB "
            f"({height}, {width}, 3): repeat the grey channel, "
            "np.repeat(frame.reshape(frame.shape[0], frame.shape[1], 1), 3, axis=2)"
        )
    if len(shape) == 3 and shape[2] == 4:
        raise ValueError(
            f"blit_frame got a frame of shape {shape} with an alpha channel; the view is RGB: "
            "pass frame[..., :3]"
        )
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"blit_frame needs a frame of shape (H, W, 3), got {shape}")
    if shape[:2] != (height, width):
        raise ValueError(
            f"blit_frame got a frame of shape {shape} for a surface of {height}×{width} "
            f"(height × width); draw it at the surface's size, ({height}, {width}, 3)"
        )
    if frame.dtype != np.uint8:
        raise ValueError(
            f"blit_frame needs a uint8 frame (0..255), got {frame.dtype}; a float frame in "
            "[0, 1] becomes one with (frame * 255).round().astype(np.uint8)"
        )
    pygame.surfarray.blit_array(surface, frame.swapaxes(0, 1))
