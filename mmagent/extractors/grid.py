"""Symbolic grid encoder ``embedding``: integer cell codes (object, colour, state, ... per cell, as
MiniGrid's 7x7x3 view) are looked up in one embedding table per channel, never divided by 255.

Reads the canonical grid input ``long (B, C, H, W)`` (see :class:`ModalitySpec`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from mmagent.convention import GRID
from mmagent.extractors.base import ImageEncoder
from mmagent.extractors.modalities import ModalitySpec, set_hint
from mmagent.extractors.registry import register_encoder

GRID_COMBINES = ("sum", "concat")
"""How the per-channel embeddings of one cell are combined."""


@register_encoder(GRID, "embedding")
class SymbolicGridEncoder(ImageEncoder):
    """One ``nn.Embedding`` per channel, sized by that channel's ``high + 1`` codes; the
    embeddings of a cell are summed (or concatenated) into one vector per cell, then 3x3
    convolutions (padding 1, so one position per cell) relate neighbouring cells, and a linear
    head projects. A code is an identity, not an intensity: codes 1 and 2 are as different as
    codes 1 and 9. Works as a FiLM-conditioned image (``fusion="film"``).

    :param spec: the grid key (kind ``grid``).
    :param features_dim: output width.
    :param embedding_dim: width of each code's embedding.
    :param combine: ``"sum"`` or ``"concat"`` the channels' embeddings of a cell.
    :param channels: output channels of each 3x3 convolution.
    """

    def __init__(
        self,
        spec: ModalitySpec,
        features_dim: int = 256,
        embedding_dim: int = 16,
        combine: str = "sum",
        channels: Sequence[int] = (32, 64),
    ) -> None:
        super().__init__(spec, features_dim)
        if spec.kind != GRID or not spec.code_counts:
            raise ValueError(
                f"the 'embedding' encoder reads symbolic grids; {spec.key!r} is a {spec.kind} "
                f"key. Map it with {set_hint('modalities', spec.key, GRID)}."
            )
        if combine not in GRID_COMBINES:
            raise ValueError(
                f"grid encoder for {spec.key!r}: combine={combine!r} is unknown; use one of "
                f"{GRID_COMBINES}."
            )
        if not channels:
            raise ValueError(f"grid encoder for {spec.key!r} needs at least one conv channel.")
        _, height, width = spec.shape
        self.combine = combine
        self.embeddings = nn.ModuleList(
            nn.Embedding(count, embedding_dim) for count in spec.code_counts
        )
        cell_width = embedding_dim * (len(spec.code_counts) if combine == "concat" else 1)
        layers: list[nn.Module] = []
        for previous, current in itertools.pairwise((cell_width, *channels)):
            layers += [nn.Conv2d(previous, current, kernel_size=3, padding=1), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.map_channels = channels[-1]
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(channels[-1] * height * width, features_dim), nn.ReLU()
        )

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """``long (B, C, H, W)`` codes → ``(B, cell_width, H, W)`` cell embeddings."""
        per_channel = [table(codes[:, index]) for index, table in enumerate(self.embeddings)]
        cells = (
            torch.cat(per_channel, dim=-1)
            if self.combine == "concat"
            else torch.stack(per_channel).sum(0)
        )
        return cells.permute(0, 3, 1, 2)

    def feature_map(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.embed(image))

    def project(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.head(feature_map)
