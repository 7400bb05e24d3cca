"""Keyboard play maps keys straight to actions, runs headless, and stops on Escape."""

from __future__ import annotations

import pygame
import pytest

import mmagent.play as play_module
from envs.beacon import BeaconEnv
from envs.beacon.rules import FORWARD, TURN_LEFT, TURN_RIGHT


def _script_keys(monkeypatch: pytest.MonkeyPatch, keys: list[int]) -> None:
    """Feed one scripted key press per read of the event queue, then Escape."""
    pending = [[pygame.event.Event(pygame.KEYDOWN, key=key)] for key in keys]

    def scripted_events():
        return (
            pending.pop(0) if pending else [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE)]
        )

    monkeypatch.setattr(play_module.pygame.event, "get", scripted_events)


def test_turn_based_game_steps_once_per_bound_key(monkeypatch) -> None:
    # Beacon has no no-op: each bound key is one step, an unbound key ('q') none.
    _script_keys(monkeypatch, [pygame.K_q, pygame.K_LEFT, pygame.K_UP, pygame.K_RIGHT, pygame.K_w])
    taken: list[int] = []
    original_step = BeaconEnv.step

    def recording_step(self, action):
        taken.append(int(action))
        return original_step(self, action)

    monkeypatch.setattr(BeaconEnv, "step", recording_step)
    play_module.play("mmagent/Beacon-Easy-v0", seed=0)
    assert taken == [TURN_LEFT, FORWARD, TURN_RIGHT, FORWARD]


def test_real_time_game_plays_a_pressed_pad(monkeypatch) -> None:
    # CueMatch waits (no-op) while no key is pressed; pressing any pad ends the episode.
    _script_keys(monkeypatch, [pygame.K_2])
    summaries = play_module.play("mmagent/CueMatch-v0", seed=0, episodes=1)
    assert len(summaries) == 1 and summaries[0].steps == 1
