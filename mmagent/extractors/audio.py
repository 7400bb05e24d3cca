"""Audio encoders: ``conv1d`` (raw waveform 1-D CNN, default) and ``logmel`` (log-mel spectrogram
front end + 2-D CNN).

Both read canonical ``float (B, C, S)`` waveforms in ``[-1, 1]``. The log-mel front end is plain
torch (``torch.stft`` and a mel filterbank built here, no torchaudio), so it runs on whatever device
the policy is on; its window and filterbank are buffers that move with ``.to(device)``.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from mmagent.extractors.base import Encoder, dry_run_output_shape
from mmagent.extractors.modalities import AUDIO, ModalitySpec
from mmagent.extractors.registry import register_encoder

LOG_OFFSET = 1e-6
"""Added to mel power before the log, so silence gives log(1e-6) ≈ -13.8, not -inf."""
LOG_SHIFT = 7.0
"""The log-mel values are mapped with ``(log_mel + LOG_SHIFT) / LOG_SHIFT``: silence ≈ -1, a
full-scale tone ≈ +1 (power is normalised by the window, see :class:`LogMelSpectrogram`)."""


def hz_to_mel(frequency: torch.Tensor) -> torch.Tensor:
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + frequency / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular HTK mel filters (peak 1, no area normalisation), shape ``(n_freqs, n_mels)``.

    ``n_freqs`` linear-frequency bins cover ``0 .. sample_rate / 2``; filter ``m`` rises from mel
    point ``m`` to ``m + 1`` and falls to ``m + 2``, the ``n_mels + 2`` points evenly spaced in mel
    between ``f_min`` and ``f_max``.
    """
    f_max = sample_rate / 2.0 if f_max is None else f_max
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(
            f"mel filterbank needs 0 <= f_min < f_max <= sample_rate / 2; got f_min={f_min}, "
            f"f_max={f_max}, sample_rate={sample_rate}."
        )
    bin_frequencies = torch.linspace(0.0, sample_rate / 2.0, n_freqs, dtype=torch.float64)
    mel_points = torch.linspace(
        hz_to_mel(torch.tensor(f_min, dtype=torch.float64)).item(),
        hz_to_mel(torch.tensor(f_max, dtype=torch.float64)).item(),
        n_mels + 2,
        dtype=torch.float64,
    )
    hz_points = mel_to_hz(mel_points)
    widths = hz_points[1:] - hz_points[:-1]
    offsets = hz_points.unsqueeze(0) - bin_frequencies.unsqueeze(1)  # (n_freqs, n_mels + 2)
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMelSpectrogram(nn.Module):
    """Waveform ``(B, C, S)`` → normalised log-mel spectrogram ``(B, C, n_mels, frames)``.

    Power spectrum from ``torch.stft`` (Hann window, zero-padded ``center=True`` framing, so any
    ``S`` works), divided by ``sum(window) ** 2`` so a full-scale sine peaks near power 0.25
    whatever ``n_fft``; mel filterbank; ``(log(mel + 1e-6) + 7) / 7``.

    :param sample_rate: samples per second.
    :param n_fft: FFT size (window length) in samples.
    :param hop_length: samples between frames.
    :param n_mels: mel bands.
    :param f_min: lowest filter edge in Hz.
    :param f_max: highest filter edge in Hz (default ``sample_rate / 2``).
    """

    window: torch.Tensor
    filterbank: torch.Tensor

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> None:
        super().__init__()
        if n_fft < 2 or hop_length < 1 or n_mels < 1:
            raise ValueError(
                f"log-mel needs n_fft >= 2, hop_length >= 1, n_mels >= 1; got n_fft={n_fft}, "
                f"hop_length={hop_length}, n_mels={n_mels}."
            )
        self.n_fft = n_fft
        self.hop_length = hop_length
        window = torch.hann_window(n_fft, periodic=True)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer(
            "filterbank",
            mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate, f_min, f_max),
            persistent=False,
        )
        self.power_scale = 1.0 / float(window.sum()) ** 2

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        batch, channels, samples = waveform.shape
        spectrum = torch.stft(
            waveform.reshape(batch * channels, samples),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )  # (B * C, n_freqs, frames)
        power = (spectrum.real.square() + spectrum.imag.square()) * self.power_scale
        # One (B * C * frames, n_freqs) @ (n_freqs, n_mels) product: broadcasting the filterbank
        # over the batch instead runs one small matmul per row, about 10x slower on CPU.
        mel = (power.transpose(1, 2) @ self.filterbank).transpose(1, 2)  # (B * C, n_mels, frames)
        log_mel = (torch.log(mel + LOG_OFFSET) + LOG_SHIFT) / LOG_SHIFT
        return log_mel.reshape(batch, channels, *log_mel.shape[1:])


