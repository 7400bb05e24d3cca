"""uint8 images are divided by 255 exactly once, whatever the SB3 policy's ``normalize_images``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from mmagent.extractors import MultimodalExtractor


def _encoder_input(model: PPO, observation: dict[str, np.ndarray]) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    encoder = model.policy.features_extractor.encoder_for("image")
    hook = encoder.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    model.predict(observation, deterministic=True)
    hook.remove()
    return seen[0][0]


@pytest.mark.parametrize("image_shape", [(36, 36, 3), (3, 36, 36)])
def test_image_reaches_encoder_in_unit_range_with_either_normalize_images(
    make_env, image_shape
) -> None:
    env = make_env(image_shape=image_shape)
    observation, _ = env.reset(seed=0)
    frame = observation["image"]
    assert frame.max() == 255
    channels_first = frame if image_shape[0] == 3 else frame.transpose(2, 0, 1)
    expected = torch.as_tensor(channels_first, dtype=torch.float32) / 255.0

    for normalize_images in (True, False):
        model = PPO(
            "MultiInputPolicy",
            env,
            n_steps=32,
            batch_size=32,
            device="cpu",
            policy_kwargs=dict(
                features_extractor_class=MultimodalExtractor, normalize_images=normalize_images
            ),
        )
        image_spec = model.policy.features_extractor.specs["image"]
        assert image_spec.scale == (1.0 if normalize_images else 1.0 / 255.0)
        torch.testing.assert_close(_encoder_input(model, observation), expected)


def test_built_outside_sb3_expects_raw_observations(make_env) -> None:
    env = make_env()
    extractor = MultimodalExtractor(env.observation_space)
    assert extractor.specs["image"].scale == pytest.approx(1.0 / 255.0)


def test_explicit_flag_overrides_detection(make_env) -> None:
    env = make_env()
    extractor = MultimodalExtractor(env.observation_space, sb3_normalize_images=True)
    assert extractor.specs["image"].scale == 1.0
