"""Beacon drawing: the agent's egocentric view and the top-down display of the whole arena."""

from __future__ import annotations

import math

import numpy as np
import pygame

from envs.beacon.rules import FIRST_LANDMARK_CODE, FLOOR, OBSTACLE, WALL, BeaconState, Landmark

FLOOR_COLOUR = (28, 30, 36)
WALL_COLOUR = (110, 110, 120)
OBSTACLE_COLOUR = (150, 98, 60)
AGENT_COLOUR = (255, 255, 255)
VIEW_OUTLINE = (255, 255, 255)
SOUND_RING = (110, 200, 255)
TARGET_OUTLINE = (90, 230, 120)
LANDMARK_COLOURS = {
    "red": (230, 50, 50),
    "green": (60, 200, 70),
    "blue": (60, 110, 240),
    "yellow": (240, 220, 40),
    "purple": (170, 70, 220),
}


def padded_grid(state: BeaconState, view_radius: int) -> np.ndarray:
    """The cell grid with ``view_radius`` more rings of wall, so any view window fits."""
    return np.pad(state.grid, view_radius, constant_values=WALL)


def view_codes(state: BeaconState, view_radius: int) -> np.ndarray:
    """The ``(2r+1)²`` cell codes around the agent, rotated so its heading points up.

    The symbolic twin of :class:`ViewRenderer`'s picture (row 0 is the far edge ahead).
    """
    # The agent's grid index is (y + 1, x + 1); padding shifts it by the radius, so the
    # window starts at (y + 1, x + 1).
    x, y = state.agent[0] + 1, state.agent[1] + 1
    side = 2 * view_radius + 1
    window = padded_grid(state, view_radius)[y : y + side, x : x + side]
    # np.rot90 turns counter-clockwise: once brings the east column to the top, and so on.
    return np.rot90(window, k=state.heading)


