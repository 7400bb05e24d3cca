"""Recall rules and state: two cues at the start, a walk down a corridor, one door to open.

Pure Python: no drawing, no audio synthesis, so the rules can be tested on their own.
Positions count the walks taken from the start of the corridor; the doors are reached after
``corridor_length`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIGHT = "light"
SOUND = "sound"
CUE_KINDS = (LIGHT, SOUND)

WALK_ACTION = 0

REMEMBERED_DOOR = "remembered door"
OTHER_CUE_DOOR = "other cue's door"
UNCUED_DOOR = "uncued door"
TOO_EARLY = "too early"
ENDINGS = (REMEMBERED_DOOR, OTHER_CUE_DOOR, UNCUED_DOOR, TOO_EARLY)


@dataclass
class RecallState:
    """One Recall episode.

    :param n_doors: doors at the end of the corridor.
    :param cue_kind: ``"light"`` — the answer is the door that lit up; ``"sound"`` — the door
        whose tone played.
    :param lit_door: the door that lights up during the cue phase.
    :param tone_door: the door whose tone plays during the cue phase; drawn independently of
        ``lit_door``, so it is the same door one time in ``n_doors``.
    :param cue_steps: observations (from the one ``reset`` returns) that show the cues.
    :param corridor_length: walks from the start to the doors (more than ``cue_steps``).
    :param phrasing: which of the kind's sentences the instruction uses.
    :param position: walks taken so far (``corridor_length``: at the doors).
    :param elapsed: steps taken so far.
    :param chosen: the door opened (``None`` until one is).
    :param bumped: the last step walked into the doors.
    """

    n_doors: int
    cue_kind: str
    lit_door: int
    tone_door: int
    cue_steps: int
    corridor_length: int
    phrasing: int
    position: int = 0
    elapsed: int = 0
    chosen: int | None = None
    bumped: bool = False

    @property
    def cue_on(self) -> bool:
        """The light, the tone and the instruction are on for the first ``cue_steps`` steps."""
        return self.elapsed < self.cue_steps

    @property
    def at_doors(self) -> bool:
        """The agent stands before the doors: the only place a door can be opened."""
        return self.position >= self.corridor_length

    @property
    def target_door(self) -> int:
        """The door the instruction asks for."""
        return self.lit_door if self.cue_kind == LIGHT else self.tone_door

    @property
    def other_cue_door(self) -> int:
        """The door the other cue points at (the target itself when both cues agree)."""
        return self.tone_door if self.cue_kind == LIGHT else self.lit_door


def new_state(
    rng: np.random.Generator,
    n_doors: int,
    cue_steps: int,
    min_walk: int,
    max_walk: int,
    phrasings: int,
) -> RecallState:
    """Draw an episode: the cue kind, the lit and the sounding door (independently), and a
    corridor of ``cue_steps`` plus ``min_walk..max_walk`` walks."""
    return RecallState(
        n_doors=n_doors,
        cue_kind=CUE_KINDS[int(rng.integers(len(CUE_KINDS)))],
        lit_door=int(rng.integers(n_doors)),
        tone_door=int(rng.integers(n_doors)),
        cue_steps=cue_steps,
        corridor_length=cue_steps + int(rng.integers(min_walk, max_walk + 1)),
        phrasing=int(rng.integers(phrasings)),
    )


def act(state: RecallState, action: int) -> tuple[float, bool, bool]:
    """Apply one action; returns ``(reward, terminated, success)``.

    Action 0 walks one step towards the doors (at the doors it bumps into them and stays).
    Action ``k`` opens door ``k`` (1 = leftmost) and ends the episode: reward 1 for the
    instructed door opened at the end of the corridor, 0 for another door or for a door
    opened before the agent got there.
    """
    state.elapsed += 1
    if action == WALK_ACTION:
        state.bumped = state.at_doors
        if not state.bumped:
            state.position += 1
        return 0.0, False, False
    state.bumped = False
    state.chosen = action - 1
    success = state.at_doors and state.chosen == state.target_door
    return (1.0 if success else 0.0), True, success


def ending(state: RecallState, action: int) -> str:
    """How opening door ``action`` ends the episode, told before :func:`act` applies it.

    ``"remembered door"`` (the instructed one); ``"other cue's door"`` (the lit door when told
    to follow the tone, or the other way round); ``"uncued door"``; ``"too early"`` (opened
    before reaching the end of the corridor).
    """
    if action == WALK_ACTION:
        raise ValueError("walking does not end the episode")
    if not state.at_doors:
        return TOO_EARLY
    door = action - 1
    if door == state.target_door:
        return REMEMBERED_DOOR
    if door == state.other_cue_door:
        return OTHER_CUE_DOOR
    return UNCUED_DOOR


def oracle_action(state: RecallState) -> int:
    """The action of a player who sees the state: walk to the doors, open the target."""
    return state.target_door + 1 if state.at_doors else WALK_ACTION


def guessing_action(state: RecallState, rng: np.random.Generator) -> int:
    """The best a player without memory can do: walk to the doors, open one at random.

    At the doors every episode of the same corridor looks, sounds and reads the same,
    whatever the target, so no memoryless policy does better than this guess, 1 in
    ``n_doors``.
    """
    return int(rng.integers(state.n_doors)) + 1 if state.at_doors else WALK_ACTION
