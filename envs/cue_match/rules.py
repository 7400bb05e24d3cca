"""CueMatch rules and state: which pad is lit, which pad sounds, what a press earns.

Pure Python: no drawing, no audio synthesis, so the rules can be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LIGHT = "light"
SOUND = "sound"
CUE_KINDS = (LIGHT, SOUND)

WAIT_ACTION = 0


@dataclass
class CueMatchState:
    """One CueMatch episode.

    :param cue_kind: ``"light"`` — the answer is the lit pad; ``"sound"`` — the pad whose
        tone plays.
    :param lit_pad: the pad that lights up once the cue is on.
    :param tone_pad: the pad whose tone plays once the cue is on (never the lit pad).
    :param cue_delay: steps before the cue comes on; pressing earlier is a false start.
    :param phrasing: which of the kind's sentences the instruction uses.
    """

    n_pads: int
    cue_kind: str
    lit_pad: int
    tone_pad: int
    cue_delay: int
    phrasing: int
    elapsed: int = 0

    @property
    def cue_on(self) -> bool:
        """The light and the tone are on from step ``cue_delay`` onwards."""
        return self.elapsed >= self.cue_delay

    @property
    def target_pad(self) -> int:
        """The pad the instruction asks for."""
        return self.lit_pad if self.cue_kind == LIGHT else self.tone_pad


def new_state(
    rng: np.random.Generator, n_pads: int, max_cue_delay: int, phrasings: int
) -> CueMatchState:
    """Draw an episode: the instruction kind, two different pads and the cue's delay."""
    lit_pad, tone_pad = rng.choice(n_pads, size=2, replace=False)
    return CueMatchState(
        n_pads=n_pads,
        cue_kind=CUE_KINDS[int(rng.integers(len(CUE_KINDS)))],
        lit_pad=int(lit_pad),
        tone_pad=int(tone_pad),
        cue_delay=int(rng.integers(max_cue_delay + 1)),
        phrasing=int(rng.integers(phrasings)),
    )


def press(state: CueMatchState, action: int) -> tuple[float, bool, bool]:
    """Apply one action; returns ``(reward, terminated, success)``.

    Action 0 waits; action ``k`` presses pad ``k - 1`` and ends the episode: reward 1 for the
    instructed pad once the cue is on, 0 for a wrong pad or a press before the cue.
    """
    if action == WAIT_ACTION:
        state.elapsed += 1
        return 0.0, False, False
    success = state.cue_on and action - 1 == state.target_pad
    state.elapsed += 1
    return (1.0 if success else 0.0), True, success


def ending(state: CueMatchState, action: int) -> str:
    """How pressing ``action`` ends the episode, told before :func:`press` applies it.

    ``"instructed pad"``; ``"other cue's pad"`` (the lit pad when told to follow the tone, or
    the other way round); ``"uncued pad"``; ``"false start"`` (before the cue).
    """
    if action == WAIT_ACTION:
        raise ValueError("waiting does not end the episode")
    if not state.cue_on:
        return "false start"
    pad = action - 1
    if pad == state.target_pad:
        return "instructed pad"
    if pad in (state.lit_pad, state.tone_pad):
        return "other cue's pad"
    return "uncued pad"


def oracle_action(state: CueMatchState) -> int:
    """The action of a player who sees the state: wait for the cue, then press the target."""
    return state.target_pad + 1 if state.cue_on else WAIT_ACTION
