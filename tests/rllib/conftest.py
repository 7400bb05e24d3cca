"""A tiny RLlib run trained once for the tests that resume, watch and record it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray")

TINY_SETTINGS = [
    "env_kwargs.image_size=16",
    "env_kwargs.sample_rate=8000",
    "policy_kwargs.features_extractor_kwargs.sample_rate=8000",
    "policy_kwargs.features_extractor_kwargs.encoder_kwargs.image.features_dim=32",
    "n_envs=2",
    "n_steps=64",
    "batch_size=64",
    "n_epochs=1",
    "learning_rate=lin_0.001",
    "eval_freq=128",
    "eval_episodes=2",
    "final_eval_episodes=2",
    "checkpoint_freq=128",
    "progress_bar=false",
]
"""A CueMatch run of 128-step rollouts: 16-pixel frames, 8 kHz audio, a small image encoder."""


@pytest.fixture(scope="session")
def tiny_rllib_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 256-step RLlib run (checkpoints and evaluations at 128 and 256 steps). Tests
    that change it work on a copy."""
    from mmagent.config import resolve_config
    from mmagent.train import train

    run_dir = tmp_path_factory.mktemp("rllib") / "run"
    settings = ["backend=rllib", "n_timesteps=256", *TINY_SETTINGS]
    result = train(resolve_config("mmagent/CueMatch-v0", None, settings), run_dir)
    assert 256 <= result.timesteps < 256 + 16 and not result.interrupted
    return run_dir
