"""CueMatch: press the pad the instruction means — the lit one, or the one you hear."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pygame

from envs.core.audio import Listener, SoundEvent, envelope, harmonic_tone
from envs.core.game import MultimodalGame, StepOutcome
from envs.cue_match import drawing, rules

INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    rules.LIGHT: (
        "press the pad that lights up",
        "press the lit pad",
        "hit the glowing pad",
    ),
    rules.SOUND: (
        "press the pad whose tone you hear",
        "press the pad that beeps",
        "hit the sounding pad",
    ),
}
LOWEST_TONE_HZ = 250.0
HIGHEST_TONE_HZ = 1000.0
TONE_SECONDS = 0.08
PAD_ROW_DISTANCE = 1.5


class CueMatchEnv(MultimodalGame):
    """
    ## Description
    A reaction game over a row of pads. After a short random delay two cues come on at once:
    one pad **lights up** and a *different* pad **plays its tone** (every pad has its own
    pitch, and the tone comes from the pad's side of the stereo field). The instruction says
    which cue to follow, so the other cue is a distractor: no single modality suffices —
    the text says which modality to use, the image shows the lit pad, the audio the sounding one.

    ## Observation
    ``image`` (64×64 RGB: the pads, the lit one yellow), ``text`` (instruction token ids),
    ``audio`` (stereo 16 kHz, 1600 samples a step: the tone, repeated every step while the
    cue is on). ``info["instruction"]`` holds the sentence, ``info["instruction_kind"]`` is
    ``"light"`` or ``"sound"``.

    ## Actions
    ``Discrete(n_pads + 1)``: 0 waits, ``k`` presses pad ``k`` (1 = leftmost).

    ## Rewards
    1 for pressing the instructed pad while the cue is on; 0 otherwise.

    ## Termination
    Any press ends the episode (a press before the cue comes on is a false start and fails).
    Truncated after ``max_steps`` steps without a press (a failure). ``info["ending"]`` says
    which: ``"instructed pad"``, ``"other cue's pad"``, ``"uncued pad"``, ``"false start"``
    or ``"time-out"``.

    ## Registered variants
    * ``mmagent/CueMatch-v0`` — 5 pads, cue delay 0–3 steps, 12 steps.

    :param n_pads: number of pads, at least 2.
    :param max_cue_delay: the cue comes on after 0..``max_cue_delay`` steps of waiting.
    :param kwargs: passed to :class:`~envs.core.game.MultimodalGame` (image size, audio, ...).
    """

    noop_action: ClassVar[int | None] = rules.WAIT_ACTION

    def __init__(
        self, n_pads: int = 5, max_cue_delay: int = 3, max_steps: int = 12, **kwargs: Any
    ) -> None:
        if isinstance(n_pads, bool) or not isinstance(n_pads, int) or not 2 <= n_pads <= 9:
            raise ValueError(f"n_pads must be an int from 2 to 9, got {n_pads!r}")
        if isinstance(max_cue_delay, bool) or not isinstance(max_cue_delay, int):
            raise ValueError(f"max_cue_delay must be an int, got {max_cue_delay!r}")
        if not 0 <= max_cue_delay < max_steps:
            raise ValueError(
                f"max_cue_delay must be from 0 to max_steps - 1 ({max_steps - 1}), "
                f"got {max_cue_delay}"
            )
        self.n_pads = n_pads
        self.max_cue_delay = max_cue_delay
        self.action_names = ("wait", *(f"press pad {index + 1}" for index in range(n_pads)))
        super().__init__(max_steps=max_steps, **kwargs)
        self._pad_tones = [
            envelope(
                harmonic_tone(frequency, TONE_SECONDS, self.sample_rate, amplitude=0.8),
                self.sample_rate,
            )
            for frequency in self.pad_frequencies()
        ]
        self.state: rules.CueMatchState | None = None
        self._display_font: pygame.font.Font | None = None

    def pad_frequencies(self) -> np.ndarray:
        """Each pad's pitch in Hz, geometrically spaced from low (left) to high (right)."""
        return LOWEST_TONE_HZ * (HIGHEST_TONE_HZ / LOWEST_TONE_HZ) ** (
            np.arange(self.n_pads) / (self.n_pads - 1)
        )

    def pad_position(self, pad: int) -> tuple[float, float]:
        """Where pad ``pad`` sounds from: a row in front of the listener, left to right."""
        spread = 2.0 * pad / (self.n_pads - 1) - 1.0
        return (spread * PAD_ROW_DISTANCE, -PAD_ROW_DISTANCE)

    # ------------------------------------------------------------------ game hooks
    def instructions(self) -> Sequence[str]:
        return [sentence for sentences in INSTRUCTIONS.values() for sentence in sentences]

    def new_episode(self) -> None:
        self.state = rules.new_state(
            self.np_random,
            self.n_pads,
            self.max_cue_delay,
            phrasings=len(INSTRUCTIONS[rules.LIGHT]),
        )

    def instruction(self) -> str:
        state = self._require_state()
        return INSTRUCTIONS[state.cue_kind][state.phrasing]

    def instruction_kind(self) -> str | None:
        return self._require_state().cue_kind

    def update(self, action: int) -> StepOutcome:
        state = self._require_state()
        ending = rules.ending(state, action) if action != rules.WAIT_ACTION else None
        reward, terminated, success = rules.press(state, action)
        return StepOutcome(reward=reward, terminated=terminated, success=success, ending=ending)

    def sounds(self) -> list[SoundEvent]:
        state = self._require_state()
        if not state.cue_on:
            return []
        return [
            SoundEvent(self._pad_tones[state.tone_pad], position=self.pad_position(state.tone_pad))
        ]

    def listener(self) -> Listener:
        return Listener(position=(0.0, 0.0), heading=(0.0, -1.0))

    def draw_observation(self, surface: pygame.Surface) -> None:
        drawing.draw_pads(surface, self._require_state())

    def draw_display(self, surface: pygame.Surface) -> None:
        if self._display_font is None:
            pygame.font.init()
            self._display_font = pygame.font.Font(None, max(12, surface.get_height() // 10))
        drawing.draw_display(surface, self._require_state(), self._display_font)

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        keys = {(pygame.K_SPACE,): rules.WAIT_ACTION}
        for pad in range(self.n_pads):
            keys[(pygame.K_1 + pad,)] = pad + 1
        return keys

    def oracle_action(self) -> int:
        """The privileged-state solution's action (for tests and baselines)."""
        return rules.oracle_action(self._require_state())

    def _require_state(self) -> rules.CueMatchState:
        if self.state is None:
            raise RuntimeError("CueMatch has no episode yet; call reset() first")
        return self.state
