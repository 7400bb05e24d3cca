"""Recall drawing: the hall from above — a row of doors, a corridor leading to them, the agent.

The picture depends on the corridor's length, the agent's position and (during the cue
phase only) which door is lit; nothing in it tells the target once the cues are off.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from envs.recall.rules import RecallState

WALL = (26, 28, 38)
FLOOR = (92, 92, 104)
TILE_LINE = (70, 70, 82)
DOOR_FRAME = (16, 16, 20)
DOOR = (128, 84, 50)
DOOR_LIT = (255, 214, 64)
DOOR_OPEN = (0, 0, 0)
AGENT = (255, 255, 255)
TARGET_OUTLINE = (90, 230, 120)
LABEL = (235, 235, 235)
LABEL_ON_LIT = (30, 30, 30)

DOOR_BAND_FRACTION = 0.25
CORRIDOR_WIDTH_FRACTION = 0.3


@dataclass(frozen=True)
class HallLayout:
    """Where everything goes on a ``width × height`` frame, for a hall of ``n_doors`` doors
    and corridors of up to ``max_corridor_length`` walks.

    Row 0 is the landing in front of the doors; row ``r`` is ``r`` walks from it. The rows'
    height is fixed by the longest corridor, so a corridor's length shows as how far down
    its floor reaches.
    """

    width: int
    height: int
    n_doors: int
    max_corridor_length: int

    @property
    def door_band_height(self) -> int:
        """Height of the wall that holds the doors, along the top."""
        return max(3, round(self.height * DOOR_BAND_FRACTION))

    @property
    def row_height(self) -> float:
        """Height of one row of floor."""
        return (self.height - self.door_band_height) / (self.max_corridor_length + 1)

    def door_rects(self) -> list[pygame.Rect]:
        """The doors, evenly spaced along the top wall (left to right)."""
        slot = self.width / self.n_doors
        door_width = max(2, round(slot * 0.7))
        door_height = max(2, self.door_band_height - max(1, self.door_band_height // 6))
        top = self.door_band_height - door_height
        return [
            pygame.Rect(round(slot * index + (slot - door_width) / 2), top, door_width, door_height)
            for index in range(self.n_doors)
        ]

    def row_rect(self, row: int) -> pygame.Rect:
        """Row ``row`` of floor: the landing (row 0) spans the hall, the corridor is narrower."""
        top = self.door_band_height + round(row * self.row_height)
        bottom = self.door_band_height + round((row + 1) * self.row_height)
        if row == 0:
            return pygame.Rect(0, top, self.width, bottom - top)
        corridor = max(3, round(self.width * CORRIDOR_WIDTH_FRACTION))
        return pygame.Rect((self.width - corridor) // 2, top, corridor, bottom - top)


def draw_static(surface: pygame.Surface, corridor_length: int, layout: HallLayout) -> None:
    """Draw what stays put for a whole episode: the wall, the closed doors and the floor of a
    corridor ``corridor_length`` walks long."""
    surface.fill(WALL)
    for rect in layout.door_rects():
        surface.fill(DOOR_FRAME, rect.inflate(2, 2))
        surface.fill(DOOR, rect)
    for row in range(corridor_length + 1):
        rect = layout.row_rect(row)
        surface.fill(FLOOR, rect)
        if row:
            surface.fill(TILE_LINE, (rect.left, rect.top, rect.width, 1))


class HallRenderer:
    """Draws the hall fast: the still part of each corridor length is drawn once and cached,
    and each step only copies it and adds the lit or opened door and the agent.

    :param layout: the frame's layout.
    """

    def __init__(self, layout: HallLayout) -> None:
        self.layout = layout
        self._door_rects = layout.door_rects()
        self._backgrounds: dict[int, pygame.Surface] = {}

    def draw(self, surface: pygame.Surface, state: RecallState, *, reveal: bool = False) -> None:
        """Draw ``state`` onto ``surface``: the doors (the lit one yellow while the cue is on,
        the opened one black), the floor up to the corridor's start, and the agent facing the
        doors. ``reveal`` outlines the target door (for the display once the episode is over).
        """
        background = self._backgrounds.get(state.corridor_length)
        if background is None:
            background = pygame.Surface((self.layout.width, self.layout.height))
            draw_static(background, state.corridor_length, self.layout)
            self._backgrounds[state.corridor_length] = background
        surface.blit(background, (0, 0))
        if state.cue_on and state.chosen != state.lit_door:
            surface.fill(DOOR_LIT, self._door_rects[state.lit_door])
        if state.chosen is not None:
            surface.fill(DOOR_OPEN, self._door_rects[state.chosen])
        if reveal:
            target = self._door_rects[state.target_door]
            pygame.draw.rect(surface, TARGET_OUTLINE, target.inflate(4, 4), width=2)
        row = self.layout.row_rect(state.corridor_length - state.position)
        _draw_agent(surface, row, self.layout)


def _draw_agent(surface: pygame.Surface, row: pygame.Rect, layout: HallLayout) -> None:
    """An arrowhead in the middle of ``row``, pointing up at the doors."""
    half_height = max(1.5, row.height * 0.45)
    half_width = max(1.5, min(layout.width * CORRIDOR_WIDTH_FRACTION * 0.3, 1.5 * half_height))
    centre_x, centre_y = layout.width / 2, row.top + row.height / 2
    points = (
        (centre_x, centre_y - half_height),
        (centre_x - half_width, centre_y + half_height),
        (centre_x + half_width, centre_y + half_height),
    )
    pygame.draw.polygon(surface, AGENT, points)


def draw_display(
    surface: pygame.Surface,
    state: RecallState,
    renderer: HallRenderer,
    font: pygame.font.Font,
    *,
    reveal: bool,
) -> None:
    """The hall at display size, each door labelled with the number key that opens it."""
    renderer.draw(surface, state, reveal=reveal)
    for index, rect in enumerate(renderer.layout.door_rects()):
        lit = state.cue_on and index == state.lit_door and state.chosen != index
        label = font.render(str(index + 1), True, LABEL_ON_LIT if lit else LABEL)
        surface.blit(label, label.get_rect(center=rect.center))