def minimum_input_length(convs: nn.Sequential) -> int:
    """Fewest samples for which every ``Conv1d`` in ``convs`` yields at least one output step."""
    length = 1
    for layer in reversed(convs):
        if isinstance(layer, nn.Conv1d):
            (kernel,), (stride,) = layer.kernel_size, layer.stride
            padding = cast(tuple[int], layer.padding)[0]  # an int tuple unless "same"/"valid"
            length = max(1, (length - 1) * stride + kernel - 2 * padding)
    return length


@register_encoder(AUDIO, "conv1d")
class Conv1dAudioEncoder(Encoder):
    """Raw-waveform 1-D CNN: four strided convolutions (kernels 16/8/4/4, strides 4/4/4/2, overall
    stride 128), adaptive average pooling to ``pooled_length`` steps, linear layer. Needs at least
    128 samples. About 1 M multiply-adds per sample for 0.1 s of 16 kHz stereo.

    :param spec: the audio key.
    :param features_dim: output width.
    :param channels: output channels of the four convolutions.
    :param pooled_length: time steps kept after pooling.
    """

    def __init__(
        self,
        spec: ModalitySpec,
        features_dim: int = 128,
        channels: tuple[int, int, int, int] = (16, 32, 64, 64),
        pooled_length: int = 8,
    ) -> None:
        super().__init__(spec, features_dim)
        if len(channels) != 4:
            raise ValueError(
                f"conv1d encoder for {spec.key!r}: channels must list 4 widths, got {channels}."
            )
        widths = (spec.shape[0], *channels)
        geometry = ((16, 4, 6), (8, 4, 2), (4, 4, 0), (4, 2, 1))  # (kernel, stride, padding)
        layers: list[nn.Module] = []
        for index, (kernel, stride, padding) in enumerate(geometry):
            layers.append(
                nn.Conv1d(widths[index], widths[index + 1], kernel, stride=stride, padding=padding)
            )
            layers.append(nn.ReLU())
        self.convs = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(pooled_length), nn.Flatten())
        needed = minimum_input_length(self.convs)
        if spec.shape[1] < needed:
            raise ValueError(
                f"audio {spec.key!r} has {spec.shape[1]} samples per step, too short for the "
                f"'conv1d' encoder, which needs at least {needed}. Use encoders="
                f"{{{spec.key!r}: 'logmel'}} (any length) or more samples per step."
            )
        flat_size = dry_run_output_shape(self.convs, spec.shape)[1]
        self.head = nn.Sequential(nn.Linear(flat_size, features_dim), nn.ReLU())

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(waveform))


@register_encoder(AUDIO, "logmel")
class LogMelAudioEncoder(Encoder):
    """Log-mel spectrogram (:class:`LogMelSpectrogram`, channels kept as CNN input channels) →
    three stride-2 3x3 convolutions → adaptive average pooling to 4x4 → linear layer.

    :param spec: the audio key.
    :param features_dim: output width.
    :param sample_rate: samples per second (default: the extractor's ``sample_rate``).
    :param n_fft: FFT window in samples (default: 25 ms at ``sample_rate``).
    :param hop_length: frame step in samples (default: 10 ms at ``sample_rate``).
    :param n_mels: mel bands.
    :param f_min: lowest mel filter edge in Hz.
    :param f_max: highest mel filter edge in Hz (default ``sample_rate / 2``).
    """

    def __init__(
        self,
        spec: ModalitySpec,
        features_dim: int = 128,
        sample_rate: int | None = None,
        n_fft: int | None = None,
        hop_length: int | None = None,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
    ) -> None:
        super().__init__(spec, features_dim)
        sample_rate = spec.sample_rate if sample_rate is None else sample_rate
        n_fft = math.ceil(0.025 * sample_rate) if n_fft is None else n_fft
        hop_length = math.ceil(0.010 * sample_rate) if hop_length is None else hop_length
        self.front_end = LogMelSpectrogram(sample_rate, n_fft, hop_length, n_mels, f_min, f_max)
        self.convs = nn.Sequential(
            nn.Conv2d(spec.shape[0], 32, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((4, 4)),
            nn.Flatten(),
        )
        flat_size = dry_run_output_shape(nn.Sequential(self.front_end, self.convs), spec.shape)[1]
        self.head = nn.Sequential(nn.Linear(flat_size, features_dim), nn.ReLU())

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(self.front_end(waveform)))
