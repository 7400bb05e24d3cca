"""``layer_norm=True``: every key's features reach the fusion normalised, whatever their scale."""

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


def _observations(batch_size: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "audio": torch.rand(batch_size, 2, 200, generator=generator) * 2 - 1,
        "image": torch.randint(0, 256, (batch_size, 36, 36, 3), generator=generator).byte(),
        "text": torch.randint(1, 20, (batch_size, 6), generator=generator),
    }


def _key_slices(extractor: MultimodalExtractor) -> dict[str, slice]:
    """Where each key's features sit in the output of the ``concat`` fusion (key order)."""
    slices, start = {}, 0
    for key in extractor.specs:
        width = extractor.encoder_for(key).features_dim
        slices[key] = slice(start, start + width)
        start += width
    return slices


def _scale_text_output(extractor: MultimodalExtractor, factor: float) -> None:
    """Multiply the text encoder's last linear layer, hence its (ReLU) output, by ``factor``."""
    last = [m for m in extractor.encoder_for("text").modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        last[-1].weight.mul_(factor)
        last[-1].bias.mul_(factor)


def test_each_key_reaches_the_fusion_with_zero_mean_and_unit_variance() -> None:
    extractor = MultimodalExtractor(SPACE, encoders={"text": "bag"}, layer_norm=True).eval()
    with torch.no_grad():
        features = extractor(_observations(8))
    for key, columns in _key_slices(extractor).items():
        part = features[:, columns]
        torch.testing.assert_close(part.mean(dim=1), torch.zeros(8), atol=1e-5, rtol=0, msg=key)
        # unit variance up to LayerNorm's eps (1e-5), not small beside these features' variance
        torch.testing.assert_close(
            part.var(dim=1, unbiased=False), torch.ones(8), atol=0.1, rtol=0, msg=key
        )


@pytest.mark.parametrize("fusion", ["concat", "film"])
def test_an_encoder_output_grown_a_hundredfold_changes_nothing_downstream(fusion) -> None:
    observations = _observations(4)
    for layer_norm in (True, False):
        torch.manual_seed(0)
        extractor = MultimodalExtractor(
            SPACE, encoders={"text": "bag"}, fusion=fusion, layer_norm=layer_norm
        ).eval()
        with torch.no_grad():
            before = extractor(observations)
            _scale_text_output(extractor, 100.0)
            after = extractor(observations)
        change = (after - before).abs().max().item()
        if layer_norm:  # film: the text that conditions the image is normalised as well
            assert change < 5e-3  # up to LayerNorm's eps
        else:
            assert change > 1.0


def test_off_by_default_and_the_state_dict_then_has_no_norms() -> None:
    plain = MultimodalExtractor(SPACE)
    normed = MultimodalExtractor(SPACE, layer_norm=True)
    assert plain.layer_norms is None
    assert not any("layer_norms" in name for name in plain.state_dict())
    assert {name for name in normed.state_dict() if "layer_norms" in name} == {
        f"layer_norms.{key}.{tensor}" for key in SPACE for tensor in ("weight", "bias")
    }
    assert "layer_norm" in repr(normed) and "layer_norm" not in repr(plain)


@pytest.mark.parametrize("fusion", FUSION_NAMES)
def test_every_fusion_builds_and_runs_with_layer_norm(fusion) -> None:
    extractor = MultimodalExtractor(SPACE, fusion=fusion, fusion_dim=32, layer_norm=True)
    features = extractor(_observations(3))
    assert features.shape == (3, extractor.features_dim)
    features.sum().backward()
    for norm in extractor.layer_norms.values():  # type: ignore[union-attr]
        assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0


def test_layer_norm_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="layer_norm must be True or False"):
        MultimodalExtractor(SPACE, layer_norm="yes")  # type: ignore[arg-type]
