"""Beacon rules and state: a walled grid, obstacles, landmarks to see or hear, and an agent.

Pure Python and numpy: no drawing and no synthesis, so the rules can be tested on their own.
Cells are ``(x, y)`` with x to the right and y downwards; headings are 0 up, 1 right,
2 down, 3 left.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

Cell = tuple[int, int]

FORWARD, TURN_LEFT, TURN_RIGHT = 0, 1, 2
ACTION_NAMES = ("forward", "turn left", "turn right")

COLOURS = ("red", "green", "blue", "yellow", "purple")
SHAPES = ("ball", "box", "cone")
SOUNDS = ("beeping", "buzzing", "chirping", "ringing", "hissing")
COLOUR_SOUNDS = dict(zip(COLOURS, SOUNDS, strict=True))
"""The sound every landmark of a colour makes when that colour is sounding (red beeps, ...)."""

# Codes of the cell grid (the border row and column are walls).
FLOOR, WALL, OBSTACLE = 0, 1, 2
FIRST_LANDMARK_CODE = 3

HEADING_STEPS: tuple[Cell, ...] = ((0, -1), (1, 0), (0, 1), (-1, 0))


@dataclass(frozen=True)
class Landmark:
    """A landmark: a colour and a shape, and the sound of its colour when it is sounding."""

    cell: Cell
    colour: str | None = None
    shape: str | None = None
    sound: str | None = None


@dataclass
class BeaconState:
    """One Beacon episode: the arena, the landmarks, the target and the agent's pose."""

    arena_size: int
    agent: Cell
    heading: int
    obstacles: frozenset[Cell]
    landmarks: tuple[Landmark, ...]
    target_index: int
    phrasing: int
    grid: np.ndarray = field(repr=False)

    @property
    def target(self) -> Landmark:
        """The landmark the instruction names."""
        return self.landmarks[self.target_index]


def build_grid(
    arena_size: int, obstacles: frozenset[Cell], landmarks: tuple[Landmark, ...]
) -> np.ndarray:
    """The ``(arena_size + 2)²`` cell-code grid, indexed ``[y + 1, x + 1]``, walls around it."""
    grid = np.full((arena_size + 2, arena_size + 2), WALL, dtype=np.int8)
    grid[1:-1, 1:-1] = FLOOR
    for x, y in obstacles:
        grid[y + 1, x + 1] = OBSTACLE
    for index, landmark in enumerate(landmarks):
        x, y = landmark.cell
        grid[y + 1, x + 1] = FIRST_LANDMARK_CODE + index
    return grid


def cell_code(grid: np.ndarray, cell: Cell) -> int:
    """The code at ``cell`` (arena coordinates); outside the arena reads as wall."""
    x, y = cell
    if not (-1 <= x < grid.shape[1] - 1 and -1 <= y < grid.shape[0] - 1):
        return WALL
    return int(grid[y + 1, x + 1])


def step_cell(cell: Cell, heading: int) -> Cell:
    """The cell one step from ``cell`` along ``heading``."""
    dx, dy = HEADING_STEPS[heading % 4]
    return cell[0] + dx, cell[1] + dy


def landmark_looks(rng: np.random.Generator, n_landmarks: int) -> tuple[list[tuple[str, str]], int]:
    """Distinct ``(colour, shape)`` pairs for ``n_landmarks`` (at least 4), and the target's index.

    The first four pair two colours with two shapes (a red ball, a red box, a blue ball, a blue
    box); the rest have other looks. The target is drawn among the four after the looks, so
    whichever of colour and shape is unknown, the layout leaves two equally likely targets: a
    symmetric pair, not one that the other landmarks' looks could give away.
    """
    colours = [COLOURS[int(i)] for i in rng.choice(len(COLOURS), 2, replace=False)]
    shapes = [SHAPES[int(i)] for i in rng.choice(len(SHAPES), 2, replace=False)]
    looks = [(colour, shape) for colour in colours for shape in shapes]
    rest = [pair for pair in ((c, s) for c in COLOURS for s in SHAPES) if pair not in looks]
    for index in rng.choice(len(rest), size=n_landmarks - len(looks), replace=False):
        looks.append(rest[int(index)])
    return looks, int(rng.integers(len(colours) * len(shapes)))


