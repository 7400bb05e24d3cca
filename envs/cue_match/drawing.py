"""CueMatch drawing: a row of pads, the lit one bright; key numbers on the display frame."""

from __future__ import annotations

import pygame

from envs.cue_match.rules import CueMatchState

BACKGROUND = (18, 20, 30)
PAD_DARK = (70, 74, 92)
PAD_LIT = (255, 214, 64)
LABEL = (200, 200, 210)


def pad_rects(n_pads: int, width: int, height: int) -> list[pygame.Rect]:
    """The pads' rectangles, evenly spaced across the middle of a ``width × height`` frame."""
    slot = width / n_pads
    pad_width = max(2, round(slot * 0.7))
    pad_height = max(2, round(height * 0.35))
    top = round((height - pad_height) / 2)
    return [
        pygame.Rect(round(slot * index + (slot - pad_width) / 2), top, pad_width, pad_height)
        for index in range(n_pads)
    ]


def draw_pads(surface: pygame.Surface, state: CueMatchState) -> None:
    """Draw every pad, lighting ``state.lit_pad`` once the cue is on."""
    surface.fill(BACKGROUND)
    width, height = surface.get_size()
    for index, rect in enumerate(pad_rects(state.n_pads, width, height)):
        lit = state.cue_on and index == state.lit_pad
        pygame.draw.rect(surface, PAD_LIT if lit else PAD_DARK, rect)


def draw_display(surface: pygame.Surface, state: CueMatchState, font: pygame.font.Font) -> None:
    """The pads at display size, each with the number key that presses it."""
    draw_pads(surface, state)
    width, height = surface.get_size()
    for index, rect in enumerate(pad_rects(state.n_pads, width, height)):
        label = font.render(str(index + 1), True, LABEL)
        surface.blit(label, label.get_rect(midtop=(rect.centerx, rect.bottom + height // 20)))
