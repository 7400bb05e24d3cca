"""A small view through the CLI: the default extractor picks an encoder that fits it, and an
encoder that still cannot read it is a config error giving the ``--set`` to type."""

from __future__ import annotations

import dataclasses
import shlex

import pytest

from mmagent.cli import main
from mmagent.config import ConfigError, resolve_config
from mmagent.train import build_model, make_env

# the shipped config's own encoder options (the small CNN's channels) left out
SMALL_VIEW = ["--set", "env_kwargs.image_size=16"]
SMALL_VIEW += ["--set", "policy_kwargs.features_extractor_kwargs.encoder_kwargs=null"]
TINY = ["--n-envs", "1", "--device", "cpu", "--no-progress-bar", "--set", "n_steps=32"]
TINY += ["--set", "batch_size=32"]


def test_the_default_extractor_reads_a_small_view() -> None:
    config = resolve_config(
        "mmagent/CueMatch-v0",
        assignments=["env_kwargs.image_size=16", "n_envs=1", "n_steps=32", "batch_size=32"],
        flags={"device": "cpu"},
    )
    env = make_env(config)
    try:
        model = build_model(config, env)
    finally:
        env.close()
    assert model.policy.features_extractor.encoder_names["image"] == "small"


def test_an_encoder_too_big_for_the_view_gives_the_set_to_type(tmp_path, capsys) -> None:
    nature = "policy_kwargs.features_extractor_kwargs.encoders.image=nature"
    argv = ["train", "mmagent/CueMatch-v0", *SMALL_VIEW, "--set", nature]
    assert main([*argv, "--run-dir", str(tmp_path / "run"), *TINY]) == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    assert "the 'nature' encoder needs at least 36x36" in error
    fix = "--set policy_kwargs.features_extractor_kwargs.encoders.image=small"
    assert fix in error
    # the printed fix is a valid CLI argument that builds the model
    assignment = shlex.split(fix)[1]
    config = resolve_config(
        "mmagent/CueMatch-v0",
        assignments=[*SMALL_VIEW[1::2], nature, assignment, "n_envs=1"],
        flags={"device": "cpu"},
    )
    env = make_env(config)
    try:
        assert build_model(config, env).policy.features_extractor.encoder_names["image"] == "small"
    finally:
        env.close()


def test_a_policy_error_is_a_config_error_without_policy_kwargs() -> None:
    """train.py converted the policy's error only when policy_kwargs was set; an env whose image
    the extractor cannot read (an ambiguous channel axis) is a config error without it too."""
    config = resolve_config(
        "mmagent/CueMatch-v0",
        assignments=["env_kwargs.image_size=[3, 40]", "n_envs=1", "n_steps=32", "batch_size=32"],
        flags={"device": "cpu"},
    )
    config = dataclasses.replace(config, policy_kwargs={})
    env = make_env(config)
    try:
        with pytest.raises(ConfigError, match=r"for this env's observations.*channels_first"):
            build_model(config, env)
    finally:
        env.close()
