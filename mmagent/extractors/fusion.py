"""Fusions: how per-key feature vectors become one feature vector for SB3's policy/value heads.

=============  =====================================================================  ==============
name           what it does                                                           features_dim
=============  =====================================================================  ==============
``concat``     concatenate the encoders' features                                     sum of widths
``sum``        project each to ``fusion_dim`` (linear), add, ReLU                     ``fusion_dim``
``gated``      project each to ``fusion_dim``; a sigmoid gate per modality, computed  ``fusion_dim``
               from all features, weights the sum
``film``       text conditions the image feature maps (FiLM blocks between the        sum of widths
               image encoder's trunk and head, as BabyAI), then concatenate
``attention``  one token per modality (projection + modality embedding) through a     ``fusion_dim``
               Transformer encoder layer, mean-pooled
=============  =====================================================================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch
from torch import nn

from mmagent.extractors.base import Encoder, Fusion, ImageEncoder, module_names
from mmagent.extractors.modalities import GRID, IMAGE, TEXT, ModalitySpec
from mmagent.extractors.registry import register_fusion


def _check_fusion_dim(name: str, fusion_dim: int) -> None:
    if fusion_dim <= 0:
        raise ValueError(f"fusion_dim must be positive for the {name!r} fusion, got {fusion_dim}.")


@register_fusion("concat")
class ConcatFusion(Fusion):
    """Concatenate the per-key features (in observation-space key order).

    :param specs: the encoded keys.
    :param encoders: their encoders (sizes only).
    :param fusion_dim: unused (the output width is the sum of the encoders' widths).
    """

    def __init__(
        self,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int = 256,
    ) -> None:
        super().__init__()
        self.keys = tuple(specs)
        self.features_dim = sum(encoders[key].features_dim for key in self.keys)

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([features[key] for key in self.keys], dim=1)


class _ProjectedFusion(Fusion):
    """Shared part of the fusions that first project every key to ``fusion_dim``."""

    def __init__(
        self,
        name: str,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int,
    ) -> None:
        super().__init__()
        _check_fusion_dim(name, fusion_dim)
        self.keys = tuple(specs)
        self.module_names = module_names(self.keys)
        self.projections = nn.ModuleDict(
            {
                self.module_names[key]: nn.Linear(encoders[key].features_dim, fusion_dim)
                for key in self.keys
            }
        )
        self.features_dim = fusion_dim

    def project(self, features: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        return [self.projections[self.module_names[key]](features[key]) for key in self.keys]


@register_fusion("sum")
class SumFusion(_ProjectedFusion):
    """Project each key's features to ``fusion_dim``, add them, ReLU.

    :param specs: the encoded keys.
    :param encoders: their encoders (sizes only).
    :param fusion_dim: common width = output width.
    """

    def __init__(
        self,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int = 256,
    ) -> None:
        super().__init__("sum", specs, encoders, fusion_dim)

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.relu(torch.stack(self.project(features), dim=0).sum(dim=0))


@register_fusion("gated")
class GatedFusion(_ProjectedFusion):
    """Gated sum: ``sum_k sigmoid(g_k) * relu(W_k f_k)``, the gate logits ``g`` computed by a linear
    layer from all features concatenated, so the policy learns per sample how much to trust each
    modality.

    :param specs: the encoded keys.
    :param encoders: their encoders (sizes only).
    :param fusion_dim: common width = output width.
    """

    def __init__(
        self,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int = 256,
    ) -> None:
        super().__init__("gated", specs, encoders, fusion_dim)
        total = sum(encoders[key].features_dim for key in self.keys)
        self.gate = nn.Linear(total, len(self.keys))

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        gates = torch.sigmoid(self.gate(torch.cat([features[key] for key in self.keys], dim=1)))
        projected = torch.stack([torch.relu(p) for p in self.project(features)], dim=1)
        return (gates.unsqueeze(-1) * projected).sum(dim=1)


@register_fusion("attention")
class AttentionFusion(_ProjectedFusion):
    """One token per key (linear projection + learned modality embedding) through a Transformer
    encoder layer (pre-norm, no dropout), mean-pooled over the tokens.

    :param specs: the encoded keys.
    :param encoders: their encoders (sizes only).
    :param fusion_dim: token width = output width (divisible by ``num_heads``).
    :param num_heads: attention heads.
    """

    def __init__(
        self,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int = 256,
        num_heads: int = 4,
    ) -> None:
        super().__init__("attention", specs, encoders, fusion_dim)
        if fusion_dim % num_heads != 0:
            raise ValueError(
                f"attention fusion: fusion_dim={fusion_dim} is not divisible by "
                f"num_heads={num_heads}; pick fusion_dim as a multiple of num_heads."
            )
        self.modality_embeddings = nn.Parameter(torch.zeros(len(self.keys), fusion_dim))
        nn.init.normal_(self.modality_embeddings, std=0.02)
        self.layer = nn.TransformerEncoderLayer(
            fusion_dim,
            num_heads,
            dim_feedforward=2 * fusion_dim,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = torch.stack(self.project(features), dim=1) + self.modality_embeddings
        return self.layer(tokens).mean(dim=1)


class _FiLMBlock(nn.Module):
    """3x3 conv, then ``relu((1 + gamma) * h + beta)``, ``gamma, beta`` from the conditioning
    features (the text by default); residual."""

    def __init__(self, channels: int, condition_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.modulation = nn.Linear(condition_dim, 2 * channels)

    def forward(self, feature_map: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.modulation(condition)[:, :, None, None].chunk(2, dim=1)
        return feature_map + torch.relu((1.0 + gamma) * self.conv(feature_map) + beta)


@register_fusion("film")
class FiLMFusion(Fusion):
    """FiLM (Perez et al. 2018; BabyAI, Chevalier-Boisvert et al. 2019): the text features
    produce a per-channel scale and shift for each of ``num_blocks`` conv blocks applied to each
    image encoder's feature map, before that encoder's projection head. The conditioned image
    features are then concatenated with every other key's features (text included). Build the
    extractor with ``layer_norm=True``: without it the features can outgrow the policy's tanh
    layer within a few optimiser steps.

    :param specs: the encoded keys; needs at least one image and one text key.
    :param encoders: their encoders (sizes; image encoders must be :class:`ImageEncoder`).
    :param fusion_dim: unused (the output width is the sum of the encoders' widths).
    :param text_key: the text key that conditions (needed only with several text keys).
    :param image_keys: the image keys to condition (default: every image key).
    :param num_blocks: FiLM blocks per image.
    :param condition_on: the keys whose features, concatenated, condition the images (default:
        the text key alone); e.g. ``["text", "audio"]`` when the sound says part of what to
        look for.
    """

    def __init__(
        self,
        specs: Mapping[str, ModalitySpec],
        encoders: Mapping[str, Encoder],
        fusion_dim: int = 256,
        text_key: str | None = None,
        image_keys: Sequence[str] | None = None,
        num_blocks: int = 2,
        condition_on: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        text_keys = [key for key, spec in specs.items() if spec.kind == TEXT]
        # a symbolic grid's embedded cells are a feature map like an image's
        all_image_keys = [key for key, spec in specs.items() if spec.kind in (IMAGE, GRID)]
        if not text_keys or not all_image_keys:
            raise ValueError(
                f"the 'film' fusion conditions image feature maps on text, so it needs an image "
                f"key and a text key; got image keys {all_image_keys} and text keys {text_keys} "
                f"(all keys: { {key: spec.kind for key, spec in specs.items()} }). Map them with "
                f"modalities=, or choose another fusion, e.g. fusion='concat'."
            )
        if text_key is None:
            if len(text_keys) > 1:
                raise ValueError(
                    f"the 'film' fusion found several text keys {text_keys}; choose the one that "
                    f"conditions with fusion_kwargs={{'text_key': ...}}."
                )
            text_key = text_keys[0]
        elif text_key not in text_keys:
            raise KeyError(f"film text_key {text_key!r} is not one of the text keys {text_keys}.")
        image_keys = list(all_image_keys if image_keys is None else image_keys)
        for key in image_keys:
            if key not in all_image_keys:
                raise KeyError(
                    f"film image key {key!r} is not one of the image keys {all_image_keys}."
                )
            if not isinstance(encoders[key], ImageEncoder):
                raise ValueError(
                    f"the 'film' fusion needs image {key!r} to use an ImageEncoder (with "
                    f"feature_map/project); {type(encoders[key]).__name__} is not one."
                )
        if num_blocks < 1:
            raise ValueError(f"film num_blocks must be >= 1, got {num_blocks}.")
        condition_keys = [text_key] if condition_on is None else list(condition_on)
        for key in condition_keys:
            if key not in specs or key in image_keys:
                raise KeyError(
                    f"film condition_on key {key!r} must be an encoded key other than the "
                    f"conditioned images {image_keys}; the encoded keys are {list(specs)}."
                )
        if not condition_keys:
            raise ValueError("film condition_on is empty; name at least one key, e.g. ['text'].")
        self.text_key = text_key
        self.condition_keys = tuple(condition_keys)
        self.conditioned_keys = tuple(image_keys)
        self.keys = tuple(specs)
        self.module_names = module_names(self.keys)
        condition_dim = sum(encoders[key].features_dim for key in condition_keys)
        map_channels = {key: cast(ImageEncoder, encoders[key]).map_channels for key in image_keys}
        self.blocks = nn.ModuleDict(
            {
                self.module_names[key]: nn.ModuleList(
                    _FiLMBlock(map_channels[key], condition_dim) for _ in range(num_blocks)
                )
                for key in image_keys
            }
        )
        self.features_dim = sum(encoders[key].features_dim for key in self.keys)

    def condition(
        self, key: str, feature_map: torch.Tensor, features: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        condition = torch.cat([features[name] for name in self.condition_keys], dim=1)
        for block in self.blocks[self.module_names[key]]:
            feature_map = block(feature_map, condition)
        return feature_map

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([features[key] for key in self.keys], dim=1)
