"""Encoder shapes across the supported input range, padding handling, and the log-mel front end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from mmagent.extractors import (
    BagOfEmbeddingsTextEncoder,
    GridImageEncoder,
    GRUTextEncoder,
    ImpalaImageEncoder,
    LogMelSpectrogram,
    NatureImageEncoder,
    TransformerTextEncoder,
    mel_filterbank,
)
from mmagent.extractors.audio import hz_to_mel, mel_to_hz
from mmagent.extractors.modalities import build_spec


@pytest.mark.parametrize("encoder_class", [NatureImageEncoder, ImpalaImageEncoder])
@pytest.mark.parametrize(
    "shape", [(36, 36, 3), (3, 37, 53), (64, 64, 1), (96, 72, 4), (12, 48, 48), (256, 256, 3)]
)
def test_image_encoders_accept_sizes_36_to_256_and_any_channels(encoder_class, shape) -> None:
    spec = build_spec("image", "image", spaces.Box(0, 255, shape, np.uint8))
    encoder = encoder_class(spec, features_dim=32)
    images = torch.randint(0, 256, (2, *shape), dtype=torch.uint8)
    with torch.no_grad():
        features = encoder(spec.to_canonical(images))
    assert features.shape == (2, 32)
    assert encoder.feature_map(spec.to_canonical(images)).shape[1] == encoder.map_channels


@pytest.mark.parametrize(
    "encoder_class", [GRUTextEncoder, BagOfEmbeddingsTextEncoder, TransformerTextEncoder]
)
def test_text_encoders_ignore_padding(encoder_class) -> None:
    spec = build_spec("text", "text", spaces.Box(0, 29, (8,), np.int64))
    encoder = encoder_class(spec, features_dim=16).eval()
    tokens = torch.tensor([[5, 9, 1, 0, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0], [0] * 8])
    with torch.no_grad():
        padded = encoder(tokens)
        # The same instruction with a shorter padding tail (in a shorter space) encodes the same.
        short_spec = build_spec("text", "text", spaces.Box(0, 29, (3,), np.int64))
        short = encoder_class(short_spec, features_dim=16).eval()
        short.load_state_dict(
            {
                name: (value[:3] if name == "positions" else value)
                for name, value in encoder.state_dict().items()
            }
        )
        torch.testing.assert_close(short(tokens[:2, :3]), padded[:2])
        # A changed token changes the features; the all-padding row is finite.
        changed = tokens.clone()
        changed[0, 1] = 11
        assert not torch.allclose(encoder(changed)[0], padded[0])
        assert torch.isfinite(padded[2]).all()


def test_mel_scale_round_trip_and_filterbank_layout() -> None:
    frequencies = torch.tensor([0.0, 440.0, 1000.0, 8000.0], dtype=torch.float64)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(frequencies)), frequencies)
    assert hz_to_mel(torch.tensor(1000.0)).item() == pytest.approx(999.99, abs=0.1)
    bank = mel_filterbank(n_freqs=201, n_mels=64, sample_rate=16000)
    assert bank.shape == (201, 64)
    assert bank.min() >= 0 and bank.max() <= 1
    assert (bank.sum(dim=0) > 0).all(), "every mel filter covers at least one FFT bin"
    peaks = bank.argmax(dim=0)
    assert (peaks[1:] >= peaks[:-1]).all(), "filter centres rise with the mel index"


@pytest.mark.parametrize("frequency", [300.0, 1000.0, 4000.0])
def test_log_mel_puts_a_tone_in_the_mel_band_of_its_frequency(frequency) -> None:
    sample_rate, n_mels = 16000, 40
    front_end = LogMelSpectrogram(sample_rate, n_fft=400, hop_length=160, n_mels=n_mels)
    time = torch.arange(1600) / sample_rate
    tone = torch.sin(2 * math.pi * frequency * time)
    stereo = torch.stack([tone, 0.0 * tone])[None]  # (1, 2, 1600): left tone, right silence
    log_mel = front_end(stereo)
    assert log_mel.shape == (1, 2, n_mels, 1 + 1600 // 160)
    loudest_band = log_mel[0, 0, :, 5].argmax().item()
    mel_points = torch.linspace(0, hz_to_mel(torch.tensor(8000.0)).item(), n_mels + 2)
    centre = mel_to_hz(mel_points[1:-1])
    assert abs(loudest_band - (centre - frequency).abs().argmin().item()) <= 1
    assert log_mel[0, 0].max().item() == pytest.approx(1.0, abs=0.3), "full-scale tone near +1"
    assert log_mel[0, 1].max().item() == pytest.approx(-1.0, abs=0.05), "silence near -1"


def test_log_mel_buffers_follow_the_module_device_and_dtype() -> None:
    front_end = LogMelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=16)
    names = {name for name, _ in front_end.named_buffers()}
    assert names == {"window", "filterbank"}
    assert front_end.state_dict() == {}, "derived buffers are not saved in checkpoints"
    if torch.cuda.is_available():
        front_end = front_end.cuda()
        assert front_end(torch.zeros(1, 1, 400, device="cuda")).is_cuda


@pytest.mark.parametrize(
    ("shape", "cell_pixels", "grid"),
    [((63, 63, 3), 7, (9, 9)), ((3, 48, 32), 8, (6, 4)), ((10, 10, 1), 1, (10, 10))],
)
def test_grid_encoder_keeps_one_feature_map_position_per_cell(shape, cell_pixels, grid) -> None:
    spec = build_spec("image", "image", spaces.Box(0, 255, shape, np.uint8))
    encoder = GridImageEncoder(spec, features_dim=16, cell_pixels=cell_pixels)
    images = spec.to_canonical(torch.randint(0, 256, (2, *shape), dtype=torch.uint8))
    with torch.no_grad():
        feature_map = encoder.feature_map(images)
        features = encoder(images)
    assert feature_map.shape == (2, encoder.map_channels, *grid)
    assert features.shape == (2, 16)


def test_grid_encoder_reads_each_cell_on_its_own() -> None:
    """With the cell convolution alone, repainting one cell changes only that cell's features."""
    spec = build_spec("image", "image", spaces.Box(0, 255, (3, 35, 35), np.uint8))
    encoder = GridImageEncoder(spec, features_dim=8, cell_pixels=7, channels=(16,))
    image = torch.rand(1, 3, 35, 35)
    repainted = image.clone()
    repainted[:, :, 14:21, 7:14] = torch.rand(1, 3, 7, 7)  # the cell in row 2, column 1
    with torch.no_grad():
        changed = (encoder.feature_map(image) - encoder.feature_map(repainted)).abs().sum(dim=1)
    assert changed[0, 2, 1] > 0
    changed[0, 2, 1] = 0
    assert torch.count_nonzero(changed) == 0
