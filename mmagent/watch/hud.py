"""The heads-up display: the game's frame beside what the agent reads, sees, hears and decides.

The HUD draws onto a plain ``pygame.Surface`` with pygame's default font, so it renders without
a display (headless recording, CI). Layout, left to right: the game's display frame; a panel
with the instruction, the agent's own view (scaled up), the step's audio (one waveform strip
per channel), one bar per action with its probability (the chosen action highlighted), the
value estimate and a status line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pygame

PANEL_WIDTH = 256
MARGIN = 8
FONT_SIZE = 18
SMALL_FONT_SIZE = 15
INSTRUCTION_LINES = 2
AUDIO_STRIP_HEIGHT = 36
BAR_ROW_HEIGHT = 16
LABEL_WIDTH = 92
PERCENT_WIDTH = 36
MAX_VIEW_SCALE = 3

BACKGROUND = (24, 24, 28)
PANEL_BACKGROUND = (34, 34, 40)
TEXT_COLOUR = (235, 235, 235)
MUTED_TEXT_COLOUR = (150, 150, 160)
INSTRUCTION_COLOUR = (255, 226, 120)
BAR_BACKGROUND = (55, 55, 64)
BAR_COLOUR = (90, 150, 230)
CHOSEN_BAR_COLOUR = (250, 170, 60)
CHANNEL_COLOURS = ((110, 210, 140), (230, 120, 120))
STRIP_BACKGROUND = (16, 16, 20)
STRIP_AXIS = (60, 60, 70)


class Hud:
    """Renders HUD frames; keeps its fonts and surface between frames.

    :param panel_width: width of the side panel in pixels.
    """

    def __init__(self, panel_width: int = PANEL_WIDTH) -> None:
        if panel_width < 2 * LABEL_WIDTH:
            raise ValueError(f"panel_width must be at least {2 * LABEL_WIDTH}, got {panel_width}")
        self.panel_width = panel_width
        self._surface: pygame.Surface | None = None
        self._font: pygame.font.Font | None = None
        self._small_font: pygame.font.Font | None = None

    def size(
        self,
        display_size: tuple[int, int],
        *,
        view_size: tuple[int, int] | None,
        audio_channels: int,
        action_count: int,
    ) -> tuple[int, int]:
        """The HUD frame's ``(height, width)`` for these contents; both even."""
        display_height, display_width = display_size
        panel_height = self._panel_height(view_size, audio_channels, action_count)
        height = max(display_height, panel_height)
        width = display_width + self.panel_width
        return height + height % 2, width + width % 2

    def render(
        self,
        display_frame: np.ndarray,
        *,
        instruction: str = "",
        agent_view: np.ndarray | None = None,
        audio: np.ndarray | None = None,
        action_names: Sequence[str] = (),
        action_probs: np.ndarray | None = None,
        action: Any = None,
        value: float | None = None,
        status: str = "",
        action_heading: str = "action probabilities",
    ) -> np.ndarray:
        """One HUD frame, an ``(H, W, 3)`` uint8 array with even ``H`` and ``W``.

        :param display_frame: the game's frame for a person, ``(h, w, 3)`` uint8.
        :param instruction: the instruction in force.
        :param agent_view: the agent's image observation, ``(h, w, 3)`` (or channel-first).
        :param audio: the step's audio, ``(channels, samples)`` in [-1, 1].
        :param action_names: one label per action (Discrete spaces).
        :param action_probs: the policy's probability of each action, if known.
        :param action: the action chosen on this frame (highlighted), if any.
        :param value: the value estimate, if known.
        :param status: a line of free text at the bottom (episode, step, return, ...).
        :param action_heading: the title over the action bars.
        """
        display = _as_rgb_frame(display_frame, "display_frame")
        view = None if agent_view is None else _as_rgb_frame(agent_view, "agent_view")
        channels = _audio_channels(audio)
        action_count = len(action_names) or (0 if action_probs is None else len(action_probs))
        height, width = self.size(
            display.shape[:2],
            view_size=None if view is None else view.shape[:2],
            audio_channels=channels,
            action_count=action_count,
        )
        surface = self._prepare(width, height)
        surface.fill(BACKGROUND)
        surface.blit(_to_surface(display), (0, 0))

        left = display.shape[1]
        surface.fill(PANEL_BACKGROUND, (left, 0, width - left, height))
        inner_left = left + MARGIN
        inner_width = self.panel_width - 2 * MARGIN
        top = MARGIN
        top = self._draw_instruction(surface, instruction, inner_left, top, inner_width)
        if view is not None:
            top = self._draw_view(surface, view, inner_left, top, inner_width)
        if channels:
            top = self._draw_audio(surface, audio, inner_left, top, inner_width)
        top = self._heading(surface, action_heading, inner_left, top)
        top = self._draw_actions(
            surface, action_names, action_probs, action, action_count, inner_left, top, inner_width
        )
        self._draw_value_and_status(surface, value, action, action_count, status, inner_left, top)
        return _surface_pixels(surface)

    # ------------------------------------------------------------------ layout
    def _panel_height(
        self, view_size: tuple[int, int] | None, audio_channels: int, action_count: int
    ) -> int:
        height = MARGIN + INSTRUCTION_LINES * FONT_SIZE + MARGIN
        if view_size is not None:
            height += SMALL_FONT_SIZE + _view_scale(view_size, self._inner_width()) * view_size[0]
            height += MARGIN
        if audio_channels:
            height += SMALL_FONT_SIZE + audio_channels * AUDIO_STRIP_HEIGHT + MARGIN
        height += SMALL_FONT_SIZE + max(action_count, 1) * BAR_ROW_HEIGHT + MARGIN
        height += 2 * FONT_SIZE + MARGIN
        return height

    def _inner_width(self) -> int:
        return self.panel_width - 2 * MARGIN

    def _prepare(self, width: int, height: int) -> pygame.Surface:
        if self._font is None:
            pygame.font.init()
            self._font = pygame.font.Font(None, FONT_SIZE + 4)
            self._small_font = pygame.font.Font(None, SMALL_FONT_SIZE + 3)
        if self._surface is None or self._surface.get_size() != (width, height):
            self._surface = pygame.Surface((width, height))
        return self._surface

    # ------------------------------------------------------------------ sections
    def _heading(self, surface: pygame.Surface, text: str, left: int, top: int) -> int:
        assert self._small_font is not None
        surface.blit(self._small_font.render(text, True, MUTED_TEXT_COLOUR), (left, top))
        return top + SMALL_FONT_SIZE

    def _draw_instruction(
        self, surface: pygame.Surface, instruction: str, left: int, top: int, width: int
    ) -> int:
        assert self._font is not None
        for index, line in enumerate(_wrap(self._font, instruction, width, INSTRUCTION_LINES)):
            rendered = self._font.render(line, True, INSTRUCTION_COLOUR)
            surface.blit(rendered, (left, top + index * FONT_SIZE))
        return top + INSTRUCTION_LINES * FONT_SIZE + MARGIN

    def _draw_view(
        self, surface: pygame.Surface, view: np.ndarray, left: int, top: int, width: int
    ) -> int:
        top = self._heading(surface, "agent's view", left, top)
        scale = _view_scale(view.shape[:2], width)
        scaled = pygame.transform.scale(
            _to_surface(view), (view.shape[1] * scale, view.shape[0] * scale)
        )
        surface.blit(scaled, (left, top))
        return top + scaled.get_height() + MARGIN

    def _draw_audio(
        self, surface: pygame.Surface, audio: Any, left: int, top: int, width: int
    ) -> int:
        block = np.asarray(audio, dtype=np.float32)
        if block.ndim == 1:
            block = block[None]
        names = (
            ("left", "right")
            if block.shape[0] == 2
            else tuple(f"ch {index}" for index in range(block.shape[0]))
        )
        level = np.sqrt(np.mean(np.square(block), axis=1)) if block.shape[1] else np.zeros(2)
        levels = "  ".join(f"{name} {rms:.2f}" for name, rms in zip(names, level, strict=True))
        top = self._heading(surface, f"audio (rms)  {levels}", left, top)
        for channel, samples in enumerate(block):
            strip = pygame.Rect(left, top + channel * AUDIO_STRIP_HEIGHT, width, AUDIO_STRIP_HEIGHT)
            _draw_waveform(surface, strip, samples, CHANNEL_COLOURS[channel % len(CHANNEL_COLOURS)])
        return top + block.shape[0] * AUDIO_STRIP_HEIGHT + MARGIN

    def _draw_actions(
        self,
        surface: pygame.Surface,
        action_names: Sequence[str],
        action_probs: np.ndarray | None,
        action: Any,
        action_count: int,
        left: int,
        top: int,
        width: int,
    ) -> int:
        assert self._small_font is not None
        chosen = _chosen_index(action, action_count)
        bar_left = left + LABEL_WIDTH
        bar_width = width - LABEL_WIDTH - PERCENT_WIDTH
        probs = None if action_probs is None else np.asarray(action_probs, dtype=np.float64)
        for index in range(action_count):
            row_top = top + index * BAR_ROW_HEIGHT
            label = action_names[index] if index < len(action_names) else str(index)
            colour = CHOSEN_BAR_COLOUR if index == chosen else TEXT_COLOUR
            text = _fit(self._small_font, label, LABEL_WIDTH - 4)
            surface.blit(self._small_font.render(text, True, colour), (left, row_top + 2))
            bar = pygame.Rect(bar_left, row_top + 3, bar_width, BAR_ROW_HEIGHT - 5)
            surface.fill(BAR_BACKGROUND, bar)
            if probs is not None and index < len(probs):
                probability = float(np.clip(probs[index], 0.0, 1.0))
                filled = bar.copy()
                filled.width = round(bar_width * probability)
                surface.fill(CHOSEN_BAR_COLOUR if index == chosen else BAR_COLOUR, filled)
                percent = self._small_font.render(f"{probability:4.0%}", True, TEXT_COLOUR)
                surface.blit(percent, (bar_left + bar_width + 4, row_top + 2))
            elif index == chosen:
                surface.fill(CHOSEN_BAR_COLOUR, (bar.left, bar.top, 6, bar.height))
        return top + max(action_count, 1) * BAR_ROW_HEIGHT + MARGIN

    def _draw_value_and_status(
        self,
        surface: pygame.Surface,
        value: float | None,
        action: Any,
        action_count: int,
        status: str,
        left: int,
        top: int,
    ) -> None:
        assert self._font is not None
        parts = ["value " + ("–" if value is None else f"{value:+.3f}")]
        if action is not None and not action_count:
            parts.append(f"action {np.asarray(action).tolist()}")
        surface.blit(self._font.render("   ".join(parts), True, TEXT_COLOUR), (left, top))
        if status:
            text = _fit(self._font, status, self._inner_width())
            surface.blit(self._font.render(text, True, MUTED_TEXT_COLOUR), (left, top + FONT_SIZE))


