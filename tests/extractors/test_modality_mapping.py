"""Key → modality mapping, layouts and the documented normalisation rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3 import PPO

from mmagent.extractors import MultimodalExtractor, mask_modalities, resolve_modalities
from mmagent.extractors.modalities import build_spec


def test_keys_are_detected_by_name_and_the_rest_are_vectors() -> None:
    space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
            "text": spaces.Box(0, 9, (4,), np.int64),
            "audio": spaces.Box(-1, 1, (2, 100), np.float32),
            "health": spaces.Box(0, 100, (1,), np.float32),
        }
    )
    assert resolve_modalities(space) == {
        "audio": "audio",
        "health": "vector",
        "image": "image",
        "text": "text",
    }


def test_override_maps_other_names_and_ignores_keys() -> None:
    space = spaces.Dict(
        {
            "screen": spaces.Box(0, 255, (36, 36, 3), np.uint8),
            "mission": spaces.Box(0, 9, (4,), np.int64),
            "direction": spaces.Discrete(4),
        }
    )
    mapping = {"screen": "image", "mission": "text", "direction": "ignore"}
    assert resolve_modalities(space, mapping) == mapping
    extractor = MultimodalExtractor(space, modalities=mapping)
    assert extractor.modalities == {"mission": "text", "screen": "image"}


def test_unmapped_image_like_key_warns_with_the_fix() -> None:
    space = spaces.Dict({"screen": spaces.Box(0, 255, (36, 36, 3), np.uint8)})
    with pytest.warns(UserWarning, match=r"modalities=\{'screen': 'image'\}"):
        assert resolve_modalities(space) == {"screen": "vector"}


@pytest.mark.parametrize(
    ("shape", "channels_first", "canonical"),
    [
        ((2, 1600), None, (2, 1600)),
        ((1600, 2), None, (2, 1600)),
        ((1, 400), None, (1, 400)),
        ((400, 8), None, (8, 400)),
        ((400,), None, (1, 400)),
        ((16, 400), True, (16, 400)),
        ((400, 16), False, (16, 400)),
    ],
)
def test_audio_layout_rule(shape, channels_first, canonical) -> None:
    spec = build_spec(
        "a", "audio", spaces.Box(-1, 1, shape, np.float32), channels_first=channels_first
    )
    assert spec.shape == canonical
    batch = torch.arange(2 * int(np.prod(shape)), dtype=torch.float32).reshape(2, *shape)
    out = spec.to_canonical(batch)
    assert out.shape == (2, *canonical)
    if len(shape) == 2 and shape[0] > shape[1]:
        assert torch.equal(out, batch.transpose(1, 2))


@settings(max_examples=40, deadline=None)
@given(
    channels=st.integers(1, 8),
    samples=st.integers(9, 4000),
    channels_first=st.booleans(),
    dtype=st.sampled_from([np.float32, np.int16, np.uint8]),
)
def test_audio_layout_rule_holds_for_any_shape(channels, samples, channels_first, dtype) -> None:
    shape = (channels, samples) if channels_first else (samples, channels)
    low, high = (-1, 1) if dtype == np.float32 else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    spec = build_spec("a", "audio", spaces.Box(low, high, shape, dtype))
    assert spec.shape == (channels, samples)
    assert spec.channels_first == channels_first


def test_ambiguous_audio_layout_asks_for_channels_first() -> None:
    with pytest.raises(ValueError, match=r"channels_first=\{'a': True\}"):
        build_spec("a", "audio", spaces.Box(-1, 1, (16, 400), np.float32))


@pytest.mark.parametrize(
    ("dtype", "raw", "expected"),
    [
        (np.float32, [-1.0, 0.0, 0.5], [-1.0, 0.0, 0.5]),
        (np.float64, [-0.25, 0.75, 1.0], [-0.25, 0.75, 1.0]),
        (np.int16, [-32768, 0, 16384], [-1.0, 0.0, 0.5]),
        (np.int32, [-(2**31), 0, 2**30], [-1.0, 0.0, 0.5]),
        (np.uint8, [0, 128, 192], [-1.0, 0.0, 0.5]),
    ],
)
def test_audio_dtype_normalisation(dtype, raw, expected) -> None:
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    low, high = (info.min, info.max) if info else (-1.0, 1.0)
    spec = build_spec("a", "audio", spaces.Box(low, high, (1, 3), dtype))
    raw_tensor = torch.as_tensor(np.array([[raw]], dtype=dtype))
    expected_tensor = torch.tensor([[expected]], dtype=torch.float32)
    torch.testing.assert_close(spec.to_canonical(raw_tensor), expected_tensor)
    # SB3's preprocess_obs hands the extractor the same values cast to float32.
    torch.testing.assert_close(spec.to_canonical(raw_tensor.double().float()), expected_tensor)


@pytest.mark.parametrize("shape", [(36, 40, 3), (3, 36, 40), (40, 36, 1), (12, 36, 40)])
def test_image_layout_rule_channels_first_and_last(shape) -> None:
    spec = build_spec("i", "image", spaces.Box(0, 255, shape, np.uint8))
    channels_last = shape[-1] < shape[0]
    expected = (shape[2], shape[0], shape[1]) if channels_last else shape
    assert spec.shape == expected
    batch = torch.randint(0, 256, (2, *shape), dtype=torch.uint8)
    out = spec.to_canonical(batch)
    reference = batch.permute(0, 3, 1, 2) if channels_last else batch
    torch.testing.assert_close(out, reference.float() / 255.0)


def test_float_images_are_taken_as_already_scaled() -> None:
    spec = build_spec("i", "image", spaces.Box(0.0, 1.0, (3, 36, 36), np.float32))
    batch = torch.rand(2, 3, 36, 36)
    assert torch.equal(spec.to_canonical(batch), batch)


def test_text_ids_survive_sb3_float_cast() -> None:
    spec = build_spec("t", "text", spaces.Box(0, 2**20, (3,), np.int64))
    ids = torch.tensor([[0, 1, 2**20], [7, 2**20 - 1, 3]])
    out = spec.to_canonical(ids.float())
    assert out.dtype == torch.long
    assert torch.equal(out, ids)
    assert spec.vocab_size == 2**20 + 1


def test_env_with_other_names_and_int16_samples_by_channels_trains(make_env) -> None:
    env = make_env(
        names={"image": "screen", "audio": "sound", "text": "mission"},
        audio_shape=(400, 2),
        audio_channels_first=False,
        audio_dtype=np.int16,
        vector_dim=0,
    )
    assert env.observation_space["sound"].shape == (400, 2)
    assert env.observation_space["sound"].dtype == np.int16
    model = PPO(
        "MultiInputPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs=dict(
            features_extractor_class=MultimodalExtractor,
            features_extractor_kwargs=dict(
                modalities={"screen": "image", "sound": "audio", "mission": "text"},
                encoders={"sound": "logmel"},
            ),
        ),
    )
    extractor = model.policy.features_extractor
    assert extractor.modalities == {"mission": "text", "screen": "image", "sound": "audio"}
    assert extractor.specs["sound"].shape == (2, 400)
    assert extractor.encoder_names["sound"] == "logmel"
    model.learn(256)
    assert model.num_timesteps == 256

    # The int16 audio reaches the encoder in [-1, 1], samples last.
    seen: list[torch.Tensor] = []
    hook = extractor.encoder_for("sound").register_forward_pre_hook(
        lambda _module, args: seen.append(args[0])
    )
    observation, _ = env.reset(seed=3)
    model.predict(observation, deterministic=True)
    hook.remove()
    expected = torch.as_tensor(observation["sound"].T / 32768.0, dtype=torch.float32)
    torch.testing.assert_close(seen[0][0], expected)

    # Masking by kind and by key reaches the policy's extractor.
    assert mask_modalities(model, ["audio"])[0].masked_modalities == {"sound"}
    mask_modalities(model, [])
    assert extractor.masked_modalities == frozenset()
