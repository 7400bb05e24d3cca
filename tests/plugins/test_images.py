"""``image_size`` resizes an env's own image (ResizeImage), which passes both checkers also
through ``gym.make``; symbolic grids are not resized."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from mmagent.plugins import (
    MapToConvention,
    PixelsFromRender,
    ResizeImage,
    make_multimodal,
    resize_frame,
)

ENV_ID = "test_images/Screen-v0"


class ScreenEnv(gym.Env):
    """A channels-first ``screen`` (mapped to ``image``) with a bright column at the position,
    a position vector; Discrete(2) moves left/right."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, size: int = 48) -> None:
        self.render_mode = render_mode
        self.size = size
        self.observation_space = spaces.Dict(
            {
                "screen": spaces.Box(0, 255, (3, size, size), np.uint8),
                "position": spaces.Box(0.0, 1.0, (1,), np.float32),
            }
        )
        self.action_space = spaces.Discrete(2)
        self.position = 0

    def _observation(self) -> dict[str, Any]:
        screen = np.zeros((3, self.size, self.size), np.uint8)
        screen[0, :, self.position] = 255
        return {
            "screen": screen,
            "position": np.array([self.position / (self.size - 1)], np.float32),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position = int(self.np_random.integers(self.size))
        return self._observation(), {}

    def step(self, action: Any):
        self.position = int(np.clip(self.position + (1 if int(action) else -1), 0, self.size - 1))
        return self._observation(), 0.0, self.position == self.size - 1, False, {}

    def render(self) -> np.ndarray:
        return np.ascontiguousarray(self._observation()["screen"].transpose(1, 2, 0))


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=ScreenEnv, max_episode_steps=50)


def _check_both(env: gym.Env) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3's advice on image sizes, not errors
        gymnasium_check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=False)


def test_image_size_resizes_an_existing_image() -> None:
    env = make_multimodal(ScreenEnv(), image_size=16)
    assert isinstance(env, ResizeImage)
    assert env.observation_space["image"] == spaces.Box(0, 255, (16, 16, 3), np.uint8)
    observation, _ = env.reset(seed=0)
    assert observation["image"].shape == (16, 16, 3)
    assert observation["image"].dtype == np.uint8
    assert env.observation_space.contains(observation)
    # area resize: the 48-pixel frame's column of 255 becomes one column of 255 in 16 (3:1)
    column = env.unwrapped.position // 3
    expected = resize_frame(env.unwrapped.render(), (16, 16), "area")
    np.testing.assert_array_equal(observation["image"], expected)
    assert observation["image"][:, column, 0].min() > 0
    np.testing.assert_array_equal(observation["position"], env.unwrapped._observation()["position"])


@pytest.mark.parametrize("method", ["area", "nearest"])
def test_resize_method_reaches_the_frame(method) -> None:
    env = make_multimodal(ScreenEnv(), image_size=(12, 24), resize=method)
    observation, _ = env.reset(seed=3)
    frame = env.unwrapped.render()
    np.testing.assert_array_equal(observation["image"], resize_frame(frame, (12, 24), method))


def test_without_an_image_pixels_still_come_from_render() -> None:
    class NoImage(ScreenEnv):
        def __init__(self, render_mode: str | None = "rgb_array") -> None:
            super().__init__(render_mode)
            self.observation_space = spaces.Dict({"position": self.observation_space["position"]})

        def _observation(self) -> dict[str, Any]:
            return {"position": super()._observation()["position"]}

        def render(self) -> np.ndarray:
            return np.full((48, 48, 3), 7, np.uint8)

    env = make_multimodal(NoImage(), image_size=16)
    assert isinstance(env, PixelsFromRender)
    observation, _ = env.reset(seed=0)
    assert (observation["image"] == 7).all()


@pytest.mark.parametrize("through_gym_make", [False, True])
def test_resize_image_passes_both_checkers(through_gym_make) -> None:
    base = gym.make(ENV_ID) if through_gym_make else ScreenEnv()
    _check_both(make_multimodal(base, image_size=16))
    base = gym.make(ENV_ID) if through_gym_make else ScreenEnv()
    _check_both(ResizeImage(MapToConvention(base), (20, 24), method="nearest"))


def test_resize_image_is_recreated_from_the_spec() -> None:
    env = make_multimodal(gym.make(ENV_ID), image_size=(16, 20), resize="nearest")
    again = env.spec.make()
    assert again.observation_space == env.observation_space
    first, _ = env.reset(seed=5)
    second, _ = again.reset(seed=5)
    np.testing.assert_array_equal(first["image"], second["image"])


def test_float_and_grey_frames_are_resized() -> None:
    frame = np.linspace(0.0, 1.0, 48 * 48, dtype=np.float32).reshape(48, 48)
    small = resize_frame(frame, (16, 16), "area")
    assert small.dtype == np.float32 and small.shape == (16, 16)
    np.testing.assert_allclose(small[0, 0], frame[:3, :3].mean(), rtol=1e-5)


def test_a_symbolic_grid_is_not_resized() -> None:
    class Grid(gym.Env):
        observation_space = spaces.Dict({"image": spaces.Box(0, 10, (7, 7, 3), np.uint8)})
        action_space = spaces.Discrete(3)

    with pytest.raises(ValueError, match=r"integer cell codes \(a symbolic grid\).*image_size="):
        make_multimodal(Grid(), image_size=14)


def test_bad_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"method 'cubic' is unknown; use one of"):
        make_multimodal(ScreenEnv(), image_size=16, resize="cubic")
