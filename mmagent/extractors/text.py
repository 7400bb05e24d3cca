"""Text encoders: ``bag`` (default: mean of embeddings), ``gru``, ``transformer``.

All read canonical ``long (B, L)`` token ids with ``0`` as padding and never let a padding position
change the result: the GRU stops at the last real token, ``bag`` and ``transformer`` average over
real tokens only. An all-padding (empty) instruction encodes to the same constant vector for
every sample.
"""

from __future__ import annotations

import torch
from torch import nn

from mmagent.extractors.base import Encoder
from mmagent.extractors.modalities import PAD_TOKEN_ID, TEXT, ModalitySpec
from mmagent.extractors.registry import register_encoder


def masked_mean(values: torch.Tensor, is_token: torch.Tensor) -> torch.Tensor:
    """Mean of ``values (B, L, D)`` over positions where ``is_token (B, L)``; zero where none."""
    weights = is_token.unsqueeze(-1).to(values.dtype)
    counts = weights.sum(dim=1).clamp(min=1.0)
    return (values * weights).sum(dim=1) / counts


@register_encoder(TEXT, "gru")
class GRUTextEncoder(Encoder):
    """Token embedding + one-layer GRU; the feature is the hidden state after the last real token.

    Assumes right padding (tokens first, then ``0`` s), the built-in games' convention.

    :param spec: the text key.
    :param features_dim: GRU hidden size = output width.
    :param embedding_dim: token embedding width.
    """

    def __init__(
        self, spec: ModalitySpec, features_dim: int = 128, embedding_dim: int = 64
    ) -> None:
        super().__init__(spec, features_dim)
        self.embedding = nn.Embedding(spec.vocab_size, embedding_dim, padding_idx=PAD_TOKEN_ID)
        self.gru = nn.GRU(embedding_dim, features_dim, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.gru(self.embedding(tokens))
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        last_token = torch.where(tokens != PAD_TOKEN_ID, positions, -1).max(dim=1).values
        has_tokens = (last_token >= 0).unsqueeze(-1).to(outputs.dtype)
        batch_index = torch.arange(tokens.shape[0], device=tokens.device)
        return outputs[batch_index, last_token.clamp(min=0)] * has_tokens


@register_encoder(TEXT, "bag")
class BagOfEmbeddingsTextEncoder(Encoder):
    """Mean of token embeddings over non-padding tokens, then a linear layer; order-free and fast.

    :param spec: the text key.
    :param features_dim: output width.
    :param embedding_dim: token embedding width.
    """

    def __init__(
        self, spec: ModalitySpec, features_dim: int = 128, embedding_dim: int = 64
    ) -> None:
        super().__init__(spec, features_dim)
        self.embedding = nn.Embedding(spec.vocab_size, embedding_dim, padding_idx=PAD_TOKEN_ID)
        self.head = nn.Sequential(nn.Linear(embedding_dim, features_dim), nn.ReLU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(masked_mean(self.embedding(tokens), tokens != PAD_TOKEN_ID))


@register_encoder(TEXT, "transformer")
class TransformerTextEncoder(Encoder):
    """Small Transformer encoder (learned positions, padding masked in attention), mean-pooled.

    :param spec: the text key.
    :param features_dim: output width.
    :param model_dim: Transformer width (divisible by ``num_heads``).
    :param num_heads: attention heads.
    :param num_layers: encoder layers.
    """

    def __init__(
        self,
        spec: ModalitySpec,
        features_dim: int = 128,
        model_dim: int = 64,
        num_heads: int = 4,
        num_layers: int = 2,
    ) -> None:
        super().__init__(spec, features_dim)
        if model_dim % num_heads != 0:
            raise ValueError(
                f"transformer text encoder for {spec.key!r}: model_dim={model_dim} is not "
                f"divisible by num_heads={num_heads}; pick model_dim as a multiple of num_heads."
            )
        self.embedding = nn.Embedding(spec.vocab_size, model_dim, padding_idx=PAD_TOKEN_ID)
        self.positions = nn.Parameter(torch.zeros(spec.shape[0], model_dim))
        nn.init.normal_(self.positions, std=0.02)
        layer = nn.TransformerEncoderLayer(
            model_dim,
            num_heads,
            dim_feedforward=2 * model_dim,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(model_dim, features_dim), nn.ReLU())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        is_token = tokens != PAD_TOKEN_ID
        # A row of only padding would give attention nothing to attend to (NaN); let it see
        # position 0. Its output is dropped by the masked mean below anyway.
        first_position = torch.zeros_like(is_token)
        first_position[:, 0] = True
        attend = is_token | (first_position & ~is_token.any(dim=1, keepdim=True))
        hidden = self.encoder(self.embedding(tokens) + self.positions, src_key_padding_mask=~attend)
        return self.head(masked_mean(hidden, is_token))