def draw_landmark(
    surface: pygame.Surface, landmark: Landmark, rect: pygame.Rect, *, rings: bool = False
) -> None:
    """Draw a landmark in ``rect``: its colour and shape (a sounding landmark looks the same;
    ``rings`` marks it, for the overhead display only)."""
    centre = rect.center
    radius = max(1, min(rect.width, rect.height) * 2 // 5)
    colour = LANDMARK_COLOURS[landmark.colour or "red"]
    if landmark.shape == "ball":
        pygame.draw.circle(surface, colour, centre, radius)
    elif landmark.shape == "box":
        pygame.draw.rect(surface, colour, rect.inflate(-rect.width // 5, -rect.height // 5))
    else:
        top = (centre[0], rect.top + rect.height // 10)
        left = (rect.left + rect.width // 10, rect.bottom - rect.height // 10)
        right = (rect.right - rect.width // 10, rect.bottom - rect.height // 10)
        pygame.draw.polygon(surface, colour, (top, left, right))
    if rings and landmark.sound is not None:
        pygame.draw.circle(surface, SOUND_RING, centre, radius + rect.width // 3, width=2)


def _cell_rect(column: int, row: int, cell_width: float, cell_height: float) -> pygame.Rect:
    left, top = round(column * cell_width), round(row * cell_height)
    return pygame.Rect(
        left, top, round((column + 1) * cell_width) - left, round((row + 1) * cell_height) - top
    )


def _draw_codes(
    surface: pygame.Surface, codes: np.ndarray, state: BeaconState, *, rings: bool
) -> tuple[float, float]:
    """Fill ``surface`` with the cells in ``codes``; returns the cell size in pixels."""
    surface.fill(FLOOR_COLOUR)
    width, height = surface.get_size()
    cell_width, cell_height = width / codes.shape[1], height / codes.shape[0]
    rows, columns = np.nonzero(codes != FLOOR)
    for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
        code = int(codes[row, column])
        rect = _cell_rect(column, row, cell_width, cell_height)
        if code == WALL:
            surface.fill(WALL_COLOUR, rect)
        elif code == OBSTACLE:
            surface.fill(OBSTACLE_COLOUR, rect)
        elif code >= FIRST_LANDMARK_CODE:
            draw_landmark(surface, state.landmarks[code - FIRST_LANDMARK_CODE], rect, rings=rings)
    return cell_width, cell_height


def _draw_agent(surface: pygame.Surface, rect: pygame.Rect, heading: int) -> None:
    """An arrowhead in ``rect`` pointing along ``heading``."""
    cx, cy = rect.center
    half_w, half_h = rect.width * 0.4, rect.height * 0.4
    tip, back_left, back_right = (0.0, -1.0), (-0.8, 0.8), (0.8, 0.8)
    points = []
    for px, py in (tip, back_left, back_right):
        for _ in range(heading % 4):
            px, py = -py, px
        points.append((cx + px * half_w, cy + py * half_h))
    pygame.draw.polygon(surface, AGENT_COLOUR, points)


class ViewRenderer:
    """Draws the agent's egocentric view fast: the episode's arena is drawn once, in all
    four orientations, and each step only cuts out and scales the window around the agent.

    :param state: the episode (its walls, obstacles and landmarks never move).
    :param view_radius: cells visible in each direction.
    :param view_size: ``(width, height)`` of the observation, in pixels.
    """

    def __init__(self, state: BeaconState, view_radius: int, view_size: tuple[int, int]) -> None:
        self.view_radius = view_radius
        window_cells = 2 * view_radius + 1
        self.cell_pixels = max(2, math.ceil(max(view_size) / window_cells))
        codes = padded_grid(state, view_radius)
        self.side_cells = codes.shape[0]
        arena = pygame.Surface((self.side_cells * self.cell_pixels,) * 2)
        _draw_codes(arena, codes, state, rings=False)
        # pygame.transform.rotate turns counter-clockwise, as np.rot90 does in view_codes.
        self.orientations = [arena] + [
            pygame.transform.rotate(arena, 90 * turns) for turns in range(1, 4)
        ]

    def _rotated_cell(self, cell: tuple[int, int], turns: int) -> tuple[int, int]:
        column, row = cell
        last = self.side_cells - 1
        for _ in range(turns % 4):
            column, row = row, last - column
        return column, row

    def draw(self, surface: pygame.Surface, state: BeaconState) -> None:
        """Draw the view of ``state``'s agent onto ``surface``, its heading up."""
        radius = self.view_radius
        # The agent's padded-grid cell: one ring of wall and ``radius`` rings of padding.
        column, row = self._rotated_cell(
            (state.agent[0] + 1 + radius, state.agent[1] + 1 + radius), state.heading
        )
        window = pygame.Rect(
            (column - radius) * self.cell_pixels,
            (row - radius) * self.cell_pixels,
            (2 * radius + 1) * self.cell_pixels,
            (2 * radius + 1) * self.cell_pixels,
        )
        source = self.orientations[state.heading % 4].subsurface(window)
        pygame.transform.scale(source, surface.get_size(), surface)
        width, height = surface.get_size()
        cell_width, cell_height = width / (2 * radius + 1), height / (2 * radius + 1)
        _draw_agent(surface, _cell_rect(radius, radius, cell_width, cell_height), 0)


def draw_arena(surface: pygame.Surface, state: BeaconState, view_radius: int) -> None:
    """The whole arena from above: sounding landmarks ringed, the target outlined, the view box."""
    cell_width, cell_height = _draw_codes(surface, state.grid, state, rings=True)
    target_x, target_y = state.target.cell
    pygame.draw.rect(
        surface,
        TARGET_OUTLINE,
        _cell_rect(target_x + 1, target_y + 1, cell_width, cell_height),
        width=2,
    )
    agent_x, agent_y = state.agent
    _draw_agent(
        surface, _cell_rect(agent_x + 1, agent_y + 1, cell_width, cell_height), state.heading
    )
    view_rect = pygame.Rect(
        round((agent_x + 1 - view_radius) * cell_width),
        round((agent_y + 1 - view_radius) * cell_height),
        round((2 * view_radius + 1) * cell_width),
        round((2 * view_radius + 1) * cell_height),
    )
    pygame.draw.rect(surface, VIEW_OUTLINE, view_rect, width=1)
