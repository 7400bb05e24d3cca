"""Symbolic grids (integer cell codes, as MiniGrid's 7x7x3 view) are embedded, one table per
channel, never divided by 255; small pixel views get an encoder that fits them."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from torch import nn

from mmagent.convention import looks_like_symbolic_grid
from mmagent.extractors import (
    MultimodalExtractor,
    SmallImageEncoder,
    SymbolicGridEncoder,
    encoder_names,
)

GRID = spaces.Box(0, 10, (7, 7, 3), np.uint8)
"""Codes 0..10 per cell: a symbolic grid by the convention's rule."""
MINIGRID = spaces.Box(0, 255, (7, 7, 3), np.uint8)
"""MiniGrid's declared view: pixel bounds, so it must be mapped to 'grid' explicitly."""


class CodeGridEnv(gym.Env):
    """A 7x7x3 grid of codes with one goal cell holding object code ``1`` or ``2`` (channel 0);
    action = that code - 1 earns 1. Codes 1 and 2 differ by 1/255 after a /255 scaling."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, space: spaces.Box = GRID) -> None:
        self.observation_space = spaces.Dict({"image": space})
        self.action_space = spaces.Discrete(2)
        self._code = 1
        self._steps = 0

    def _observe(self) -> dict[str, np.ndarray]:
        grid = np.zeros((7, 7, 3), np.uint8)
        self._code = int(self.np_random.integers(1, 3))
        row, column = self.np_random.integers(0, 7, 2)
        grid[row, column] = (self._code, 5, 0)
        return {"image": grid}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._steps = 0
        return self._observe(), {}

    def step(self, action: Any):
        reward = float(int(action) == self._code - 1)
        self._steps += 1
        return self._observe(), reward, False, self._steps >= 16, {}


def _capture_embedding_inputs(extractor: MultimodalExtractor) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    for module in extractor.modules():
        if isinstance(module, nn.Embedding):
            module.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].clone()))
    return seen


def test_a_symbolic_grid_is_detected_and_gets_the_embedding_encoder() -> None:
    extractor = MultimodalExtractor(spaces.Dict({"image": GRID}))
    assert extractor.modalities == {"image": "grid"}
    assert extractor.encoder_names == {"image": "embedding"}
    encoder = extractor.encoder_for("image")
    assert isinstance(encoder, SymbolicGridEncoder)
    assert [table.num_embeddings for table in encoder.embeddings] == [11, 11, 11]
    assert extractor.specs["image"].shape == (3, 7, 7)


@pytest.mark.parametrize(
    ("space", "kwargs"),
    [(GRID, {}), (MINIGRID, {"modalities": {"image": "grid"}})],
    ids=["detected", "minigrid-mapped"],
)
def test_codes_reach_the_embedding_tables_exactly_through_sb3(space, kwargs) -> None:
    """Through SB3's preprocessing (which divides a 0..255 uint8 space by 255) the embedding
    lookups get the env's integer codes, not codes / 255."""
    model = PPO(
        "MultiInputPolicy",
        CodeGridEnv(space),
        n_steps=16,
        batch_size=16,
        device="cpu",
        policy_kwargs={
            "features_extractor_class": MultimodalExtractor,
            "features_extractor_kwargs": kwargs,
        },
    )
    extractor = model.policy.features_extractor
    seen = _capture_embedding_inputs(extractor)
    env = CodeGridEnv(space)
    observation, _ = env.reset(seed=1)
    tensor, _ = model.policy.obs_to_tensor(observation)
    with torch.no_grad():
        model.policy.extract_features(tensor, extractor)
    codes = torch.as_tensor(observation["image"]).permute(2, 0, 1).long()
    assert len(seen) == 3  # one lookup per channel
    for channel, looked_up in enumerate(seen):
        assert looked_up.dtype == torch.long
        torch.testing.assert_close(looked_up[0], codes[channel])
    assert int(max(t.max() for t in seen)) in (1, 2, 5)  # real codes, not fractions


