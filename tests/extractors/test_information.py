"""Each modality carries information through the extractor, and masking it removes all of it.

A tiny supervised task per modality: the label (4 classes) is carried only by that modality, the
others are label-free noise. Extractor + linear head must reach >= 95 % held-out accuracy; with
that modality masked, accuracy must drop to chance (25 %) within a margin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from mmagent.extractors import MultimodalExtractor

N_CLASSES = 4
CHANCE = 1.0 / N_CLASSES
IMAGE_SIZE = 36
TEXT_LENGTH = 8
VOCAB_SIZE = 32
AUDIO_SHAPE = (2, 400)
SAMPLE_RATE = 16000
TONE_HZ = (500.0, 1200.0, 2500.0, 4500.0)
COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))

SPACE = spaces.Dict(
    {
        "image": spaces.Box(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8),
        "text": spaces.Box(0, VOCAB_SIZE - 1, (TEXT_LENGTH,), np.int64),
        "audio": spaces.Box(-1.0, 1.0, AUDIO_SHAPE, np.float32),
    }
)


def make_batch(
    carrier: str, size: int, generator: torch.Generator
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Observations whose label is visible only in ``carrier``; the rest is label-free noise."""
    labels = torch.randint(N_CLASSES, (size,), generator=generator)
    noise_labels = torch.randint(N_CLASSES, (size,), generator=generator)
    observation_labels = {key: noise_labels for key in SPACE.spaces}
    observation_labels[carrier] = labels
    observations = {
        "image": _images(observation_labels["image"], generator),
        "text": _texts(observation_labels["text"], generator),
        "audio": _audio(observation_labels["audio"], generator),
    }
    if carrier != "image":  # fully random images for the non-carriers
        observations["image"] = torch.randint(
            0, 256, observations["image"].shape, generator=generator
        ).to(torch.uint8)
    return observations, labels


def _images(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    size = labels.shape[0]
    images = torch.randint(0, 80, (size, IMAGE_SIZE, IMAGE_SIZE, 3), generator=generator)
    corners = torch.randint(0, IMAGE_SIZE - 8, (size, 2), generator=generator)
    for index in range(size):
        top, left = corners[index].tolist()
        images[index, top : top + 8, left : left + 8] = torch.tensor(COLOURS[int(labels[index])])
    return images.to(torch.uint8)


def _texts(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    size = labels.shape[0]
    tokens = torch.randint(2 + N_CLASSES, VOCAB_SIZE, (size, TEXT_LENGTH), generator=generator)
    lengths = torch.randint(2, TEXT_LENGTH + 1, (size,), generator=generator)
    tokens[torch.arange(TEXT_LENGTH) >= lengths[:, None]] = 0
    positions = (torch.rand(size, generator=generator) * lengths).long()
    tokens[torch.arange(size), positions] = 2 + labels
    return tokens


def _audio(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    size = labels.shape[0]
    time = torch.arange(AUDIO_SHAPE[1]) / SAMPLE_RATE
    frequencies = torch.tensor(TONE_HZ)[labels]
    phases = torch.rand(size, 1, generator=generator) * 2 * math.pi
    tone = 0.5 * torch.sin(2 * math.pi * frequencies[:, None] * time + phases)
    noise = 0.1 * torch.randn(size, *AUDIO_SHAPE, generator=generator)
    return (tone[:, None, :] + noise).clamp(-1, 1)


def accuracy(
    model: nn.Module, observations: dict[str, torch.Tensor], labels: torch.Tensor
) -> float:
    model.eval()
    with torch.no_grad():
        return (model(observations).argmax(dim=1) == labels).float().mean().item()


def train_classifier(
    carrier: str, encoders: dict[str, str]
) -> tuple[MultimodalExtractor, nn.Module]:
    generator = torch.Generator().manual_seed(0)
    extractor = MultimodalExtractor(SPACE, encoders=encoders, fusion="concat")
    model = nn.Sequential(extractor, nn.Linear(extractor.features_dim, N_CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    check_observations, check_labels = make_batch(carrier, 256, generator)
    for step in range(400):
        model.train()
        observations, labels = make_batch(carrier, 64, generator)
        loss = nn.functional.cross_entropy(model(observations), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 24 and accuracy(model, check_observations, check_labels) >= 0.99:
            break
    return extractor, model


@pytest.mark.parametrize(
    ("carrier", "encoders"),
    [
        ("image", {"image": "nature"}),
        ("image", {"image": "impala"}),
        ("text", {"text": "gru"}),
        ("text", {"text": "bag"}),
        ("text", {"text": "transformer"}),
        ("audio", {"audio": "conv1d"}),
        ("audio", {"audio": "logmel"}),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value.values()),
)
def test_modality_carries_the_label_and_masking_removes_it(carrier, encoders) -> None:
    extractor, model = train_classifier(carrier, encoders)
    test_observations, test_labels = make_batch(carrier, 512, torch.Generator().manual_seed(1))
    assert accuracy(model, test_observations, test_labels) >= 0.95

    extractor.set_masked_modalities({carrier})
    masked_accuracy = accuracy(model, test_observations, test_labels)
    assert masked_accuracy <= CHANCE + 0.08, masked_accuracy

    # Masking another (label-free) modality leaves the carrier's information intact.
    other = next(key for key in SPACE.spaces if key != carrier)
    extractor.set_masked_modalities({other})
    assert accuracy(model, test_observations, test_labels) >= 0.9