def new_state(
    rng: np.random.Generator,
    arena_size: int,
    n_landmarks: int,
    n_obstacles: int,
    phrasings: int,
    max_attempts: int = 200,
) -> BeaconState:
    """Draw a layout in which every landmark can be reached from the agent's start.

    ``n_landmarks`` landmarks with the looks of :func:`landmark_looks`, in random cells and in
    random order; every landmark of the target's colour is sounding.
    """
    all_cells = [(x, y) for y in range(arena_size) for x in range(arena_size)]
    for _ in range(max_attempts):
        picks = rng.choice(len(all_cells), size=1 + n_obstacles + n_landmarks, replace=False)
        agent = all_cells[int(picks[0])]
        obstacles = frozenset(all_cells[int(i)] for i in picks[1 : 1 + n_obstacles])
        landmark_cells = [all_cells[int(i)] for i in picks[1 + n_obstacles :]]
        looks, target_look = landmark_looks(rng, n_landmarks)
        sounding_colour = looks[target_look][0]
        order = rng.permutation(n_landmarks)
        landmarks = tuple(
            Landmark(
                cell,
                colour=colour,
                shape=shape,
                sound=COLOUR_SOUNDS[colour] if colour == sounding_colour else None,
            )
            for cell, (colour, shape) in zip(
                landmark_cells, (looks[int(i)] for i in order), strict=True
            )
        )
        grid = build_grid(arena_size, obstacles, landmarks)
        distances = path_lengths(grid, agent)
        if all(approach_distance(distances, landmark.cell) is not None for landmark in landmarks):
            return BeaconState(
                arena_size=arena_size,
                agent=agent,
                heading=int(rng.integers(4)),
                obstacles=obstacles,
                landmarks=landmarks,
                target_index=int(np.flatnonzero(order == target_look)[0]),
                phrasing=int(rng.integers(phrasings)),
                grid=grid,
            )
    raise RuntimeError(
        f"no layout with every landmark reachable in {max_attempts} tries; "
        "use fewer obstacles or a larger arena"
    )


def advance(state: BeaconState, action: int) -> tuple[bool, bool, bool]:
    """Apply one action; returns ``(terminated, success, bumped)``.

    Turning changes the heading. Moving forward onto floor moves; into a wall or obstacle
    bumps and stays; into a landmark reaches it and ends the episode — a success if it is
    the target.
    """
    if action == TURN_LEFT:
        state.heading = (state.heading - 1) % 4
        return False, False, False
    if action == TURN_RIGHT:
        state.heading = (state.heading + 1) % 4
        return False, False, False
    ahead = step_cell(state.agent, state.heading)
    code = cell_code(state.grid, ahead)
    if code == FLOOR:
        state.agent = ahead
        return False, False, False
    if code >= FIRST_LANDMARK_CODE:
        return True, code - FIRST_LANDMARK_CODE == state.target_index, False
    return False, False, True


def ending(state: BeaconState) -> str:
    """How an episode that just terminated ended: the landmark ahead, told against the target.

    ``"target"``; ``"wrong shape"`` (the target's colour in another shape: the other
    sounding landmark); ``"wrong colour"`` (the target's shape in another colour); ``"other
    landmark"`` (neither).
    """
    code = cell_code(state.grid, step_cell(state.agent, state.heading))
    if code < FIRST_LANDMARK_CODE:
        raise ValueError("the agent is not facing a landmark; the episode has not ended")
    index = code - FIRST_LANDMARK_CODE
    if index == state.target_index:
        return "target"
    reached, target = state.landmarks[index], state.target
    if reached.colour == target.colour:
        return "wrong shape"
    if reached.shape == target.shape:
        return "wrong colour"
    return "other landmark"


def path_lengths(grid: np.ndarray, start: Cell) -> dict[Cell, int]:
    """Breadth-first step counts from ``start`` (any cell, a landmark too) to every floor cell
    reachable over floor."""
    distances = {start: 0}
    frontier = deque([start])
    while frontier:
        cell = frontier.popleft()
        for heading in range(4):
            neighbour = step_cell(cell, heading)
            if neighbour not in distances and cell_code(grid, neighbour) == FLOOR:
                distances[neighbour] = distances[cell] + 1
                frontier.append(neighbour)
    return distances


def approach_distance(distances: dict[Cell, int], cell: Cell) -> int | None:
    """Fewest moves to a floor cell next to ``cell``, or ``None`` when none is reachable."""
    reachable = [
        distances[neighbour]
        for heading in range(4)
        if (neighbour := step_cell(cell, heading)) in distances
    ]
    return min(reachable) if reachable else None


def oracle_action(state: BeaconState) -> int:
    """A shortest-path player that knows where the target is.

    Plans backwards from the target with breadth-first search over floor, then turns
    towards the next cell on the path (or towards the target when beside it) and steps.
    """
    distances_to_target = path_lengths(state.grid, state.target.cell)
    here = distances_to_target.get(state.agent)
    if here is None:
        return FORWARD
    best_heading = min(
        range(4),
        key=lambda heading: (
            distances_to_target.get(step_cell(state.agent, heading), here + 1),
            (heading - state.heading) % 4 != 0,
        ),
    )
    turn = (best_heading - state.heading) % 4
    if turn == 0:
        return FORWARD
    return TURN_RIGHT if turn == 1 else TURN_LEFT