def test_one_code_step_is_not_a_small_intensity_step() -> None:
    """Under /255 pixel scaling, codes 1 -> 2 and 1 -> 9 differ only in size along one input
    direction (a linear first layer maps them to parallel changes); embedded, they are unrelated
    vectors."""
    torch.manual_seed(0)
    encoder = MultimodalExtractor(spaces.Dict({"image": GRID})).encoder_for("image")
    cells = torch.zeros(3, 3, 7, 7, dtype=torch.long)
    cells[1, 0, 3, 3] = 2
    cells[2, 0, 3, 3] = 9
    cells[0, 0, 3, 3] = 1
    with torch.no_grad():
        embedded = encoder.embed(cells)[:, :, 3, 3]
    step_small = embedded[1] - embedded[0]
    step_large = embedded[2] - embedded[0]
    cosine = torch.nn.functional.cosine_similarity(step_small, step_large, dim=0)
    assert abs(float(cosine)) < 0.9  # pixel scaling would give exactly 1
    assert float(step_small.norm()) > 0.1  # a 1/255 intensity step would be ~0


def test_concat_combine_and_kwargs() -> None:
    extractor = MultimodalExtractor(
        spaces.Dict({"image": GRID}),
        encoder_kwargs={"grid": {"combine": "concat", "embedding_dim": 4, "features_dim": 32}},
    )
    encoder = extractor.encoder_for("image")
    assert encoder.embed(torch.zeros(2, 3, 7, 7, dtype=torch.long)).shape == (2, 12, 7, 7)
    assert extractor({"image": torch.zeros(2, 7, 7, 3)}).shape == (2, 32)


@pytest.mark.parametrize(
    ("space", "kind"),
    [
        (spaces.Box(0, 255, (7, 7, 3), np.uint8), "image"),  # pixel bounds: an image
        (spaces.Box(0, 5, (9, 9), np.int64), "grid"),  # one code per cell
        (spaces.Box(0, 5, (3, 9, 9), np.int32), "grid"),  # channels first
        (spaces.Box(0, 5, (64, 64, 3), np.uint8), "image"),  # too large for a grid
        (spaces.Box(0, 1000, (7, 7, 3), np.int64), "image"),  # too many codes: not detected
    ],
)
def test_grid_detection_rule(space, kind) -> None:
    assert looks_like_symbolic_grid(space) == (kind == "grid")


def test_small_pixel_view_gets_the_small_cnn() -> None:
    space = spaces.Dict({"image": spaces.Box(0, 255, (7, 7, 3), np.uint8)})
    with pytest.warns(UserWarning, match=r"small view, read as pixels.*modalities\.image=grid"):
        extractor = MultimodalExtractor(space)
    assert extractor.encoder_names == {"image": "small"}
    assert isinstance(extractor.encoder_for("image"), SmallImageEncoder)
    assert extractor({"image": torch.zeros(2, 7, 7, 3)}).shape == (2, extractor.features_dim)
    # large enough for nature: unchanged default
    big = MultimodalExtractor(spaces.Dict({"image": spaces.Box(0, 255, (36, 36, 3), np.uint8)}))
    assert big.encoder_names == {"image": "nature"}


def test_a_small_view_with_a_named_encoder_is_not_warned_about() -> None:
    space = spaces.Dict({"image": spaces.Box(0, 255, (7, 7, 3), np.uint8)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the user chose the encoder: nothing to warn about
        extractor = MultimodalExtractor(space, encoders={"image": "small"})
    assert extractor.encoder_names == {"image": "small"}


def test_grid_is_a_registered_kind_with_its_encoder() -> None:
    assert encoder_names("grid") == ("embedding",)


def test_ppo_trains_on_a_symbolic_grid() -> None:
    model = PPO(
        "MultiInputPolicy",
        CodeGridEnv(),
        n_steps=64,
        batch_size=32,
        n_epochs=2,
        seed=0,
        device="cpu",
        policy_kwargs={
            "features_extractor_class": MultimodalExtractor,
            "features_extractor_kwargs": {"fusion": "concat"},
            "net_arch": [32],
        },
    )
    encoder = model.policy.features_extractor.encoder_for("image")
    before = [table.weight.detach().clone() for table in encoder.embeddings]
    model.learn(128)
    assert model.num_timesteps == 128
    moved = [not torch.equal(b, t.weight) for b, t in zip(before, encoder.embeddings, strict=True)]
    assert all(moved), "PPO updates should reach every channel's embedding table"
