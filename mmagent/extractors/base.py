"""The two kinds of swappable part: per-modality encoders and the fusion that combines them."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmagent.extractors.modalities import ModalitySpec


class Encoder(nn.Module):
    """Maps one modality's canonical input (see :class:`ModalitySpec`) to ``(B, features_dim)``.

    Subclasses are built as ``EncoderClass(spec, **encoder_kwargs)`` and must set
    ``features_dim`` in ``__init__``.

    :param spec: the observation key this encoder reads.
    :param features_dim: width of the feature vector it returns.
    """

    def __init__(self, spec: ModalitySpec, features_dim: int) -> None:
        super().__init__()
        if features_dim <= 0:
            raise ValueError(
                f"features_dim must be positive, got {features_dim} (encoder for {spec.key!r})."
            )
        self.spec = spec
        self.features_dim = features_dim


class ImageEncoder(Encoder):
    """An image encoder split into a convolutional trunk and a projection head.

    The split lets a fusion (FiLM) modulate the trunk's feature maps before the head.
    Subclasses set ``map_channels`` and implement :meth:`feature_map` and :meth:`project`.
    """

    map_channels: int
    """Channels of the feature map returned by :meth:`feature_map`."""

    def feature_map(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` image in ``[0, 1]`` → ``(B, map_channels, h, w)`` feature map."""
        raise NotImplementedError

    def project(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Feature map → ``(B, features_dim)``."""
        raise NotImplementedError

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.project(self.feature_map(image))


class Fusion(nn.Module):
    """Combines per-key feature vectors into the extractor's output of ``features_dim``.

    Subclasses are built as ``FusionClass(specs, encoders, fusion_dim, **fusion_kwargs)`` and must
    set ``features_dim`` in ``__init__``. ``encoders`` is given to read sizes from; a fusion must
    not keep references to it (the extractor owns the encoders).

    A fusion that conditions image feature maps (FiLM) lists those image keys in
    ``conditioned_keys`` and implements :meth:`condition`; the extractor then encodes the other keys
    first and calls ``condition`` between the image encoder's trunk and head.
    """

    features_dim: int
    conditioned_keys: tuple[str, ...] = ()

    def condition(
        self, key: str, feature_map: torch.Tensor, features: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Modulate image ``key``'s feature map using the already-encoded ``features``."""
        raise NotImplementedError

    def forward(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``{key: (B, dim_key)}`` → ``(B, features_dim)``."""
        raise NotImplementedError


def dry_run_output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> torch.Size:
    """Shape of ``module``'s output for one zero sample of ``input_shape`` (no batch axis)."""
    with torch.no_grad():
        return module(torch.zeros(1, *input_shape)).shape


def module_names(keys: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Names under which per-key submodules are stored (``nn.ModuleDict`` rejects ``.`` and names
    that clash with its own attributes, e.g. ``"values"``), one per observation key."""
    names: dict[str, str] = {}
    for key in keys:
        name = key.replace(".", "_")
        if not name or hasattr(nn.ModuleDict, name) or hasattr(nn.ParameterDict, name):
            name = f"key_{name}"
        if name in names.values():
            raise ValueError(
                f"observation keys {keys} collide once '.' is replaced by '_' ({name!r}); "
                f"rename one of them in a wrapper."
            )
        names[key] = name
    return names
