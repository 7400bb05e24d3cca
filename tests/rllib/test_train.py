"""``backend: rllib`` trains on a local Ray and leaves an SB3-like run directory."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("ray")

from mmagent.cli import main
from mmagent.config import load_config

TINY = [
    "env_kwargs.image_size=16",
    "env_kwargs.sample_rate=8000",
    "policy_kwargs.features_extractor_kwargs.sample_rate=8000",
    "policy_kwargs.features_extractor_kwargs.encoder_kwargs.image.features_dim=32",
    "n_steps=64",
    "batch_size=64",
    "n_epochs=1",
    "learning_rate=lin_0.001",
    "eval_freq=128",
    "eval_episodes=3",
    "final_eval_episodes=4",
    "checkpoint_freq=128",
]


@pytest.mark.filterwarnings("ignore")
def test_tiny_rllib_run_writes_checkpoints_and_eval_json(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    arguments = ["train", "mmagent/CueMatch-v0", "--backend", "rllib", "--n-envs", "2"]
    arguments += ["--total-timesteps", "256", "--run-dir", str(run_dir)]
    for assignment in TINY:
        arguments += ["--set", assignment]
    assert main(arguments) == 0

    config = load_config(run_dir / "config.yaml")
    assert config.backend == "rllib"
    with (run_dir / "logs" / "progress.csv").open() as handle:
        progress = list(csv.DictReader(handle))
    # RLlib samples at least n_steps × n_envs = 128 steps per iteration (an env step or so more
    # when episodes end mid-rollout): two iterations reach the 256 asked for
    steps = [int(row["timesteps"]) for row in progress]
    assert len(steps) == 2 and 128 <= steps[0] < 256 <= steps[1] < 256 + 16
    checkpoints = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
    assert checkpoints == [f"step_{step:012d}" for step in steps]  # checkpoint_freq 128
    assert (run_dir / "checkpoints" / checkpoints[-1] / "rllib_checkpoint.json").is_file()
    assert not list(run_dir.glob("**/*.tmp"))  # atomic saves leave no temporary folder
    assert (run_dir / "model.pt").is_file()
    assert (run_dir / "best_model.pt").is_file()
    best = json.loads((run_dir / "best_model.json").read_text())
    with (run_dir / "evaluations.csv").open() as handle:
        evaluations = list(csv.DictReader(handle))
    assert [int(row["timesteps"]) for row in evaluations] == steps  # eval_freq 128
    assert best["success_rate"] == max(float(row["success_rate"]) for row in evaluations)
    assert all(row["train/policy_loss"] not in ("", "nan") for row in progress)
    rates = [float(row["train/learning_rate"]) for row in progress]
    assert 0.0 <= rates[1] < rates[0] <= 0.001  # lin_0.001 decays towards 0 at n_timesteps

    report = json.loads((run_dir / "eval.json").read_text())
    assert report["episodes"] == 4
    assert report["timesteps"] == steps[-1]
    assert 0.0 <= report["success_rate"] <= 1.0
    assert report["success_reported"] is True
    assert "final evaluation: mmagent/CueMatch-v0: success" in capsys.readouterr().out

    # `mmagent eval RUN_DIR` restores model.pt and repeats the final evaluation exactly
    again = tmp_path / "again.json"
    assert main(["eval", str(run_dir), "--episodes", "4", "--json", str(again)]) == 0
    repeated = json.loads(again.read_text())
    for key in ("success_rate", "mean_return", "mean_length", "seeds", "endings"):
        assert repeated[key] == report[key], key
    ablated = tmp_path / "ablated.json"
    assert (
        main(["eval", str(run_dir), "--episodes", "2", "--ablate", "audio", "--json", str(ablated)])
        == 0
    )
    assert json.loads(ablated.read_text())["ablated"] == ["audio"]


@pytest.mark.filterwarnings("ignore")
def test_env_runner_actors_make_plugin_games(tmp_path) -> None:
    """A Ray actor steps the envs, and makes a ``module:ID`` game through mmagent's registry."""
    from mmagent.config import resolve_config
    from mmagent.train import train

    env_id = "examples.sonar_dig:examples/SonarDig-v0"
    settings = ["backend=rllib", "num_env_runners=1", "n_envs=2", "n_timesteps=128", "n_steps=64"]
    settings += ["batch_size=64", "n_epochs=1", "eval_freq=0", "checkpoint_freq=0"]
    settings += ["final_eval_episodes=2", "progress_bar=false"]
    result = train(resolve_config(env_id, None, settings), tmp_path / "run")
    assert 128 <= result.timesteps < 128 + 16
    assert result.evaluation is not None and result.evaluation.env_id == env_id
    with (tmp_path / "run" / "logs" / "progress.csv").open() as handle:
        assert [int(row["timesteps"]) for row in csv.DictReader(handle)] == [result.timesteps]
