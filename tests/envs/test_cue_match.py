"""CueMatch's rules: cues, false starts, the instructed modality decides the answer."""

from __future__ import annotations

import numpy as np
import pytest

from envs.cue_match import CueMatchEnv, rules


def _state(kind: str, delay: int = 0) -> rules.CueMatchState:
    return rules.CueMatchState(
        n_pads=5, cue_kind=kind, lit_pad=1, tone_pad=3, cue_delay=delay, phrasing=0
    )


@pytest.mark.parametrize(("kind", "right_pad"), [(rules.LIGHT, 1), (rules.SOUND, 3)])
def test_instruction_kind_decides_the_right_pad(kind: str, right_pad: int) -> None:
    assert rules.press(_state(kind), right_pad + 1) == (1.0, True, True)
    wrong_pad = 3 if right_pad == 1 else 1  # the distractor in the other modality
    assert rules.press(_state(kind), wrong_pad + 1) == (0.0, True, False)


def test_press_before_the_cue_is_a_false_start() -> None:
    state = _state(rules.LIGHT, delay=2)
    assert rules.press(state, rules.WAIT_ACTION) == (0.0, False, False)
    assert rules.press(state, 2) == (0.0, True, False)


def test_lit_and_sounding_pads_always_differ() -> None:
    rng = np.random.default_rng(0)
    states = [rules.new_state(rng, 5, 3, 3) for _ in range(500)]
    assert all(state.lit_pad != state.tone_pad for state in states)
    assert {state.cue_kind for state in states} == set(rules.CUE_KINDS)
    assert {state.cue_delay for state in states} == {0, 1, 2, 3}


def test_image_shows_the_lit_pad_only_when_the_cue_is_on() -> None:
    env = CueMatchEnv()
    env.reset(seed=0)
    env.state.cue_delay = 1
    dark = env._observe()["image"]
    env.step(rules.WAIT_ACTION)
    lit = env._observe()["image"]
    assert not np.array_equal(dark, lit)
    assert (lit == np.array([255, 214, 64], np.uint8)).all(axis=2).sum() > 50
