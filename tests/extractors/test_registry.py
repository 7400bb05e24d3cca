"""Users extend the extractor with their own encoders and fusions: by registered name, by class,
or by ``"module.path:Class"``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from mmagent.extractors import (
    ENCODERS,
    FUSIONS,
    Encoder,
    Fusion,
    ModalitySpec,
    MultimodalExtractor,
    encoder_names,
    register_encoder,
    register_fusion,
)

SPACE = spaces.Dict(
    {
        "audio": spaces.Box(-1.0, 1.0, (1, 200), np.float32),
        "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
    }
)


class EnergyAudioEncoder(Encoder):
    """Per-channel RMS energy through a linear layer."""

    def __init__(self, spec: ModalitySpec, features_dim: int = 4) -> None:
        super().__init__(spec, features_dim)
        self.linear = nn.Linear(spec.shape[0], features_dim)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.linear(waveform.square().mean(dim=2).sqrt())


class MaxFusion(Fusion):
    """Element-wise max of the projected features."""

    def __init__(self, specs, encoders, fusion_dim: int = 8) -> None:
        super().__init__()
        self.keys = tuple(specs)
        self.projections = nn.ModuleList(
            nn.Linear(encoders[key].features_dim, fusion_dim) for key in self.keys
        )
        self.features_dim = fusion_dim

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        projected = [p(features[k]) for p, k in zip(self.projections, self.keys, strict=True)]
        return torch.stack(projected).amax(dim=0)


@pytest.fixture
def clean_registries() -> Iterator[None]:
    saved_encoders = {kind: dict(names) for kind, names in ENCODERS.items()}
    saved_fusions = dict(FUSIONS)
    yield
    for kind, names in saved_encoders.items():
        ENCODERS[kind].clear()
        ENCODERS[kind].update(names)
    FUSIONS.clear()
    FUSIONS.update(saved_fusions)


@pytest.mark.usefixtures("clean_registries")
def test_registered_encoder_and_fusion_are_selected_by_name() -> None:
    register_encoder("audio", "energy", EnergyAudioEncoder)
    register_fusion("max", MaxFusion)
    assert "energy" in encoder_names("audio")
    extractor = MultimodalExtractor(
        SPACE,
        encoders={"audio": "energy"},
        encoder_kwargs={"audio": {"features_dim": 6}},
        fusion="max",
    )
    assert isinstance(extractor.encoder_for("audio"), EnergyAudioEncoder)
    assert extractor.encoder_for("audio").features_dim == 6
    assert extractor.features_dim == 256  # MaxFusion got the extractor's default fusion_dim
    observation = {
        key: torch.as_tensor(np.stack([s.sample() for _ in range(2)])) for key, s in SPACE.items()
    }
    assert extractor(observation).shape == (2, 256)


@pytest.mark.usefixtures("clean_registries")
def test_decorator_registration_and_duplicate_names() -> None:
    @register_encoder("audio", "energy2")
    class Energy2(EnergyAudioEncoder):
        pass

    assert ENCODERS["audio"]["energy2"] is Energy2
    with pytest.raises(ValueError, match=r"'energy2' is already registered.*overwrite=True"):
        register_encoder("audio", "energy2", EnergyAudioEncoder)
    register_encoder("audio", "energy2", EnergyAudioEncoder, overwrite=True)
    assert ENCODERS["audio"]["energy2"] is EnergyAudioEncoder
    with pytest.raises(ValueError, match="unknown modality kind 'speech'"):
        register_encoder("speech", "x", EnergyAudioEncoder)


def test_class_and_import_path_need_no_registration() -> None:
    by_class = MultimodalExtractor(SPACE, encoders={"audio": EnergyAudioEncoder}, fusion=MaxFusion)
    assert isinstance(by_class.encoder_for("audio"), EnergyAudioEncoder)
    assert isinstance(by_class.fusion, MaxFusion)
    by_path = MultimodalExtractor(
        SPACE, encoders={"audio": f"{__name__}:EnergyAudioEncoder"}, fusion=f"{__name__}:MaxFusion"
    )
    assert type(by_path.encoder_for("audio")).__name__ == "EnergyAudioEncoder"
    assert by_path.encoder_names["audio"] == f"{__name__}:EnergyAudioEncoder"


def test_encoder_without_features_dim_is_rejected() -> None:
    def no_width(spec: ModalitySpec) -> nn.Module:
        return nn.Flatten()

    with pytest.raises(TypeError, match="must set a positive int features_dim"):
        MultimodalExtractor(SPACE, encoders={"audio": no_width})