_default_hud: Hud | None = None


def render_hud(display_frame: np.ndarray, **contents: Any) -> np.ndarray:
    """One HUD frame from a shared :class:`Hud`; ``contents`` are :meth:`Hud.render`'s keywords."""
    global _default_hud
    if _default_hud is None:
        _default_hud = Hud()
    return _default_hud.render(display_frame, **contents)


# ---------------------------------------------------------------------- helpers
def _as_rgb_frame(frame: np.ndarray, name: str) -> np.ndarray:
    """``frame`` as ``(H, W, 3)`` uint8; channel-first images are moved to channel-last."""
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be an (H, W, 3) image, got shape {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 pixels, got dtype {array.dtype}")
    return np.ascontiguousarray(array)


def _audio_channels(audio: np.ndarray | None) -> int:
    if audio is None:
        return 0
    shape = np.shape(audio)
    return 1 if len(shape) == 1 else int(shape[0])


def _to_surface(frame: np.ndarray) -> pygame.Surface:
    height, width = frame.shape[:2]
    return pygame.image.frombuffer(frame.tobytes(), (width, height), "RGB")


def _surface_pixels(surface: pygame.Surface) -> np.ndarray:
    width, height = surface.get_size()
    data = pygame.image.tobytes(surface, "RGB")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy()


def _view_scale(view_size: tuple[int, int], width: int) -> int:
    return max(1, min(MAX_VIEW_SCALE, width // max(view_size[1], 1)))


def _chosen_index(action: Any, action_count: int) -> int | None:
    if action is None or not action_count:
        return None
    array = np.asarray(action)
    if array.size != 1 or not np.issubdtype(array.dtype, np.integer):
        return None
    return int(array.reshape(()))


def _draw_waveform(
    surface: pygame.Surface, strip: pygame.Rect, samples: np.ndarray, colour: tuple[int, int, int]
) -> None:
    """Each pixel column spans the min..max of its share of the samples (a min-max envelope)."""
    surface.fill(STRIP_BACKGROUND, strip)
    middle = strip.top + strip.height // 2
    pygame.draw.line(surface, STRIP_AXIS, (strip.left, middle), (strip.right - 1, middle))
    if samples.size == 0:
        return
    columns = np.array_split(np.clip(samples, -1.0, 1.0), min(strip.width, samples.size))
    half = (strip.height - 2) / 2
    for offset, column in enumerate(columns):
        top = middle - round(float(column.max()) * half)
        bottom = middle - round(float(column.min()) * half)
        x = strip.left + round(offset * strip.width / len(columns))
        pygame.draw.line(surface, colour, (x, top), (x, max(top, bottom)))


def _fit(font: pygame.font.Font, text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) to fit ``width`` pixels."""
    if font.size(text)[0] <= width:
        return text
    while text and font.size(text + "…")[0] > width:
        text = text[:-1]
    return text + "…"


def _wrap(font: pygame.font.Font, text: str, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines; the last is cut if it overflows."""
    lines: list[str] = []
    current = ""
    words = text.split()
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if font.size(candidate)[0] <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            current = " ".join(words[index:])
            break
    if current:
        lines.append(current)
    return [_fit(font, line, width) for line in lines[:max_lines]]
