"""Validation at the config layer: every out-of-range value is a ConfigError naming its key, and
through the CLI every user error is exit status 2 with one line naming it, never a traceback."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from mmagent import cli
from mmagent.cli import build_parser, main
from mmagent.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    check_env_kwargs,
    check_env_kwargs_values,
    choices_of,
    game_keywords,
)
from mmagent.evaluation import evaluate
from mmagent.train import TRAINERS, VEC_ENV_CLASSES

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gamma", 1.5),
        ("gamma", 0.0),
        ("gamma", -0.1),
        ("gamma", NAN),
        ("gae_lambda", -3),
        ("gae_lambda", 1.01),
        ("gae_lambda", NAN),
        ("clip_range", -0.2),
        ("clip_range", 0),
        ("clip_range", INF),
        ("clip_range", "lin_0"),
        ("clip_range", "lin_-0.1"),
        ("learning_rate", -1),
        ("learning_rate", 0),
        ("learning_rate", INF),
        ("learning_rate", NAN),
        ("learning_rate", "lin_-1"),
        ("learning_rate", "lin_inf"),
        ("learning_rate", "lin_nan"),
        ("ent_coef", -0.01),
        ("ent_coef", INF),
        ("vf_coef", -1),
        ("vf_coef", NAN),
        ("max_grad_norm", -1),
        ("max_grad_norm", 0),
        ("max_grad_norm", INF),
        ("n_epochs", 0),
        ("seed", -1),
        ("seed", 2**32),
        ("n_envs", 0),
        ("n_timesteps", 0),
        ("n_steps", -4),
        ("batch_size", 0),
        ("eval_episodes", 0),
        ("final_eval_episodes", 0),
        ("eval_freq", -1),
        ("checkpoint_freq", -1),
        ("video_freq", -1),
        ("step_timeout", 0),
        ("step_timeout", -5.0),
        ("step_timeout", NAN),
        ("start_method", "threads"),
        ("step_timeout", "soon"),
        ("vec_env", "cuda:0"),
        ("trainer", "cuda:1"),
        ("device", "gpu"),
        ("device", "cuda:"),
        ("device", "cuda:-1"),
        ("device", "cpu:0"),
        ("policy", "MultiInputPolcy"),
    ],
)
def test_an_out_of_range_value_is_a_config_error_naming_the_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"config key '{key}' in --set"):
        apply_overrides(TrainConfig(), {key: value}, "--set")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gamma", 1),
        ("gamma", 1e-9),
        ("gae_lambda", 0),
        ("gae_lambda", 1.0),
        ("clip_range", "lin_0.2"),
        ("learning_rate", "lin_3e-4"),
        ("learning_rate", 1),
        ("ent_coef", 0),
        ("vf_coef", 0.0),
        ("seed", 0),
        ("seed", 2**32 - 1),
        ("eval_freq", 0),
        ("step_timeout", None),
        ("step_timeout", 0.5),
        ("start_method", None),
        ("start_method", "spawn"),
        ("device", "cuda:1"),
        ("device", "cpu"),
        ("trainer", "sb3"),
    ],
)
def test_values_at_the_edge_of_the_range_are_accepted(key: str, value: Any) -> None:
    assert getattr(apply_overrides(TrainConfig(), {key: value}, "--set"), key) == value


def test_a_bad_choice_lists_the_choices_and_the_close_match() -> None:
    with pytest.raises(ConfigError, match=r"one of fork, spawn, forkserver, got 'forc'; did you"):
        apply_overrides(TrainConfig(), {"start_method": "forc"}, "--set")
    with pytest.raises(ConfigError, match=r"one of auto, cpu, cuda, cuda:<index>, got 'cuda:x'"):
        apply_overrides(TrainConfig(), {"device": "cuda:x"}, "--set")


def test_the_cli_choices_are_the_config_choices() -> None:
    """One source of truth: argparse's ``choices=`` is the config table's object."""
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    flags = {
        (name, action.dest): action.choices
        for name in ("train", "eval")
        for action in commands.choices[name]._actions
    }
    assert flags[("train", "trainer")] is choices_of("trainer")
    assert flags[("train", "device")] is choices_of("device")
    assert flags[("eval", "device")] is choices_of("device")
    assert "cuda:3" in choices_of("device") and "cuda:3" not in choices_of("trainer")


def test_every_trainer_and_vec_env_choice_has_an_implementation() -> None:
    """A choice the config accepts never reaches train() as a KeyError."""
    assert tuple(TRAINERS) == choices_of("trainer").values
    assert tuple(VEC_ENV_CLASSES) == choices_of("vec_env").values


class FixedGame(gym.Env):
    """A game whose constructor takes exactly ``size``."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, size: int = 3, render_mode: str | None = None) -> None:
        if size < 1:
            raise ValueError(f"size must be 1 or more, got {size}")
        self.size = size


