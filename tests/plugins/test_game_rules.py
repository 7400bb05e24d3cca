"""The rules a game written on MultimodalGame lives by: each mistake is either handled by a
documented rule or rejected naming the game method (docs/custom_games.md, "Error rules")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pygame
import pytest

from envs.core import (
    UNKNOWN_ID,
    GameDefinitionError,
    MultimodalGame,
    SoundEvent,
    StepOutcome,
)


class Probe(MultimodalGame):
    """A one-screen game whose every hook can be made to misbehave."""

    action_names: ClassVar[tuple[str, ...]] = ("wait", "go")

    def __init__(self, *, said: str = "go now", waveform: Any = None, **kwargs: Any) -> None:
        self.said = said
        self.waveform = waveform
        super().__init__(sample_rate=8_000, **kwargs)

    def instructions(self) -> Sequence[str]:
        return ["go now", "wait"]

    def new_episode(self) -> None:
        pass

    def instruction(self) -> str:
        return self.said

    def update(self, action: int) -> StepOutcome:
        return StepOutcome(reward=float(action), terminated=action == 1, success=True)

    def sounds(self) -> list[SoundEvent]:
        return [] if self.waveform is None else [SoundEvent(self.waveform)]

    def draw_observation(self, surface: pygame.Surface) -> None:
        # Blits a frame larger than the view: drawing is clipped to the view's surface.
        surface.blit(pygame.Surface((500, 300)), (0, 0))


def test_a_frame_always_has_the_declared_size() -> None:
    game = Probe(image_size=(40, 48))
    observation, _ = game.reset(seed=0)
    assert observation["image"].shape == (40, 48, 3)
    assert game.observation_space.contains(observation)


def test_sounds_longer_or_shorter_than_a_step_are_cut_or_padded() -> None:
    step_samples = 800
    long_game = Probe(waveform=np.full(3 * step_samples, 0.5, np.float32), audio_channels=1)
    audio = long_game.reset(seed=0)[0]["audio"]
    assert audio.shape == (1, step_samples) and np.all(audio > 0)  # cut at the step's end
    short_game = Probe(waveform=np.full(100, 0.5, np.float32), audio_channels=1)
    audio = short_game.reset(seed=0)[0]["audio"]
    assert np.all(audio[0, :100] > 0) and not audio[0, 100:].any()  # silent afterwards


def test_nan_audio_names_sounds() -> None:
    game = Probe(waveform=np.full(10, np.nan, np.float32))
    with pytest.raises(GameDefinitionError, match=r"Probe\.sounds\(\) produced non-finite audio"):
        game.reset(seed=0)


def test_a_too_long_instruction_names_instruction() -> None:
    game = Probe(said="go now go now go now", instruction_length=4)
    with pytest.raises(GameDefinitionError, match=r"Probe\.instruction\(\).*6 words.*limit is 4"):
        game.reset(seed=0)
    with pytest.raises(GameDefinitionError, match=r"instructions\(\)"):
        Probe(instruction_length=1)  # checked at construction, before any episode


def test_unknown_words_become_the_unknown_id() -> None:
    game = Probe(said="go quickly now")
    observation, info = game.reset(seed=0)
    np.testing.assert_array_equal(observation["text"][:4], [2, UNKNOWN_ID, 3, 0])
    assert info["instruction"] == "go quickly now"


def test_update_must_return_a_step_outcome() -> None:
    class Sloppy(Probe):
        def update(self, action: int) -> Any:
            return 1.0, True

    game = Sloppy()
    game.reset(seed=0)
    with pytest.raises(GameDefinitionError, match=r"Sloppy\.update\(\) returned.*StepOutcome"):
        game.step(1)


@pytest.mark.parametrize(
    "waveform",
    [np.zeros((2, 100), np.float32), np.zeros(100, np.int16), [0.0, 0.1]],
    ids=["two-dimensional", "int16", "list"],
)
def test_a_waveform_that_is_not_1d_float_names_sounds(waveform) -> None:
    game = Probe(waveform=waveform)
    with pytest.raises(GameDefinitionError, match=r"Probe\.sounds\(\) item 0"):
        game.reset(seed=0)


def test_an_episode_says_how_it_ended() -> None:
    game = Probe(max_steps=2)
    game.reset(seed=0)
    assert "ending" not in game.step(0)[4]  # not over yet
    assert game.step(0)[4]["ending"] == "time-out"
    game.reset(seed=0)
    assert game.step(1)[4]["ending"] == "success"  # the default for a StepOutcome without one

    class Telling(Probe):
        def update(self, action: int) -> StepOutcome:
            return StepOutcome(terminated=True, ending="fell in the pit")

    game = Telling()
    game.reset(seed=0)
    info = game.step(1)[4]
    assert info["ending"] == "fell in the pit" and not info["is_success"]


@pytest.mark.parametrize("ending", ["", 3])
def test_an_ending_must_be_a_non_empty_str(ending: Any) -> None:
    class Mumbling(Probe):
        def update(self, action: int) -> StepOutcome:
            return StepOutcome(terminated=True, ending=ending)

    game = Mumbling()
    game.reset(seed=0)
    with pytest.raises(GameDefinitionError, match=r"Mumbling\.update\(\).*ending="):
        game.step(1)
