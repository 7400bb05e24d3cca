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


@pytest.mark.parametrize("kind", rules.CUE_KINDS)
def test_an_ending_names_which_pad_was_pressed(kind: str) -> None:
    right, other = (1, 3) if kind == rules.LIGHT else (3, 1)  # lit pad 1, tone pad 3
    assert rules.ending(_state(kind), right + 1) == "instructed pad"
    assert rules.ending(_state(kind), other + 1) == "other cue's pad"
    assert rules.ending(_state(kind), 0 + 1) == "uncued pad"
    assert rules.ending(_state(kind, delay=1), right + 1) == "false start"
    with pytest.raises(ValueError, match="waiting"):
        rules.ending(_state(kind), rules.WAIT_ACTION)


def test_the_env_reports_how_each_episode_ended() -> None:
    env = CueMatchEnv()
    env.reset(seed=0)
    truncated = False
    while not truncated:
        *_, truncated, info = env.step(rules.WAIT_ACTION)
    assert info["ending"] == "time-out" and not info["is_success"]
    for pad, ending in (("target_pad", "instructed pad"), ("distractor", "other cue's pad")):
        env.reset(seed=1)
        state = env.state
        while not state.cue_on:
            env.step(rules.WAIT_ACTION)
        distractor = state.tone_pad if state.cue_kind == rules.LIGHT else state.lit_pad
        pressed = state.target_pad if pad == "target_pad" else distractor
        *_, info = env.step(pressed + 1)
        assert info["ending"] == ending
        assert info["is_success"] == (ending == "instructed pad")


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
