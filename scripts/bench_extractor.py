"""Micro-benchmark of MultimodalExtractor: forward latency and train-step throughput per fusion.

For every fusion (and SB3's own ``CombinedExtractor`` as the baseline, NatureCNN on the image and
the text and audio flattened), it measures

* forward latency (eval mode, no grad) at batch 1, 64 and 1024, and
* train-step throughput at batch 4096: forward + backward + Adam step of the extractor plus a small
  linear head (as PPO's minibatch update), in samples per second,

on observations shaped like the built-in games' (64x64 RGB image, 16 token ids, 0.1 s of 16 kHz
stereo audio), already preprocessed as SB3 hands them to the extractor. Prints a table of medians
and, with ``--json PATH``, writes every figure. Defaults take about two minutes on two CPU cores;
``--quick`` runs each measurement once.

    python scripts/bench_extractor.py                      # cuda if available, else cpu
    python scripts/bench_extractor.py --device cpu --quick --json bench.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import CombinedExtractor
from torch import nn

from mmagent.extractors import FUSION_NAMES, MultimodalExtractor

BASELINE = "sb3-combined"


@dataclass
class BenchConfig:
    """Command-line options (each field's ``help`` is its ``--help`` text)."""

    device: str = field(default="auto", metadata={"help": "auto (cuda when available), cpu, cuda"})
    fusions: list[str] = field(
        default_factory=lambda: list(FUSION_NAMES), metadata={"help": "fusions to measure"}
    )
    forward_batch_sizes: list[int] = field(
        default_factory=lambda: [1, 64, 1024], metadata={"help": "batch sizes for latency"}
    )
    train_batch_size: int = field(default=4096, metadata={"help": "batch size of the train step"})
    repeats: int = field(
        default=0,
        metadata={"help": "timed runs per measurement; 0: by device and batch (fewer on cpu)"},
    )
    quick: bool = field(default=False, metadata={"help": "one timed run per measurement"})
    baseline: bool = field(
        default=True, metadata={"help": f"also measure SB3's CombinedExtractor ({BASELINE})"}
    )
    image_encoder: str = field(default="nature", metadata={"help": "image encoder name"})
    text_encoder: str = field(default="gru", metadata={"help": "text encoder name"})
    audio_encoder: str = field(default="conv1d", metadata={"help": "audio encoder name"})
    image_size: int = field(default=64, metadata={"help": "image height and width"})
    text_length: int = field(default=16, metadata={"help": "tokens per instruction"})
    vocab_size: int = field(default=64, metadata={"help": "token ids 0..vocab_size-1"})
    audio_samples: int = field(default=1600, metadata={"help": "audio samples per channel"})
    audio_channels: int = field(default=2, metadata={"help": "audio channels"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads; 0: torch's default"})
    seed: int = field(default=0, metadata={"help": "torch seed"})
    json: str = field(default="", metadata={"help": "write the results to this JSON file"})


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for option in fields(BenchConfig):
        flag = "--" + option.name.replace("_", "-")
        default = option.default if option.default is not MISSING else option.default_factory()  # type: ignore[misc]
        help_text = f"{option.metadata['help']} (default: {default})"
        if isinstance(default, bool):
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        elif isinstance(default, list):
            parser.add_argument(
                flag, nargs="+", type=type(default[0]), default=default, help=help_text
            )
        else:
            parser.add_argument(flag, type=type(default), default=default, help=help_text)
    config = BenchConfig(**vars(parser.parse_args(argv)))
    unknown = sorted(set(config.fusions) - set(FUSION_NAMES))
    if unknown:
        parser.error(f"unknown fusions {unknown}; choose from {list(FUSION_NAMES)}")
    return config


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch; use --device cpu.")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"--device {name!r}: use auto, cpu or cuda.")
    return torch.device(name)


def observation_space(config: BenchConfig) -> spaces.Dict:
    """As the policy sees it: SB3 has already transposed the frame to channels-first."""
    size = config.image_size
    return spaces.Dict(
        {
            "image": spaces.Box(0, 255, (3, size, size), np.uint8),
            "text": spaces.Box(0, config.vocab_size - 1, (config.text_length,), np.int64),
            "audio": spaces.Box(
                -1.0, 1.0, (config.audio_channels, config.audio_samples), np.float32
            ),
        }
    )


def preprocessed_batch(
    space: spaces.Dict, batch_size: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Random observations as SB3's ``preprocess_obs`` (normalize_images=True) outputs them."""
    image_shape, text_shape, audio_shape = (space[k].shape for k in ("image", "text", "audio"))
    vocab_size = int(space["text"].high.max()) + 1
    return {
        "image": torch.randint(0, 256, (batch_size, *image_shape), device=device).float() / 255.0,
        "text": torch.randint(0, vocab_size, (batch_size, *text_shape), device=device).float(),
        "audio": torch.rand(batch_size, *audio_shape, device=device) * 2.0 - 1.0,
    }


def timed(step: Callable[[], Any], device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Seconds per call of ``step`` (after ``warmup`` untimed calls), synchronising on CUDA."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def repeats_for(config: BenchConfig, device: torch.device, batch_size: int) -> tuple[int, int]:
    """(warmup, timed repeats): fewer for big batches on CPU, where one call takes seconds."""
    if config.quick:
        return 1, 1
    if config.repeats:
        return 2, config.repeats
    if device.type == "cuda":
        return 5, 30
    if batch_size <= 64:
        return 3, 20
    if batch_size <= 1024:
        return 1, 3
    return 1, 2


def build(name: str, space: spaces.Dict, config: BenchConfig) -> nn.Module:
    if name == BASELINE:
        return CombinedExtractor(space)
    return MultimodalExtractor(
        space,
        encoders={
            "image": config.image_encoder,
            "text": config.text_encoder,
            "audio": config.audio_encoder,
        },
        fusion=name,
        sb3_normalize_images=True,
    )


def measure(name: str, config: BenchConfig, device: torch.device) -> dict[str, Any]:
    space = observation_space(config)
    extractor = build(name, space, config).to(device)
    result: dict[str, Any] = {
        "name": name,
        "features_dim": int(extractor.features_dim),  # type: ignore[arg-type]
        "parameters": sum(p.numel() for p in extractor.parameters()),
        "forward_ms": {},
    }
    extractor.eval()
    for batch_size in config.forward_batch_sizes:
        batch = preprocessed_batch(space, batch_size, device)
        warmup, repeats = repeats_for(config, device, batch_size)
        with torch.inference_mode():
            seconds = timed(lambda b=batch: extractor(b), device, warmup, repeats)
        result["forward_ms"][str(batch_size)] = 1000.0 * statistics.median(seconds)

    extractor.train()
    head = nn.Linear(int(extractor.features_dim), 8).to(device)  # type: ignore[arg-type]
    optimizer = torch.optim.Adam([*extractor.parameters(), *head.parameters()], lr=3e-4)
    batch = preprocessed_batch(space, config.train_batch_size, device)

    def train_step() -> None:
        loss = head(extractor(batch)).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    warmup, repeats = repeats_for(config, device, config.train_batch_size)
    seconds = timed(train_step, device, warmup, repeats)
    result["train_step_ms"] = 1000.0 * statistics.median(seconds)
    result["train_samples_per_s"] = config.train_batch_size / statistics.median(seconds)
    return result


def format_table(results: list[dict[str, Any]], config: BenchConfig) -> str:
    baseline = next((r for r in results if r["name"] == BASELINE), None)
    latency_headers = [f"fwd b{b} ms" for b in config.forward_batch_sizes]
    headers = [
        "extractor",
        "params",
        "feat",
        *latency_headers,
        f"train b{config.train_batch_size} ms",
        "train samples/s",
        f"vs {BASELINE}",
    ]
    rows = []
    for result in results:
        ratio = (
            f"{result['train_samples_per_s'] / baseline['train_samples_per_s']:.2f}x"
            if baseline
            else "-"
        )
        rows.append(
            [
                result["name"],
                f"{result['parameters'] / 1e6:.2f}M",
                str(result["features_dim"]),
                *(f"{result['forward_ms'][str(b)]:.2f}" for b in config.forward_batch_sizes),
                f"{result['train_step_ms']:.0f}",
                f"{result['train_samples_per_s']:,.0f}",
                ratio,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def environment(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    config = parse_args(argv)
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    env_info = environment(device)
    print(
        f"device {device}{' (' + env_info['gpu'] + ')' if 'gpu' in env_info else ''}, "
        f"torch {env_info['torch']}, {env_info['cpu_threads']} CPU threads; "
        f"image 3x{config.image_size}x{config.image_size}, text {config.text_length} ids, "
        f"audio {config.audio_channels}x{config.audio_samples}; encoders "
        f"{config.image_encoder}/{config.text_encoder}/{config.audio_encoder}; medians",
        flush=True,
    )
    names = ([BASELINE] if config.baseline else []) + config.fusions
    results = []
    for name in names:
        started = time.perf_counter()
        results.append(measure(name, config, device))
        print(
            f"  measured {name} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    print(format_table(results, config))
    report = {"config": asdict(config), "environment": env_info, "results": results}
    if config.json:
        Path(config.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {config.json}")
    return report


if __name__ == "__main__":
    main()
