"""SonarDig: two buried beacons beep, one high and one low; dig where the instruction says.

The beacons are never drawn, so only the stereo sound tells where they are. Train and watch:
``mmagent train examples.sonar_dig:examples/SonarDig-v0``, then
``mmagent watch RUN_DIR --record sonar.mp4``. Arrows and space play it in ``mmagent play``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pygame

from envs.core import Listener, MultimodalGame, SoundEvent, StepOutcome, envelope, tone
from mmagent.plugins import register_game

PITCHES = {"high": 880.0, "low": 330.0}


class SonarDigEnv(MultimodalGame):
    """A track of ``width`` cells. Observation: the track and the digger (``image``), "dig at
    the high beep" or "... low beep" (``text``), each beacon beeping from its cell, panned and
    quieter with distance from the digger (``audio``). Actions: left, right, dig. Reward 1 for
    digging at the named beacon; any dig ends the episode; truncated after ``max_steps``.
    """

    action_names: ClassVar[tuple[str, ...]] = ("left", "right", "dig")

    def __init__(self, width: int = 7, max_steps: int = 20, **kwargs: Any) -> None:
        if isinstance(width, bool) or not isinstance(width, int) or width < 3:
            raise ValueError(f"width must be an int of at least 3, got {width!r}")
        self.width = width
        super().__init__(max_steps=max_steps, **kwargs)
        self.beeps = {
            name: envelope(tone(hz, 0.06, self.sample_rate, amplitude=0.6), self.sample_rate)
            for name, hz in PITCHES.items()
        }

    def instructions(self) -> Sequence[str]:
        return [f"dig at the {name} beep" for name in PITCHES]

    def new_episode(self) -> None:
        digger, high, low = self.np_random.choice(self.width, size=3, replace=False)
        self.digger, self.beacons = int(digger), {"high": int(high), "low": int(low)}
        self.wanted = ("high", "low")[int(self.np_random.integers(2))]

    def instruction(self) -> str:
        return f"dig at the {self.wanted} beep"

    def update(self, action: int) -> StepOutcome:
        if self.action_names[action] == "dig":
            found = self.digger == self.beacons[self.wanted]
            return StepOutcome(reward=float(found), terminated=True, success=found)
        step = 1 if self.action_names[action] == "right" else -1
        self.digger = min(max(self.digger + step, 0), self.width - 1)
        return StepOutcome()

    def sounds(self) -> list[SoundEvent]:
        return [SoundEvent(self.beeps[name], (cell, -1.0)) for name, cell in self.beacons.items()]

    def listener(self) -> Listener:
        return Listener(position=(float(self.digger), 0.0))

    def draw_observation(self, surface: pygame.Surface) -> None:
        surface.fill((22, 26, 36))
        width, height = surface.get_size()
        cell = width / self.width
        for index in range(self.width):
            left, size = round(index * cell) + 1, max(1, round(cell) - 2)
            pygame.draw.rect(surface, (92, 70, 50), (left, height * 2 // 3, size, height // 6))
        centre = (round((self.digger + 0.5) * cell), height // 2)
        pygame.draw.circle(surface, (250, 200, 60), centre, max(2, round(cell / 3)))

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        return {(pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 1, (pygame.K_SPACE,): 2}


register_game("examples/SonarDig-v0", SonarDigEnv)
