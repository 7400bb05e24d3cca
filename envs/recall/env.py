"""Recall: the cues come only at the start; walk down the corridor and open the door they meant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pygame

from envs.core.audio import Listener, SoundEvent
from envs.core.game import MultimodalGame, StepOutcome, require_int, require_non_negative
from envs.recall import drawing, rules, sounds

INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    rules.LIGHT: (
        "remember the door that lights up",
        "the lit door is the way out",
        "open the door that flashes",
    ),
    rules.SOUND: (
        "remember the door that makes a sound",
        "the door you hear is the way out",
        "open the door that beeps",
    ),
}
#: The instruction once the cue phase is over: the same sentence in every episode.
RECALL_PROMPT = "walk on then open the right door"
DOOR_ROW_DISTANCE = 1.5
#: Every door is heard at full level from where the agent starts (at most ~2.1 away).
HEARD_AT_FULL_LEVEL_WITHIN = 2.5


class RecallEnv(MultimodalGame):
    """
    ## Description
    A memory game in a hall seen from above. The agent stands at the start of a corridor
    that leads to a row of doors. For the first ``cue_steps`` steps (the cue phase) one door
    **lights up**, one door **plays its tone** (every door has its own pitch, and the tone
    comes from the door's side of the stereo field) and the instruction says which cue to
    follow ("remember the door that lights up" or "... that makes a sound", three phrasings
    each). The lit and the sounding door are drawn independently (the same door one time in
    ``n_doors``). Then the light goes out, the tone stops and the instruction becomes the same
    sentence in every episode ("walk on then open the right door"): from then on nothing the
    agent sees, hears or reads tells the target. The agent walks ``min_walk..max_walk`` more
    steps to the doors (the view shows how far it is, nothing else) and opens one.

    **Why memory is needed.** Walking is the only action that does not end the episode, so
    every agent reaches the doors along the same steps, and there the image, the audio, the
    text and ``last_action`` (always "walk") are the same whatever the target. A memoryless
    policy, even with ``observe_last_action``, therefore opens the right door at most one time
    in ``n_doors`` (25% with 4 doors): the same as walking up and guessing
    (:func:`envs.recall.rules.guessing_action`).

    **Why every modality is needed.** An agent that remembers but has one modality masked is
    capped at ``1/2 + 1/(2·n_doors)`` (62.5% with 4 doors): without the text it knows both cued
    doors but not which cue counts (right when they coincide, else a coin flip); without the
    image (or the audio) it is right when told to follow the cue it still has, and guesses
    among all doors otherwise, since the other cue's door is drawn independently.

    ## Observation
    ``image`` (64×64 RGB: the doors along the top, the lit one yellow during the cue phase;
    the corridor's floor and the agent's arrow), ``text`` (instruction token ids), ``audio``
    (stereo 16 kHz, 1600 samples a step: the sounding door's tone during the cue phase, a
    footstep for each step walked, a thud for walking into the doors, a chime or a buzz when
    a door is opened). ``info["instruction"]`` holds the sentence, ``info["instruction_kind"]``
    is ``"light"`` or ``"sound"`` (the whole episode). The display frame (``render()``) labels
    each door with its key and outlines the target only once the episode is over, so a person
    playing must remember too.

    ## Actions
    ``Discrete(n_doors + 1)``: 0 walks one step towards the doors (at the doors: bumps and
    stays), ``k`` opens door ``k`` (1 = leftmost). Keyboard play (``mmagent play``): Up, W or
    Space walks, the number keys open the doors; one step per key press.

    ## Rewards
    1 for opening the instructed door at the end of the corridor; 0 otherwise. With
    ``progress_reward`` ``c > 0``, also ``c`` for each step walked towards the doors (bumping
    into them earns nothing), so that an agent that starts out opening doors at random learns
    to walk first: at the start five of the six actions end the episode too early, and the doors
    are 5–8 walks away. It is the same for every target, so it tells nothing about the door;
    success is told as without it. With ``bump_penalty`` ``b > 0``, ``-b`` for each walk into
    the doors: without it an agent that has learned to walk for the progress reward keeps
    walking into the doors until the time-out (that costs nothing, and opening a door is one
    action among five it has stopped trying), and never finds the door reward. Also the same
    for every target.

    ## Termination
    Opening any door ends the episode: a success if the agent is at the doors and it is the
    instructed one. Truncated after ``max_steps`` steps without opening one (a failure).
    ``info["ending"]`` says which: ``"remembered door"``, ``"other cue's door"``, ``"uncued
    door"``, ``"too early"`` (opened before reaching the doors) or ``"time-out"``.

    ## Registered variants
    * ``mmagent/Recall-v0`` — 4 doors, 2 cue steps, then 3–6 steps of walking (the doors are
      5–8 steps away), 16 steps.

    :param n_doors: number of doors, 2 to 9.
    :param cue_steps: observations that show the cues, the one ``reset`` returns included
        (at least 1).
    :param min_walk: fewest steps to walk after the cue phase (at least 1).
    :param max_walk: most steps to walk after the cue phase (at least ``min_walk``).
    :param max_steps: time limit; more than ``cue_steps + max_walk``.
    :param progress_reward: reward for each step walked towards the doors (0: only the reward
        for opening the right door).
    :param bump_penalty: reward ``-bump_penalty`` for each walk into the doors (0: none).
    :param kwargs: passed to :class:`~envs.core.game.MultimodalGame` (image size, audio, ...).
    """

    noop_action: ClassVar[int | None] = None  # a person steps once per key: no real-time walk

    def __init__(
        self,
        n_doors: int = 4,
        cue_steps: int = 2,
        min_walk: int = 3,
        max_walk: int = 6,
        max_steps: int = 16,
        progress_reward: float = 0.0,
        bump_penalty: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.n_doors = require_int("n_doors", n_doors, 2, 9)
        self.cue_steps = require_int("cue_steps", cue_steps, 1)
        self.min_walk = require_int("min_walk", min_walk, 1)
        self.max_walk = require_int("max_walk", max_walk, min_walk)
        self.progress_reward = require_non_negative("progress_reward", progress_reward)
        self.bump_penalty = require_non_negative("bump_penalty", bump_penalty)
        self.max_corridor_length = cue_steps + max_walk
        if isinstance(max_steps, int) and max_steps <= self.max_corridor_length:
            raise ValueError(
                f"max_steps must be more than cue_steps + max_walk ({self.max_corridor_length}) "
                f"so that the farthest doors can be reached and opened, got {max_steps}"
            )
        self.action_names = ("walk", *(f"open door {index + 1}" for index in range(n_doors)))
        super().__init__(max_steps=max_steps, **kwargs)
        self._tones = sounds.door_tones(self.n_doors, self.sample_rate)
        self._footstep = sounds.footstep_sound(self.sample_rate)
        self._bump = sounds.bump_sound(self.sample_rate)
        self._open_right, self._open_wrong = sounds.open_sounds(self.sample_rate)
        height, width = self.image_size
        self._view = drawing.HallRenderer(
            drawing.HallLayout(width, height, n_doors, self.max_corridor_length)
        )
        self._display: drawing.HallRenderer | None = None
        self._display_font: pygame.font.Font | None = None
        self.state: rules.RecallState | None = None

    def door_position(self, door: int) -> tuple[float, float]:
        """Where door ``door``'s tone comes from: a row in front of the listener, left to right."""
        spread = 2.0 * door / (self.n_doors - 1) - 1.0
        return (spread * DOOR_ROW_DISTANCE, -DOOR_ROW_DISTANCE)

    # ------------------------------------------------------------------ game hooks
    def instructions(self) -> Sequence[str]:
        cue_sentences = [sentence for kind in INSTRUCTIONS.values() for sentence in kind]
        return [*cue_sentences, RECALL_PROMPT]

    def new_episode(self) -> None:
        self.state = rules.new_state(
            self.np_random,
            self.n_doors,
            self.cue_steps,
            self.min_walk,
            self.max_walk,
            phrasings=len(INSTRUCTIONS[rules.LIGHT]),
        )

    def instruction(self) -> str:
        state = self._require_state()
        if not state.cue_on:
            return RECALL_PROMPT
        return INSTRUCTIONS[state.cue_kind][state.phrasing]

    def instruction_kind(self) -> str | None:
        return self._require_state().cue_kind

    def update(self, action: int) -> StepOutcome:
        state = self._require_state()
        ending = rules.ending(state, action) if action != rules.WALK_ACTION else None
        position = state.position
        reward, terminated, success = rules.act(state, action)
        reward += self.progress_reward * (state.position - position)
        if state.bumped:
            reward -= self.bump_penalty
        return StepOutcome(reward=reward, terminated=terminated, success=success, ending=ending)

    def sounds(self) -> list[SoundEvent]:
        state = self._require_state()
        events = []
        if state.cue_on:
            door = state.tone_door
            events.append(SoundEvent(self._tones[door], position=self.door_position(door)))
        if state.chosen is not None:
            right = state.at_doors and state.chosen == state.target_door
            events.append(SoundEvent(self._open_right if right else self._open_wrong))
        elif state.bumped:
            events.append(SoundEvent(self._bump))
        elif state.elapsed > 0:
            events.append(SoundEvent(self._footstep))
        return events

    def listener(self) -> Listener:
        return Listener(position=(0.0, 0.0), heading=(0.0, -1.0))

    def reference_distance(self) -> float:
        return HEARD_AT_FULL_LEVEL_WITHIN

    def draw_observation(self, surface: pygame.Surface) -> None:
        self._view.draw(surface, self._require_state())

    def draw_display(self, surface: pygame.Surface) -> None:
        state = self._require_state()
        width, height = surface.get_size()
        display = self._display
        if display is None or (display.layout.width, display.layout.height) != (width, height):
            layout = drawing.HallLayout(width, height, self.n_doors, self.max_corridor_length)
            display = self._display = drawing.HallRenderer(layout)
        if self._display_font is None:
            pygame.font.init()
            self._display_font = pygame.font.Font(None, max(12, height // 10))
        over = state.chosen is not None or self.elapsed_steps >= self.max_steps
        drawing.draw_display(surface, state, display, self._display_font, reveal=over)

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        keys = {
            (pygame.K_UP,): rules.WALK_ACTION,
            (pygame.K_w,): rules.WALK_ACTION,
            (pygame.K_SPACE,): rules.WALK_ACTION,
        }
        for door in range(self.n_doors):
            keys[(pygame.K_1 + door,)] = door + 1
        return keys

    def oracle_action(self) -> int:
        """The privileged-state solution's action (for tests and baselines)."""
        return rules.oracle_action(self._require_state())

    def _require_state(self) -> rules.RecallState:
        if self.state is None:
            raise RuntimeError("Recall has no episode yet; call reset() first")
        return self.state
