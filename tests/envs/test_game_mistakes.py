"""Mistakes a game written on MultimodalGame can make, each an error or a one-time warning that
names the method or field and the fix, never a silent black view, lost sound or clipped inf."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pygame
import pytest

import examples.sonar_dig  # noqa: F401  (registers examples/SonarDig-v0)
from envs import GAME_IDS
from envs.core import (
    AudioMixer,
    BlankFrameWarning,
    GameDefinitionError,
    Listener,
    MultimodalGame,
    SoundEvent,
    StepOutcome,
    blit_frame,
)
from envs.core.game import BLANK_FRAMES_WARNED_AFTER

STEP_SAMPLES = 800  # 8 kHz × 0.1 s
BEEP = np.full(100, 0.5, np.float32)


class Drawn(MultimodalGame):
    """A two-action game that draws a square and sounds ``events`` every step."""

    action_names: ClassVar[tuple[str, ...]] = ("wait", "go")

    def __init__(self, *, events: Sequence[SoundEvent] = (), **kwargs: Any) -> None:
        self.events = list(events)
        super().__init__(sample_rate=8_000, image_size=16, **kwargs)

    def instructions(self) -> Sequence[str]:
        return ["go"]

    def new_episode(self) -> None:
        self.position = int(self.np_random.integers(0, 8))

    def instruction(self) -> str:
        return "go"

    def update(self, action: int) -> StepOutcome:
        self.position = (self.position + action) % 8
        return StepOutcome(reward=float(action))

    def sounds(self) -> list[SoundEvent]:
        return self.events

    def draw_observation(self, surface: pygame.Surface) -> Any:
        surface.fill((10, 10, 10))
        pygame.draw.rect(surface, (200, 40, 40), (self.position, 4, 4, 4))


class ReturnsFrame(Drawn):
    """The mistake: builds the frame in numpy and returns it instead of drawing it."""

    def draw_observation(self, surface: pygame.Surface) -> Any:
        frame = np.zeros((16, 16, 3), np.uint8)
        frame[4:8, self.position : self.position + 4] = (200, 40, 40)
        return frame


class DrawsElsewhere(Drawn):
    """The mistake: draws on a surface of its own, which the base never reads."""

    def draw_observation(self, surface: pygame.Surface) -> None:
        own = pygame.Surface((16, 16))
        pygame.draw.rect(own, (200, 40, 40), (self.position, 4, 4, 4))


class BlitsFrame(Drawn):
    """Draws with numpy and copies the frame in with blit_frame (the documented way)."""

    frame_shape: tuple[int, ...] = (16, 16, 3)

    def draw_observation(self, surface: pygame.Surface) -> None:
        frame = np.zeros(self.frame_shape, np.uint8)
        frame[4:8, self.position : self.position + 4] = 200
        blit_frame(surface, frame)


# ---------------------------------------------------------------------------- drawing
def test_a_returned_frame_is_an_error_naming_draw_observation() -> None:
    with pytest.raises(
        GameDefinitionError,
        match=r"ReturnsFrame\.draw_observation\(\) returned an array of shape \(16, 16, 3\); "
        r"it must draw on the pygame\.Surface it is given and return None.*blit_frame",
    ):
        ReturnsFrame().reset(seed=0)


def test_a_returned_display_frame_is_an_error_naming_draw_display() -> None:
    class DisplayReturns(Drawn):
        def draw_display(self, surface: pygame.Surface) -> Any:
            return np.zeros((8, 8, 3), np.uint8)

    game = DisplayReturns(render_mode="rgb_array")
    game.reset(seed=0)  # the agent's view is fine
    with pytest.raises(GameDefinitionError, match=r"DisplayReturns\.draw_display\(\) returned"):
        game.render()


def test_a_view_that_stays_one_colour_warns_once() -> None:
    game = DrawsElsewhere()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        game.reset(seed=0)
        for _ in range(3 * BLANK_FRAMES_WARNED_AFTER):
            if game.step(1)[3]:
                game.reset()
    blank = [item for item in caught if issubclass(item.category, BlankFrameWarning)]
    assert len(blank) == 1
    message = str(blank[0].message)
    assert "DrawsElsewhere.draw_observation()" in message and "(0, 0, 0)" in message
    assert "the surface it is given" in message


def test_a_view_blank_only_at_first_does_not_warn() -> None:
    class SlowStart(Drawn):
        def draw_observation(self, surface: pygame.Surface) -> None:
            surface.fill((0, 0, 0))
            if self.elapsed_steps >= BLANK_FRAMES_WARNED_AFTER - 2:
                super().draw_observation(surface)

    game = SlowStart()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        game.reset(seed=0)
        for _ in range(3 * BLANK_FRAMES_WARNED_AFTER):
            game.step(0)
    assert not [item for item in caught if issubclass(item.category, BlankFrameWarning)]


@pytest.mark.parametrize("game_id", [*GAME_IDS, "examples/SonarDig-v0"])
def test_the_shipped_games_raise_and_warn_nothing(game_id: str) -> None:
    env = gym.make(game_id, render_mode="rgb_array").unwrapped
    actions = np.random.default_rng(0).integers(0, env.action_space.n, size=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env.reset(seed=0)
        for action in actions:
            if any(env.step(int(action))[2:4]):
                env.reset()
        env.render()
    assert [str(item.message) for item in caught] == []


def test_blit_frame_copies_a_numpy_frame_into_the_view() -> None:
    game = BlitsFrame()
    observation, _ = game.reset(seed=3)
    expected = np.zeros((16, 16, 3), np.uint8)
    expected[4:8, game.position : game.position + 4] = 200
    np.testing.assert_array_equal(observation["image"], expected)


@pytest.mark.parametrize(
    ("shape", "dtype", "message"),
    [
        ((16, 16, 1), np.uint8, r"one-channel frame of shape \(16, 16, 1\).*np\.repeat"),
        ((16, 16), np.uint8, r"one-channel frame of shape \(16, 16\).*np\.repeat"),
        ((16, 16, 4), np.uint8, r"alpha channel.*frame\[\.\.\., :3\]"),
        ((12, 16, 3), np.uint8, r"shape \(12, 16, 3\) for a surface of 16×16"),
        ((16, 16, 3), np.float32, r"uint8 frame.*float32.*astype\(np\.uint8\)"),
    ],
)
def test_blit_frame_refuses_other_frames_naming_the_shape_and_fix(shape, dtype, message) -> None:
    surface = pygame.Surface((16, 16))
    with pytest.raises(ValueError, match=message):
        blit_frame(surface, np.zeros(shape, dtype))


def test_a_grey_frame_is_not_widened_silently() -> None:
    class Grey(BlitsFrame):
        frame_shape = (16, 16, 1)

    with pytest.raises(ValueError, match=r"\(16, 16, 1\)"):
        Grey().reset(seed=0)


# ---------------------------------------------------------------------------- SoundEvent fields
def test_a_number_as_second_positional_says_position_and_gain() -> None:
    with pytest.raises(TypeError, match=r"SoundEvent position .*got float 1\.5.*gain=1\.5"):
        SoundEvent(BEEP, 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"position": (1.0, 2.0, 3.0)}, TypeError, r"position must be None or an \(x, y\) pair"),
        ({"position": ("left", 0.0)}, TypeError, r"position must be None or an \(x, y\) pair"),
        ({"gain": "loud"}, TypeError, r"gain must be a number.*str 'loud'"),
        ({"gain": float("inf")}, ValueError, r"gain must be finite"),
        ({"offset": 0.5}, TypeError, r"offset must be an int.*float 0\.5.*round"),
        ({"offset": -3}, ValueError, r"offset must be 0 or more.*waveform\[-offset:\]"),
    ],
)
def test_sound_event_fields_are_checked_when_made(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        SoundEvent(BEEP, **kwargs)


def test_good_sound_events_are_accepted() -> None:
    SoundEvent(BEEP, [1, 2], gain=np.float32(0.5), offset=np.int64(3))
    SoundEvent(BEEP, np.array([1.0, 2.0]), gain=2)


# ---------------------------------------------------------------------------- offsets
def test_an_offset_past_the_step_names_the_item_and_samples_per_step() -> None:
    game = Drawn(events=[SoundEvent(BEEP), SoundEvent(BEEP, offset=STEP_SAMPLES)])
    with pytest.raises(
        GameDefinitionError,
        match=r"Drawn\.sounds\(\) item 1 has offset=800, past the step.*samples_per_step=800.*"
        r"0\.\.799",
    ):
        game.reset(seed=0)


def test_the_last_sample_of_the_step_is_a_valid_offset() -> None:
    game = Drawn(events=[SoundEvent(BEEP, offset=STEP_SAMPLES - 1)], audio_channels=1)
    audio = game.reset(seed=0)[0]["audio"]
    assert audio[0, -1] > 0 and not audio[0, :-1].any()


def test_the_mixer_refuses_an_offset_past_the_step() -> None:
    mixer = AudioMixer(8_000, 100)
    with pytest.raises(ValueError, match=r"offset=100 is past the step.*samples_per_step=100"):
        mixer.mix([SoundEvent(BEEP, offset=100)], Listener())


# ---------------------------------------------------------------------------- non-finite audio
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_sample_is_an_error_not_clipped(bad: float) -> None:
    waveform = BEEP.copy()
    waveform[10] = bad
    game = Drawn(events=[SoundEvent(BEEP), SoundEvent(waveform)])
    with pytest.raises(
        GameDefinitionError,
        match=r"Drawn\.sounds\(\) produced non-finite audio \(NaN or inf\): item 1 has NaN or "
        r"infinite samples",
    ):
        game.reset(seed=0)
    with pytest.raises(ValueError, match=r"NaN or infinite samples"):
        AudioMixer(8_000, 200).mix([SoundEvent(waveform)], Listener())


def test_a_non_finite_sample_past_the_step_is_never_heard_and_allowed() -> None:
    waveform = np.concatenate([BEEP, np.full(STEP_SAMPLES, np.inf, np.float32)])
    game = Drawn(events=[SoundEvent(waveform, offset=STEP_SAMPLES - 50)])
    assert np.isfinite(game.reset(seed=0)[0]["audio"]).all()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_sum_that_overflows_is_an_error() -> None:
    loud = np.full(100, 3e38, np.float32)
    game = Drawn(events=[SoundEvent(loud), SoundEvent(loud)])
    with pytest.raises(GameDefinitionError, match=r"Drawn\.sounds\(\) produced non-finite audio"):
        game.reset(seed=0)
