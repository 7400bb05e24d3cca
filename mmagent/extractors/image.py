"""Image encoders: ``nature`` (Nature DQN CNN), ``impala`` (IMPALA residual CNN), ``small``
(3x3 convolutions for small views) and ``grid`` (one feature vector per cell of a tile-drawn
frame).

All read a canonical ``float (B, C, H, W)`` image in ``[0, 1]``, any channel count.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from mmagent.extractors.base import ImageEncoder, dry_run_output_shape
from mmagent.extractors.modalities import IMAGE, ModalitySpec, set_hint
from mmagent.extractors.registry import register_encoder

NATURE_MIN_SIZE = 36
"""Smallest height/width the Nature CNN's 8/4, 4/2, 3/1 convolutions accept."""

SMALL_MAX_MAP_SIDE = 9
"""The ``small`` CNN halves the map (stride 2) while its side is above this."""


class _TrunkAndHeadEncoder(ImageEncoder):
    """An image encoder made of a convolutional trunk, which a subclass builds and hands to
    :meth:`_attach_trunk`, and a flatten → linear → ReLU head sized by a dry run of it."""

    trunk: nn.Module
    head: nn.Sequential

    def _attach_trunk(self, trunk: nn.Module, map_channels: int) -> None:
        self.map_channels = map_channels
        self.trunk = trunk
        flat_size = int(torch.Size(dry_run_output_shape(trunk, self.spec.shape)[1:]).numel())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat_size, self.features_dim), nn.ReLU())

    def feature_map(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(image)

    def project(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.head(feature_map)


@register_encoder(IMAGE, "nature")
class NatureImageEncoder(_TrunkAndHeadEncoder):
    """The CNN of Mnih et al. (2015), as SB3's ``NatureCNN``, without the /255 (done once upstream).

    :param spec: the image key.
    :param features_dim: output width.
    """

    def __init__(self, spec: ModalitySpec, features_dim: int = 256) -> None:
        super().__init__(spec, features_dim)
        channels, height, width = spec.shape
        if min(height, width) < NATURE_MIN_SIZE:
            raise ValueError(
                f"image {spec.key!r} is {height}x{width}; the 'nature' encoder needs at least "
                f"{NATURE_MIN_SIZE}x{NATURE_MIN_SIZE}. Use "
                f"{set_hint('encoders', spec.key, 'small')} (3x3 convs, any size) or "
                f"'impala', or resize the frames (make_multimodal's image_size=)."
            )
        trunk = nn.Sequential(
            nn.Conv2d(channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
        )
        self._attach_trunk(trunk, map_channels=64)


@register_encoder(IMAGE, "small")
class SmallImageEncoder(_TrunkAndHeadEncoder):
    """For small views (what the ``nature`` CNN cannot read, e.g. 7x7): 3x3 convolutions with
    padding 1; each after the first halves the map (stride 2) while its side is above
    :data:`SMALL_MAX_MAP_SIDE`, so a 7x7 view keeps one position per pixel and a 35x35 one ends
    at 9x9. Chosen by default for images smaller than 36x36.

    :param spec: the image key.
    :param features_dim: output width.
    :param channels: output channels of each 3x3 convolution.
    """

    def __init__(
        self, spec: ModalitySpec, features_dim: int = 256, channels: Sequence[int] = (32, 64, 64)
    ) -> None:
        super().__init__(spec, features_dim)
        if not channels:
            raise ValueError(f"small encoder for {spec.key!r} needs at least one conv channel.")
        in_channels, height, width = spec.shape
        side = min(height, width)
        layers: list[nn.Module] = []
        for index, out_channels in enumerate(channels):
            stride = 2 if index > 0 and side > SMALL_MAX_MAP_SIDE else 1
            side = (side - 1) // stride + 1
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self._attach_trunk(nn.Sequential(*layers), map_channels=in_channels)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class _ConvSequence(nn.Sequential):
    """Conv → 3x3/2 max-pool (halves H and W) → two residual blocks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            _ResidualBlock(out_channels),
            _ResidualBlock(out_channels),
        )


@register_encoder(IMAGE, "impala")
class ImpalaImageEncoder(_TrunkAndHeadEncoder):
    """The residual CNN of Espeholt et al. (2018), IMPALA: one conv sequence per entry of
    ``channels``, each halving the resolution; any input size.

    :param spec: the image key.
    :param features_dim: output width.
    :param channels: output channels of each conv sequence.
    """

    def __init__(
        self, spec: ModalitySpec, features_dim: int = 256, channels: Sequence[int] = (16, 32, 32)
    ) -> None:
        super().__init__(spec, features_dim)
        if not channels:
            raise ValueError(f"impala encoder for {spec.key!r} needs at least one conv sequence.")
        in_channels = spec.shape[0]
        stages: list[nn.Module] = []
        for out_channels in channels:
            stages.append(_ConvSequence(in_channels, out_channels))
            in_channels = out_channels
        stages.append(nn.ReLU())
        self._attach_trunk(nn.Sequential(*stages), map_channels=in_channels)


@register_encoder(IMAGE, "grid")
class GridImageEncoder(_TrunkAndHeadEncoder):
    """For frames drawn as a grid of equal square cells (grid worlds, board and tile games): a
    convolution whose kernel and stride are one cell reads each cell, then 3x3 convolutions relate
    neighbouring cells. The feature map keeps one position per cell, so what is where stays as
    sharp as the game drew it (the ``nature`` CNN's 8/4 and 4/2 strides blur cells into each
    other), at a fraction of the cost.

    :param spec: the image key.
    :param features_dim: output width.
    :param cell_pixels: side of one cell in pixels; the frame's height and width must be
        multiples of it.
    :param channels: output channels of the cell convolution, then of each 3x3 convolution.
    """

    def __init__(
        self,
        spec: ModalitySpec,
        features_dim: int = 256,
        cell_pixels: int = 8,
        channels: Sequence[int] = (32, 32),
    ) -> None:
        super().__init__(spec, features_dim)
        in_channels, height, width = spec.shape
        if isinstance(cell_pixels, bool) or not isinstance(cell_pixels, int) or cell_pixels < 1:
            raise ValueError(
                f"grid encoder for {spec.key!r}: cell_pixels must be a positive int, "
                f"got {cell_pixels!r}."
            )
        if height % cell_pixels or width % cell_pixels:
            raise ValueError(
                f"image {spec.key!r} is {height}x{width}, not a whole number of "
                f"{cell_pixels}-pixel cells; set "
                f"{set_hint('encoder_kwargs', spec.key, {'cell_pixels': 'N'})} to the side of "
                f"the cells the game draws, or make the "
                f"frame a multiple of {cell_pixels} pixels."
            )
        if not channels:
            raise ValueError(f"grid encoder for {spec.key!r} needs at least one channel count.")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels[0], kernel_size=cell_pixels, stride=cell_pixels),
            nn.ReLU(),
        ]
        for previous, current in itertools.pairwise(channels):
            layers += [nn.Conv2d(previous, current, kernel_size=3, padding=1), nn.ReLU()]
        self._attach_trunk(nn.Sequential(*layers), map_channels=channels[-1])
