"""One convention: the plug-in layer (MapToConvention) and the extractor read every space by the
same rules (names, layouts, PCM scales, image and grid detection), so an env read raw by the
extractor and an env mapped by the plug-in layer give the encoders the same tensors."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from envs.core import text as game_text
from mmagent import convention
from mmagent.extractors import modalities as extractor_modalities
from mmagent.extractors.modalities import build_spec, resolve_modalities
from mmagent.plugins import formats, keys
from mmagent.plugins.keys import MapToConvention, convention_key


class SpaceEnv(gym.Env):
    """Observations sampled from ``observation_space`` (seeded)."""

    def __init__(self, observation_space: spaces.Space) -> None:
        self.observation_space = observation_space
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        return self.observation_space.sample(), {}

    def step(self, action: Any):
        return self.observation_space.sample(), 0.0, False, False, {}


# (third-party key, its space, the kind both sides must read it as)
CASES = [
    ("screen", spaces.Box(0, 255, (3, 40, 40), np.uint8), "image"),
    ("screen", spaces.Box(0, 255, (40, 44, 3), np.uint8), "image"),
    ("screen", spaces.Box(0, 255, (12, 36, 36), np.uint8), "image"),  # 4 stacked RGB frames
    ("screen", spaces.Box(0, 255, (36, 36), np.uint8), "image"),
    ("screen", spaces.Box(0.0, 1.0, (3, 36, 40), np.float32), "image"),
    ("mission", spaces.Box(0, 30, (8,), np.int32), "text"),
    ("sound", spaces.Box(-32768, 32767, (800, 2), np.int16), "audio"),
    ("sound", spaces.Box(0, 255, (400,), np.uint8), "audio"),
    ("sound", spaces.Box(-(2**31), 2**31 - 1, (2, 300), np.int32), "audio"),
    ("sound", spaces.Box(-1.0, 1.0, (300, 6), np.float64), "audio"),
    ("vars", spaces.Box(-5.0, 5.0, (5,), np.float32), "vector"),
    ("vars", spaces.Box(0, 9, (3,), np.int64), "vector"),
    ("screen", spaces.Box(0, 10, (7, 7, 3), np.uint8), "grid"),  # MiniGrid-like codes
    ("screen", spaces.Box(0, 4, (3, 7, 7), np.int64), "grid"),
    ("screen", spaces.Box(0, 6, (9, 9), np.int16), "grid"),
]
TARGET = {"image": "image", "grid": "image", "text": "text", "audio": "audio", "vector": "vars"}


@pytest.mark.parametrize(
    ("name", "space", "kind"), CASES, ids=[f"{k}-{s.shape}-{s.dtype}" for _, s, k in CASES]
)
def test_extractor_and_plugin_layer_agree(name, space, kind) -> None:
    raw_space = spaces.Dict({name: space})
    mapped = MapToConvention(SpaceEnv(raw_space), keys={name: TARGET[kind]})
    target = TARGET[kind]

    # the extractor detects the plug-in's output as the same kind, by name alone
    detected = resolve_modalities(mapped.observation_space)
    assert detected[target] == kind
    # ...and reads the raw space as that kind when told what it is
    raw_spec = build_spec(name, kind, space)
    mapped_spec = build_spec(target, kind, mapped.observation_space[target])
    assert raw_spec.shape == mapped_spec.shape
    assert raw_spec.code_counts == mapped_spec.code_counts

    raw_observation, _ = mapped.env.reset(seed=3)
    mapped_observation = mapped.observation(raw_observation)
    assert mapped.observation_space.contains(mapped_observation)
    from_raw = raw_spec.to_canonical(torch.as_tensor(raw_observation[name]).unsqueeze(0))
    from_mapped = mapped_spec.to_canonical(torch.as_tensor(mapped_observation[target]).unsqueeze(0))
    assert from_raw.dtype == from_mapped.dtype
    torch.testing.assert_close(from_raw, from_mapped, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("space", "key"),
    [
        (spaces.Box(0, 255, (64, 64, 3), np.uint8), "image"),
        (spaces.Box(0, 255, (3, 64, 64), np.uint8), "image"),
        (spaces.Box(0, 255, (84, 84, 12), np.uint8), "image"),
        (spaces.Box(0, 10, (7, 7, 3), np.uint8), "image"),
        (spaces.Box(0, 10, (7, 7, 3), np.int64), "image"),
        (spaces.Box(-1.0, 1.0, (4,), np.float32), "vector"),
        (spaces.Box(0, 255, (5, 6, 5), np.uint8), "vector"),  # channel axis cannot be told
    ],
)
def test_non_dict_naming_follows_the_extractor_detection(space, key) -> None:
    assert convention_key(space) == key
    mapped = MapToConvention(SpaceEnv(space))
    assert list(mapped.observation_space) == [key]
    kind = resolve_modalities(mapped.observation_space)[key]
    expected = "grid" if convention.looks_like_symbolic_grid(space) else key
    assert kind == expected


def test_unnamed_image_warning_uses_the_same_image_rule() -> None:
    with pytest.warns(UserWarning, match=r"looks like an image.*--set"):
        resolve_modalities(spaces.Dict({"frame_stack": spaces.Box(0, 255, (84, 84, 12), np.uint8)}))


def test_both_sides_import_one_copy_of_the_constants() -> None:
    assert keys.IMAGE is convention.IMAGE and keys.AUDIO is convention.AUDIO
    assert extractor_modalities.MODALITY_KINDS is convention.MODALITY_KINDS
    assert extractor_modalities.MAX_AUDIO_CHANNELS == formats.MAX_AUDIO_CHANNELS == 8
    assert formats.PCM_SCALES is convention.PCM_SCALES
    assert formats.pcm_to_float is convention.pcm_to_float
    assert formats.looks_like_rgb_frame is convention.looks_like_image
    assert convention.PAD_TOKEN_ID == game_text.PAD_ID == extractor_modalities.PAD_TOKEN_ID
    assert convention.UNKNOWN_TOKEN_ID == game_text.UNKNOWN_ID
    assert convention.GRID in convention.MODALITY_KINDS


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        (np.int16, -32768, -1.0),
        (np.int16, 16384, 0.5),
        (np.int32, -(2**31), -1.0),
        (np.uint8, 128, 0.0),
        (np.uint8, 0, -1.0),
        (np.float64, 0.25, 0.25),
    ],
)
def test_pcm_scales_agree_sample_by_sample(dtype, raw, expected) -> None:
    samples = np.full((1, 4), raw, dtype=dtype)
    assert convention.pcm_to_float(samples)[0, 0] == pytest.approx(expected)
    spec = build_spec(
        "a",
        "audio",
        spaces.Box(-1, 1, (1, 4), dtype)
        if dtype == np.float64
        else spaces.Box(np.iinfo(dtype).min, np.iinfo(dtype).max, (1, 4), dtype),
    )
    assert float(spec.to_canonical(torch.as_tensor(samples)[None])[0, 0, 0]) == pytest.approx(
        expected
    )


def test_float128_audio_is_refused_by_both() -> None:
    if not hasattr(np, "float128"):
        pytest.skip("no float128 on this platform")
    assert not convention.is_audio_dtype(np.float128)
    with pytest.raises(ValueError, match="float16/32/64"):
        convention.pcm_to_float(np.zeros(4, np.float128))
