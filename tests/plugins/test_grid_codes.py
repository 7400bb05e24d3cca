"""Symbolic views declared with pixel bounds: ``DeclareGridCodes`` narrows their bounds to the
codes (and checks observations against them); ``make_multimodal`` does it for MiniGrid's view
without being asked, and not for a MiniGrid view drawn as pixels."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from minigrid.wrappers import RGBImgPartialObsWrapper
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from mmagent.convention import looks_like_symbolic_grid
from mmagent.extractors.extractor import MultimodalExtractor
from mmagent.plugins import DeclareGridCodes, make_multimodal, minigrid_view_codes

PIXEL_BOUNDS = spaces.Box(0, 255, (5, 5, 2), np.uint8)


class CodesAsPixels(gym.Env):
    """A 5x5 view of two channels (4 and 3 codes) declared as ``Box(0, 255)``; ``bad_cell``
    puts code 9 into channel 1 of cell (2, 3) at reset."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, bad_cell: bool = False) -> None:
        self.observation_space = spaces.Dict({"image": PIXEL_BOUNDS})
        self.action_space = spaces.Discrete(2)
        self.bad_cell = bad_cell

    def _view(self) -> dict[str, np.ndarray]:
        view = np.stack(
            [self.np_random.integers(0, 4, (5, 5)), self.np_random.integers(0, 3, (5, 5))], -1
        ).astype(np.uint8)
        if self.bad_cell:
            view[2, 3, 1] = 9
        return {"image": view}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        super().reset(seed=seed)
        return self._view(), {}

    def step(self, action: int) -> Any:
        return self._view(), 0.0, True, False, {}


def test_declared_codes_narrow_the_bounds_per_channel_and_keep_observations() -> None:
    env = DeclareGridCodes(CodesAsPixels(), codes=(4, 3))
    view = env.observation_space["image"]
    assert view.dtype == np.uint8 and view.shape == (5, 5, 2)
    assert (
        (view.low == 0).all() and (view.high[..., 0] == 3).all() and (view.high[..., 1] == 2).all()
    )
    assert looks_like_symbolic_grid(view) and not looks_like_symbolic_grid(PIXEL_BOUNDS)
    observation, _ = env.reset(seed=1)
    unwrapped, _ = CodesAsPixels().reset(seed=1)
    np.testing.assert_array_equal(observation["image"], unwrapped["image"])
    assert MultimodalExtractor(env.observation_space).modalities["image"] == "grid"


def test_a_code_outside_its_declared_count_names_the_cell_channel_and_fix() -> None:
    env = DeclareGridCodes(CodesAsPixels(bad_cell=True), codes=(4, 3))
    with pytest.raises(
        ValueError,
        match=r"'image'\[2, 3, 1\] holds code 9.*channel 1 was declared "
        r"with 3 codes.*grid_codes=",
    ):
        env.reset(seed=0)


@pytest.mark.parametrize(
    ("codes", "key", "message"),
    [
        ((4, 3), "grid", r"no 'grid' key \(keys: \['image'\]\)"),
        ((4, 3, 2), "image", r"2 channels .* codes= gives 3 counts"),
        ((4, 0), "image", r"each channel holds 1 to"),
    ],
)
def test_wrong_declarations_are_refused_with_the_reason(codes, key, message) -> None:
    with pytest.raises(ValueError, match=message):
        DeclareGridCodes(CodesAsPixels(), codes=codes, key=key)


def test_a_float_view_cannot_hold_codes() -> None:
    env = CodesAsPixels()
    env.observation_space = spaces.Dict({"image": spaces.Box(0.0, 1.0, (5, 5, 2), np.float32)})
    with pytest.raises(ValueError, match="symbolic codes need an integer Box"):
        DeclareGridCodes(env, codes=(4, 3))


def test_make_multimodal_takes_grid_codes_for_any_env() -> None:
    env = make_multimodal(CodesAsPixels(), grid_codes=(4, 3))
    assert (env.observation_space["image"].high[..., 1] == 2).all()
    assert MultimodalExtractor(env.observation_space).modalities["image"] == "grid"


def _wrapped_fetch(render_mode: str | None = None) -> gym.Env:
    fetch = gym.make("MiniGrid-Fetch-5x5-N2-v0", render_mode=render_mode)
    return make_multimodal(fetch, drop=["mission"])


FETCH_ID = "test_grid_codes/Fetch-v0"
gym.register(FETCH_ID, entry_point=_wrapped_fetch)


def test_minigrids_own_view_is_declared_as_codes_without_being_asked() -> None:
    env = gym.make(FETCH_ID)
    assert minigrid_view_codes(gym.make("MiniGrid-Fetch-5x5-N2-v0")) == (11, 6, 3)
    assert (env.observation_space["image"].high == [10, 5, 2]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "small view, read as pixels" warning
        extractor = MultimodalExtractor(env.observation_space)
    assert extractor.modalities["image"] == "grid"
    assert extractor.encoder_names["image"] == "embedding"
    for seed in range(5):  # every code MiniGrid shows fits the declared counts
        env.reset(seed=seed)
        for _ in range(20):
            env.step(env.action_space.sample())


def test_the_wrapped_minigrid_env_passes_both_checkers_made_with_gym_make() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(gym.make(FETCH_ID).unwrapped)
        gymnasium_check_env(gym.make(FETCH_ID))
        sb3_check_env(gym.make(FETCH_ID))
    remade = gym.make(gym.make(FETCH_ID).spec)  # the spec records the wrapper's arguments
    assert remade.observation_space == gym.make(FETCH_ID).observation_space


def test_a_minigrid_view_drawn_as_pixels_is_left_as_pixels() -> None:
    pixels = RGBImgPartialObsWrapper(gym.make("MiniGrid-Fetch-5x5-N2-v0"), tile_size=4)
    assert minigrid_view_codes(pixels) is None
    env = make_multimodal(pixels, drop=["mission"])
    assert env.observation_space["image"].high.max() == 255
    with pytest.warns(UserWarning, match="small view, read as pixels.*grid_codes="):
        extractor = MultimodalExtractor(env.observation_space)
    assert extractor.modalities["image"] == "image"


def test_other_envs_are_not_minigrid() -> None:
    assert minigrid_view_codes(CodesAsPixels()) is None
    assert minigrid_view_codes(gym.make("CartPole-v1")) is None
