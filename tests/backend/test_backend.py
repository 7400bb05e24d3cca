"""The ``backend`` key without Ray: ``--backend rllib`` names the install, and Ray-only keys are
refused with ``backend: sb3``. (tests/rllib holds the tests that need Ray.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mmagent.cli import build_parser, main
from mmagent.config import ConfigError, TrainConfig, resolve_config
from mmagent.train import train

RAY_INSTALLED = importlib.util.find_spec("ray") is not None


@pytest.mark.skipif(RAY_INSTALLED, reason="Ray is installed: tests/rllib trains with it")
def test_rllib_backend_without_ray_names_the_install(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    arguments = ["train", "mmagent/CueMatch-v0", "--backend", "rllib"]
    arguments += ["--total-timesteps", "64", "--run-dir", str(run_dir)]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("mmagent train: error: backend rllib needs Ray RLlib")
    assert 'pip install "mmagent[ray]"' in error
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("key", "value"), [("num_env_runners", 2), ("address", "auto"), ("num_gpus_per_learner", 1.0)]
)
def test_ray_only_keys_are_refused_with_sb3(tmp_path, key, value) -> None:
    config = TrainConfig(n_envs=1, n_timesteps=8, **{key: value})
    with pytest.raises(ConfigError, match=rf"config key '{key}' .* applies to backend rllib"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_backend_flags_reach_the_config() -> None:
    args = build_parser().parse_args(
        ["train", "--backend", "rllib", "--num-env-runners", "2", "--num-gpus-per-learner", "0.5"]
    )
    flags = {
        "backend": args.backend,
        "num_env_runners": args.num_env_runners,
        "num_gpus_per_learner": args.num_gpus_per_learner,
        "address": args.address,
    }
    config = resolve_config(None, None, None, flags)
    assert (config.backend, config.num_env_runners, config.num_gpus_per_learner) == (
        "rllib",
        2,
        0.5,
    )
    assert config.address is None


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'backend' .* must be one of sb3, rllib"):
        resolve_config(None, None, ["backend=ray"])


def _rllib_run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints" / "step_000000000128").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("env_id: mmagent/CueMatch-v0\nbackend: rllib\n")
    (run_dir / "model.pt").write_bytes(b"weights")
    return run_dir


@pytest.mark.skipif(RAY_INSTALLED, reason="Ray is installed: tests/rllib resumes and watches")
@pytest.mark.parametrize("command", ["watch", "resume"])
def test_an_rllib_run_without_ray_names_the_install(tmp_path, capsys, command) -> None:
    run_dir = _rllib_run_dir(tmp_path)
    if command == "watch":
        arguments = ["watch", str(run_dir), "--record", str(tmp_path / "out.mp4")]
    else:
        arguments = ["train", "--resume", str(run_dir), "--total-timesteps", "256", "--trust-model"]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert "backend rllib needs Ray RLlib" in error and 'pip install "mmagent[ray]"' in error
    assert not (tmp_path / "out.mp4").exists()
    assert (run_dir / "config.yaml").read_text().endswith("backend: rllib\n")  # not rewritten
