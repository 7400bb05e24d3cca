"""Beacon: find the landmark of the shape the instruction names that is making a sound."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pygame

from envs.beacon import drawing, rules
from envs.beacon.sounds import beacon_sounds, bump_sound
from envs.core.audio import Listener, SoundEvent
from envs.core.game import MultimodalGame, StepOutcome, require_int, require_non_negative

PHRASINGS = ("go to the {shape} that is making a sound", "find the sounding {shape}")
MIN_LANDMARKS = 4


class BeaconEnv(MultimodalGame):
    """
    ## Description
    Top-down navigation in a walled arena with obstacles. Landmarks stand on some cells, each a
    colour and a shape ("red ball", "blue box", "green cone"). The landmarks of one colour are
    sounding, each playing that colour's sound every step (red beeps, green buzzes, blue
    chirps, yellow rings, purple hisses). The instruction names a shape: "go to the ball that
    is making a sound". Four of the landmarks pair two colours with two shapes (a red ball, a
    red box, a blue ball, a blue box) and the target is one of the four, so no two modalities
    suffice: the text says which shape, the audio which colour (by its sound, and where the
    sounding landmarks are), the image where the landmarks of that shape are; without any one
    of them two of the four are equally likely. The agent sees a
    square of cells around itself, turned so that it faces up; sounds are heard from anywhere,
    panned by their direction relative to the agent's heading and quieter with distance.

    ## Observation
    ``image`` (64×64 RGB egocentric view of ``(2·view_radius+1)²`` cells, agent in the centre
    facing up), ``text`` (instruction token ids), ``audio`` (stereo 16 kHz, 1600 samples per
    step: every sounding landmark's sound, spatialised, plus a thud when the agent bumps into
    something).
    ``info["instruction_kind"]`` is ``"in view"`` when the target starts in the agent's view,
    else ``"out of view"``.

    ## Actions
    ``Discrete(3)``: 0 forward, 1 turn left, 2 turn right.

    ## Rewards
    On reaching the target: ``1 - 0.9 * steps / max_steps``; otherwise 0. With
    ``progress_reward`` ``c > 0``, also ``c`` for each step that brings the agent one move
    closer to the target along the shortest path (``c`` for the last one, onto the target) and
    ``-c`` for each step away; turning and bumping add nothing. The extra rewards of an
    episode sum to ``c`` times the distance the agent gained, so going back and forth earns
    nothing; success is told as without them.

    ## Termination
    Walking into a landmark ends the episode: a success if it is the target, a failure if not.
    Truncated after ``max_steps`` steps (a failure). ``info["ending"]`` says which: ``"target"``,
    ``"wrong shape"`` (the target's colour in another shape), ``"wrong colour"`` (the target's
    shape in another colour), ``"other landmark"`` or ``"time-out"``.

    ## Registered variants
    * ``mmagent/Beacon-v0`` — 7×7 arena, 6 landmarks, 4 obstacles, view radius 3 (from the
      centre the whole arena is in view), 100 steps.
    * ``mmagent/Beacon-Easy-v0`` — 5×5 arena, 4 landmarks, no obstacles, view radius 4 (the
      whole arena is always in view), 50 steps.

    :param arena_size: side of the walkable square, in cells (at least 3).
    :param n_landmarks: landmarks, each with its own colour and shape (4 to 15).
    :param n_obstacles: obstacle cells.
    :param view_radius: cells visible in each direction around the agent (at least 1).
    :param max_steps: time limit.
    :param progress_reward: reward per move of progress towards the target (0: only the
        reward for reaching it).
    :param kwargs: passed to :class:`~envs.core.game.MultimodalGame` (image size, audio, ...).
    """

    action_names: ClassVar[tuple[str, ...]] = rules.ACTION_NAMES

    def __init__(
        self,
        arena_size: int = 7,
        n_landmarks: int = 6,
        n_obstacles: int = 4,
        view_radius: int = 3,
        max_steps: int = 100,
        progress_reward: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.arena_size = require_int("arena_size", arena_size, 3)
        self.n_landmarks = require_int("n_landmarks", n_landmarks, MIN_LANDMARKS)
        n_looks = len(rules.COLOURS) * len(rules.SHAPES)
        if n_landmarks > n_looks:
            raise ValueError(
                f"n_landmarks must be at most {n_looks} (one per colour and shape), "
                f"got {n_landmarks}"
            )
        self.n_obstacles = require_int("n_obstacles", n_obstacles, 0)
        self.view_radius = require_int("view_radius", view_radius, 1)
        self.progress_reward = require_non_negative("progress_reward", progress_reward)
        occupied = 1 + n_obstacles + n_landmarks
        if occupied > arena_size * arena_size // 2:
            raise ValueError(
                f"arena_size={arena_size} is too small for {n_obstacles} obstacles and "
                f"{n_landmarks} landmarks (they may fill at most half of the "
                f"{arena_size * arena_size} cells); enlarge the arena or use fewer of them"
            )
        super().__init__(max_steps=max_steps, **kwargs)
        self._sounds = beacon_sounds(self.sample_rate)
        self._bump = bump_sound(self.sample_rate)
        self.state: rules.BeaconState | None = None
        self._view: drawing.ViewRenderer | None = None
        self._bumped = False
        self._kind: str | None = None  # set by new_episode
        self._moves_to_target: dict[rules.Cell, int] = {}  # set by new_episode

    # ------------------------------------------------------------------ game hooks
    def instructions(self) -> Sequence[str]:
        return [phrasing.format(shape=shape) for phrasing in PHRASINGS for shape in rules.SHAPES]

    def new_episode(self) -> None:
        self.state = rules.new_state(
            self.np_random,
            self.arena_size,
            self.n_landmarks,
            self.n_obstacles,
            phrasings=len(PHRASINGS),
        )
        height, width = self.image_size
        self._view = drawing.ViewRenderer(self.state, self.view_radius, (width, height))
        self._bumped = False
        (x, y), (target_x, target_y) = self.state.agent, self.state.target.cell
        in_view = max(abs(target_x - x), abs(target_y - y)) <= self.view_radius
        self._kind = "in view" if in_view else "out of view"
        # only the progress reward reads it: no search per episode without it
        self._moves_to_target = (
            rules.path_lengths(self.state.grid, self.state.target.cell)
            if self.progress_reward
            else {}
        )

    def instruction(self) -> str:
        state = self._require_state()
        target = state.target
        return PHRASINGS[state.phrasing].format(shape=target.shape)

    def instruction_kind(self) -> str | None:
        self._require_state()
        return self._kind

    def update(self, action: int) -> StepOutcome:
        state = self._require_state()
        moves_before = self._moves_to_target.get(state.agent)  # None without the progress reward
        terminated, success, self._bumped = rules.advance(state, action)
        reward = 1.0 - 0.9 * (self.elapsed_steps + 1) / self.max_steps if success else 0.0
        if moves_before is not None:
            # reaching the target is the last move: from 1 move away to 0
            moves_after = 0 if success else self._moves_to_target[state.agent]
            reward += self.progress_reward * (moves_before - moves_after)
        ending = rules.ending(state) if terminated else None
        return StepOutcome(reward=reward, terminated=terminated, success=success, ending=ending)

    def sounds(self) -> list[SoundEvent]:
        state = self._require_state()
        events = [
            SoundEvent(self._sounds[landmark.sound], position=_centre(landmark.cell))
            for landmark in state.landmarks
            if landmark.sound is not None
        ]
        if self._bumped:
            events.append(SoundEvent(self._bump))
        return events

    def listener(self) -> Listener:
        state = self._require_state()
        return Listener(position=_centre(state.agent), heading=rules.HEADING_STEPS[state.heading])

    def draw_observation(self, surface: pygame.Surface) -> None:
        state = self._require_state()
        assert self._view is not None
        self._view.draw(surface, state)

    def draw_display(self, surface: pygame.Surface) -> None:
        drawing.draw_arena(surface, self._require_state(), self.view_radius)

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        return {
            (pygame.K_UP,): rules.FORWARD,
            (pygame.K_w,): rules.FORWARD,
            (pygame.K_LEFT,): rules.TURN_LEFT,
            (pygame.K_a,): rules.TURN_LEFT,
            (pygame.K_RIGHT,): rules.TURN_RIGHT,
            (pygame.K_d,): rules.TURN_RIGHT,
        }

    def oracle_action(self) -> int:
        """The privileged-state solution's action (for tests and baselines)."""
        return rules.oracle_action(self._require_state())

    def _require_state(self) -> rules.BeaconState:
        if self.state is None:
            raise RuntimeError("Beacon has no episode yet; call reset() first")
        return self.state


def _centre(cell: rules.Cell) -> tuple[float, float]:
    return (cell[0] + 0.5, cell[1] + 0.5)
