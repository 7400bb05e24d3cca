"""The HUD renders headless with pygame's default font, and every part of it reaches the pixels."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch import Hud

NAMES = ("wait", "press pad 1", "press pad 2")


@pytest.fixture
def game_frame():
    env = gym.make("mmagent/CueMatch-v0", render_mode="rgb_array", n_pads=2)
    observation, info = env.reset(seed=0)
    yield env.unwrapped.display_frame(), observation, info
    env.close()


def _render(hud: Hud, frame, observation, **overrides) -> np.ndarray:
    contents = {
        "instruction": "press the lit pad",
        "agent_view": observation["image"],
        "audio": np.zeros((2, 1600), np.float32),
        "action_names": NAMES,
        "action_probs": np.array([0.2, 0.3, 0.5]),
        "action": 2,
        "value": 0.5,
        "status": "episode 1 · step 0",
    }
    contents.update(overrides)
    return hud.render(frame, **contents)


def _changed_pixels(one: np.ndarray, two: np.ndarray) -> int:
    return int(np.any(one != two, axis=-1).sum())


def test_hud_frame_is_even_rgb_and_holds_the_display_frame(game_frame) -> None:
    frame, observation, _ = game_frame
    hud = Hud()
    pixels = _render(hud, frame, observation)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert pixels.shape[0] % 2 == 0 and pixels.shape[1] % 2 == 0
    assert pixels.shape[1] == frame.shape[1] + hud.panel_width
    assert np.array_equal(pixels[: frame.shape[0], : frame.shape[1]], frame)


@pytest.mark.parametrize(
    "change",
    [
        {"instruction": "hit the sounding pad"},
        {"action_probs": np.array([0.9, 0.05, 0.05])},
        {"action": 0},
        {"value": -0.75},
        {"audio": np.tile(np.sin(np.linspace(0, 60, 1600, dtype=np.float32)), (2, 1))},
        {"agent_view": np.full((64, 64, 3), 255, np.uint8)},
    ],
    ids=["instruction", "probabilities", "chosen action", "value", "audio", "agent view"],
)
def test_each_hud_input_changes_the_pixels(game_frame, change) -> None:
    frame, observation, _ = game_frame
    hud = Hud()
    before = _render(hud, frame, observation)
    after = _render(hud, frame, observation, **change)
    assert after.shape == before.shape
    assert _changed_pixels(before, after) > 20


def test_probability_bars_grow_with_the_probability(game_frame) -> None:
    frame, observation, _ = game_frame
    hud = Hud()
    low = _render(hud, frame, observation, action_probs=np.array([0.1, 0.1, 0.8]), action=None)
    high = _render(hud, frame, observation, action_probs=np.array([0.8, 0.1, 0.1]), action=None)
    # The bar colour fills more pixels in the row of the likelier action.
    bar_colour = np.array([90, 150, 230], np.uint8)
    rows_low = np.nonzero(np.all(low == bar_colour, axis=-1).any(axis=1))[0]
    rows_high = np.nonzero(np.all(high == bar_colour, axis=-1).any(axis=1))[0]
    first_row_low = np.all(low[rows_low.min()] == bar_colour, axis=-1).sum()
    first_row_high = np.all(high[rows_high.min()] == bar_colour, axis=-1).sum()
    assert first_row_high > 4 * first_row_low


def test_hud_without_policy_info_or_sound_still_renders(game_frame) -> None:
    frame, _, _ = game_frame
    odd = frame[:-1, :-1]
    pixels = Hud().render(odd, instruction="a long instruction " * 8, action_names=NAMES)
    assert pixels.shape[0] % 2 == 0 and pixels.shape[1] % 2 == 0


def test_hud_rejects_a_float_frame() -> None:
    with pytest.raises(ValueError, match="uint8"):
        Hud().render(np.zeros((64, 64, 3), np.float32))
