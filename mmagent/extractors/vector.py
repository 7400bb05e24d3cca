"""Vector encoder ``mlp``: any other Box key (game variables, positions, ...), flattened."""

from __future__ import annotations

import torch
from torch import nn

from mmagent.extractors.base import Encoder
from mmagent.extractors.modalities import VECTOR, ModalitySpec
from mmagent.extractors.registry import register_encoder


@register_encoder(VECTOR, "mlp")
class MLPVectorEncoder(Encoder):
    """Two-layer ReLU MLP over the flattened vector.

    :param spec: the vector key.
    :param features_dim: output width.
    :param hidden_dim: hidden layer width.
    """

    def __init__(self, spec: ModalitySpec, features_dim: int = 64, hidden_dim: int = 64) -> None:
        super().__init__(spec, features_dim)
        self.net = nn.Sequential(
            nn.Linear(spec.shape[0], hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, features_dim),
            nn.ReLU(),
        )

    def forward(self, vector: torch.Tensor) -> torch.Tensor:
        return self.net(vector)
