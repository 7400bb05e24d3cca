"""The live viewer runs headless (dummy SDL drivers) and obeys its keys."""

from __future__ import annotations

from typing import Any

import pygame
import pytest

import mmagent.watch.viewer as viewer_module
from envs.core.window import HumanWindow
from mmagent.watch import PolicyInfo, watch

FAST_FPS = 1000.0


class WaitPolicy:
    """Never presses a pad, so CueMatch episodes last until the time limit."""

    def __init__(self) -> None:
        self.calls = 0

    def act(self, observation: Any) -> tuple[int, PolicyInfo]:
        self.calls += 1
        return 0, PolicyInfo()


def _script_keys(monkeypatch: pytest.MonkeyPatch, presses: list[list[int]]) -> list[list[int]]:
    """Each read of the event queue returns the next list of key presses, then nothing."""
    pending = list(presses)

    def scripted_events() -> list[pygame.event.Event]:
        keys = pending.pop(0) if pending else []
        return [pygame.event.Event(pygame.KEYDOWN, key=key) for key in keys]

    monkeypatch.setattr(viewer_module.pygame.event, "get", scripted_events)
    return pending


def _count_sound(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    played: list[int] = []
    original = HumanWindow.play

    def counting_play(self, audio):
        played.append(audio.shape[1])
        return original(self, audio)

    monkeypatch.setattr(HumanWindow, "play", counting_play)
    return played


def test_keys_pause_step_mute_skip_and_quit(monkeypatch) -> None:
    pending = _script_keys(
        monkeypatch,
        [
            [],  # after the reset frame: play on
            [pygame.K_SPACE],  # pause after step 1
            [pygame.K_RIGHT],  # single step to step 2, still paused
            [],  # paused: nothing happens
            [pygame.K_m],  # sound off
            [pygame.K_SPACE],  # resume: step 3
            [pygame.K_n],  # next episode
            [],  # step 1 of episode 2
            [pygame.K_q],  # quit
        ],
    )
    played = _count_sound(monkeypatch)
    policy = WaitPolicy()
    summaries = watch("mmagent/CueMatch-v0", policy, fps=FAST_FPS, seed=0)
    assert [(s.episode, s.steps, s.ended) for s in summaries] == [
        (1, 3, "skipped"),
        (2, 1, "quit"),
    ]
    assert pending == []
    # Sound played for the reset frame and steps 1 and 2; muted from then on.
    assert played == [1600, 1600, 1600]
    assert policy.calls == 6  # one decision per observation shown


def test_escape_and_window_close_quit(monkeypatch) -> None:
    _script_keys(monkeypatch, [[], [pygame.K_ESCAPE]])
    # Waiting never ends a CueMatch episode early, so only the Escape key can end this one.
    summaries = watch("mmagent/CueMatch-v0", WaitPolicy(), fps=FAST_FPS, sound=False)
    assert [(s.steps, s.ended) for s in summaries] == [(1, "quit")]

    monkeypatch.setattr(
        viewer_module.pygame.event, "get", lambda: [pygame.event.Event(pygame.QUIT)]
    )
    summaries = watch("mmagent/Beacon-Easy-v0", None, fps=FAST_FPS)
    assert [(s.steps, s.ended) for s in summaries] == [(0, "quit")]


def test_random_policy_stops_at_the_step_and_episode_limits(monkeypatch) -> None:
    _script_keys(monkeypatch, [])
    summaries = watch("mmagent/Beacon-Easy-v0", None, max_steps=5, fps=FAST_FPS, seed=2)
    assert sum(s.steps for s in summaries) == 5 and summaries[-1].ended in (
        "step limit",
        "terminated",
    )
    summaries = watch(
        "mmagent/CueMatch-v0",
        WaitPolicy(),
        episodes=2,
        fps=FAST_FPS,
        env_kwargs={"max_steps": 3, "max_cue_delay": 1},
    )
    assert [(s.steps, s.ended) for s in summaries] == [(3, "truncated"), (3, "truncated")]


def test_unknown_game_names_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="mmagent/Beacon-v0"):
        watch("mmagent/NoSuchGame-v0", None, episodes=1)


def test_recording_refuses_another_frame_rate(tmp_path) -> None:
    with pytest.raises(ValueError, match="real time"):
        watch("mmagent/CueMatch-v0", None, fps=30, record=tmp_path / "clip.mp4")
    assert list(tmp_path.iterdir()) == []
