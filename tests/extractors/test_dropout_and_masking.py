"""Modality dropout (training only) and masking (ablations without retraining)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from mmagent.extractors import FUSION_NAMES, MultimodalExtractor

SPACE = spaces.Dict(
    {
        "audio": spaces.Box(-1.0, 1.0, (2, 200), np.float32),
        "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
        "text": spaces.Box(0, 19, (6,), np.int64),
    }
)


def _observations(batch_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "audio": torch.rand(batch_size, 2, 200, generator=generator) * 2 - 1,
        "image": torch.randint(0, 256, (batch_size, 36, 36, 3), generator=generator).byte(),
        "text": torch.randint(0, 20, (batch_size, 6), generator=generator),
    }


def _with_new(key: str, observations: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    replaced = dict(observations)
    replaced[key] = _observations(observations[key].shape[0], seed=99)[key]
    return replaced


def _audio_slice(extractor: MultimodalExtractor) -> slice:
    # concat fusion: features in key order audio, image, text
    return slice(0, extractor.encoder_for("audio").features_dim)


@pytest.mark.parametrize("fusion", FUSION_NAMES)
@pytest.mark.parametrize("masked", ["audio", "image", "text"])
def test_masked_modality_carries_no_information(fusion, masked) -> None:
    extractor = MultimodalExtractor(SPACE, fusion=fusion, fusion_dim=32).eval()
    observations = _observations(4)
    with torch.no_grad():
        unmasked = extractor(observations)
        assert not torch.equal(unmasked, extractor(_with_new(masked, observations)))
        extractor.set_masked_modalities({masked})
        masked_out = extractor(observations)
        assert torch.equal(masked_out, extractor(_with_new(masked, observations)))
        # The masked input is not even read: NaNs in it cannot reach the output.
        poisoned = dict(observations)
        poisoned[masked] = torch.full_like(observations[masked].float(), float("nan"))
        assert torch.isfinite(extractor(poisoned)).all()


def test_masking_by_kind_context_manager_and_bad_names() -> None:
    extractor = MultimodalExtractor(SPACE)
    extractor.set_masked_modalities({"text"})
    with extractor.masking(["audio", "image"]):
        assert extractor.masked_modalities == {"audio", "image"}
    assert extractor.masked_modalities == {"text"}
    extractor.set_masked_modalities([])
    assert extractor.masked_modalities == frozenset()
    with pytest.raises(KeyError, match=r"'sound'.*use one of"):
        extractor.set_masked_modalities({"sound"})


def test_dropout_replaces_features_per_sample_in_training_only() -> None:
    extractor = MultimodalExtractor(SPACE, modality_dropout={"audio": 0.5})
    missing = extractor.missing_embeddings["audio"]
    with torch.no_grad():
        missing.copy_(torch.linspace(-1, 1, missing.numel()))
        observations = _observations(1000)
        audio_features = extractor.train()(observations)[:, _audio_slice(extractor)]
        dropped = (audio_features == missing).all(dim=1)
        assert 0.4 < dropped.float().mean().item() < 0.6
        eval_audio = extractor.eval()(observations)[:, _audio_slice(extractor)]
        assert not (eval_audio == missing).all(dim=1).any()
        # Kept samples are the ordinary encoder features.
        torch.testing.assert_close(audio_features[~dropped], eval_audio[~dropped])


def test_dropout_everywhere_with_one_probability_and_gradient_to_missing_embedding() -> None:
    extractor = MultimodalExtractor(SPACE, modality_dropout=1.0, fusion="sum").train()
    observations = _observations(8)
    out = extractor(observations)
    assert torch.equal(out, extractor(_observations(8, seed=5)))  # every modality dropped
    out.sum().backward()
    for key in SPACE.spaces:
        assert extractor.missing_embeddings[key].grad.abs().sum() > 0


def test_film_with_masked_text_does_not_modulate_with_the_text() -> None:
    extractor = MultimodalExtractor(SPACE, fusion="film").eval()
    extractor.set_masked_modalities({"text"})
    observations = _observations(4)
    with torch.no_grad():
        assert torch.equal(extractor(observations), extractor(_with_new("text", observations)))


@pytest.mark.parametrize("probability", [-0.1, 1.5])
def test_bad_dropout_probability(probability) -> None:
    with pytest.raises(ValueError, match=r"modality_dropout for 'audio'.*\[0, 1\]"):
        MultimodalExtractor(SPACE, modality_dropout={"audio": probability})


def _image_part(extractor: MultimodalExtractor, features: torch.Tensor) -> torch.Tensor:
    # film fusion: features in key order audio, image, text
    start = extractor.encoder_for("audio").features_dim
    return features[:, start : start + extractor.encoder_for("image").features_dim]


@pytest.mark.parametrize(
    ("condition_on", "audio_moves_the_image"), [(None, False), (["text", "audio"], True)]
)
def test_film_conditions_the_image_on_the_keys_it_is_given(
    condition_on, audio_moves_the_image: bool
) -> None:
    torch.manual_seed(0)
    extractor = MultimodalExtractor(
        SPACE, fusion="film", fusion_kwargs={"condition_on": condition_on}
    ).eval()
    observations = _observations(4)
    with torch.no_grad():
        before = _image_part(extractor, extractor(observations))
        after = _image_part(extractor, extractor(_with_new("audio", observations)))
    assert torch.equal(before, after) is not audio_moves_the_image


def test_film_condition_on_names_a_missing_key() -> None:
    with pytest.raises(KeyError, match="film condition_on key 'sound'"):
        MultimodalExtractor(SPACE, fusion="film", fusion_kwargs={"condition_on": ["sound"]})