class OpenGame(FixedGame):
    """A game whose constructor takes anything: its keywords cannot be listed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()


def test_env_kwargs_are_checked_against_the_constructor_with_suggestions() -> None:
    spec = f"{__name__}:FixedGame"
    assert game_keywords(spec) == [
        "disable_env_checker",
        "max_episode_steps",
        "render_mode",
        "size",
    ]
    check_env_kwargs(spec, {"size": 4, "max_episode_steps": 5}, "--set")
    with pytest.raises(
        ConfigError, match=r"unknown key 'sise' in env_kwargs .*in --set; did you mean 'size'\?"
    ):
        check_env_kwargs(spec, {"sise": 4}, "--set")
    assert game_keywords(f"{__name__}:OpenGame") is None
    check_env_kwargs(f"{__name__}:OpenGame", {"anything": 1}, "--set")


def test_env_kwargs_the_game_refuses_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"refused by .*FixedGame: ValueError: size must be 1"):
        check_env_kwargs_values(f"{__name__}:FixedGame", {"size": 0}, "the config")
    check_env_kwargs_values(f"{__name__}:FixedGame", {"size": 2}, "the config")


@pytest.mark.parametrize("episodes", [0, -3])
def test_evaluate_refuses_fewer_than_one_episode(episodes: int) -> None:
    with pytest.raises(ValueError, match=f"episodes must be 1 or more, got {episodes}"):
        evaluate(None, "mmagent/CueMatch-v0", episodes=episodes)  # type: ignore[arg-type]


TINY = ["--set", "n_timesteps=64", "--set", "n_steps=8", "--set", "batch_size=8"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seed", "-1"], "'seed'"),
        (["--n-envs", "0"], "'n_envs'"),
        (["--total-timesteps", "-5"], "'n_timesteps'"),
        (["--set", "gamma=1.5"], "'gamma'"),
        (["--set", "gae_lambda=-3"], "'gae_lambda'"),
        (["--set", "clip_range=-0.2"], "'clip_range'"),
        (["--set", "max_grad_norm=-1"], "'max_grad_norm'"),
        (["--set", "learning_rate=.inf"], "'learning_rate'"),
        (["--set", "learning_rate=-1"], "'learning_rate'"),
        (["--set", "vec_env=cuda:0"], "'vec_env'"),
        (["--set", "trainer=cuda:1"], "'trainer'"),
        (["--set", "step_timeout=0"], "'step_timeout'"),
        (["--set", "start_method=threads"], "'start_method'"),
        (["--set", "env_kwargs.image_sise=40"], "did you mean 'image_size'"),
        (["--set", "env_kwargs.n_pads=20"], "n_pads must be an int from 2 to 9"),
        (["--set", "n_envs=[1"], "--set 'n_envs=[1'"),
        (["--resume", "no/such/run"], "no/such/run is not a run directory"),
    ],
)
def test_a_bad_train_value_exits_2_with_one_line_naming_it(
    args: list[str], named: str, tmp_path: Path, capsys
) -> None:
    run_dir = tmp_path / "run"
    extra = [] if "--resume" in args else ["--run-dir", str(run_dir), *TINY]
    assert main(["train", *args, *extra]) == 2
    error = capsys.readouterr().err
    assert named in error and "Traceback" not in error
    assert error.count("\n") == 1 and error.startswith("mmagent train: error: ")
    assert not run_dir.exists()


def test_a_malformed_config_file_is_one_line(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("n_envs: [1,\n")
    assert main(["train", "--config", str(broken), "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert f"config file {broken} is not valid YAML: line 2, column 1" in error
    assert error.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "--device", "cuda:x"], "argument --device: invalid choice: 'cuda:x'"),
        (["train", "--trainer", "cuda:1"], "argument --trainer: invalid choice: 'cuda:1'"),
        (["eval", "run", "--episodes", "0"], "argument --episodes: must be 1 or more, got 0"),
        (["eval", "run", "--episodes", "-3"], "argument --episodes: must be 1 or more, got -3"),
        (["eval", "run", "--seed-base", "-1"], "argument --seed-base: must be 0 or more"),
        (["eval", "run", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (["play", "mmagent/CueMatch-v0", "--seed", "-1"], "argument --seed: must be 0 or more"),
        (["play", "mmagent/CueMatch-v0", "--episodes", "0"], "argument --episodes: must be 1"),
    ],
)
def test_a_bad_flag_exits_2_before_anything_runs(args: list[str], named: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert named in error and "Traceback" not in error


@pytest.mark.parametrize("command", ["train", "play", "eval"])
def test_an_unknown_game_exits_2_with_one_line(command: str, tmp_path: Path, capsys) -> None:
    if command == "eval":
        (tmp_path / "model.zip").write_bytes(b"never read")
        args = ["eval", str(tmp_path), "--env", "mmagent/Nope-v0"]
    else:
        args = [command, "mmagent/Nope-v0"]
    with pytest.raises(SystemExit, match="unknown env id 'mmagent/Nope-v0'") as exit_info:
        main(args)
    assert exit_info.value.code == 2  # as argparse's own errors; a str code would exit 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "registered mmagent games" in error


def test_eval_of_a_missing_or_malformed_run_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["eval", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "model.zip").write_bytes(b"never read")
    (tmp_path / "config.yaml").write_text("env_id: [1,\n")
    assert main(["eval", str(tmp_path), "--episodes", "1"]) == 2
    error = capsys.readouterr().err
    assert "config.yaml is not valid YAML" in error and error.count("\n") == 1


def test_eval_without_a_game_and_resume_with_a_game_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "model.zip").write_bytes(b"never read")
    assert main(["eval", str(tmp_path)]) == 2
    assert "--env" in capsys.readouterr().err
    assert main(["eval", str(tmp_path), "--json", str(tmp_path / "no" / "r.json")]) == 2
    assert "its folder does not exist" in capsys.readouterr().err
    assert main(["train", "mmagent/CueMatch-v0", "--resume", str(tmp_path)]) == 2
    assert "drop ENV_ID/--config/--set" in capsys.readouterr().err


def test_a_bug_keeps_its_traceback(monkeypatch) -> None:
    """Only user errors are folded into one line; anything else propagates."""

    def broken(_: Any) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_games", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["games"])
