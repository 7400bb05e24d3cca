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


def test_parity_script_compares_the_two_backends_on_the_same_seeds(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "parity_backends.py"
    settings = [*TINY, "n_envs=2", "n_timesteps=128", "eval_freq=0", "checkpoint_freq=0"]
    out = tmp_path / "parity.json"
    command = [sys.executable, str(script), "--seeds", "0", "--runs", str(tmp_path / "runs")]
    command += [item for setting in settings for item in ("--set", setting)]
    completed = subprocess.run(
        [*command, "--json", str(out)], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [run["backend"] for run in report["runs"]] == ["sb3", "rllib"]
    assert all(run["episodes"] == 4 and run["seeds"][0] == 1_000_000 for run in report["runs"])
    means = report["summary"]["means"]
    gap = 100 * (means["rllib"] - means["sb3"])
    assert report["summary"]["gap_points"] == pytest.approx(gap)
    assert report["summary"]["within_bound"] == (abs(gap) <= 5)
    assert "rllib - sb3:" in completed.stdout


@pytest.mark.filterwarnings("ignore")
def test_a_game_raising_mid_training_saves_a_checkpoint_and_resume_finishes(
    tmp_path, capsys
) -> None:
    import dataclasses

    from mmagent.rllib.train import list_rllib_checkpoints
    from mmagent.train import train
    from tests.test_emergency_checkpoint import tiny_config

    run_dir = tmp_path / "run"
    config = tiny_config(backend="rllib", device="auto", env_kwargs={"fail_at": 40})
    with pytest.raises(RuntimeError) as caught:
        train(config, run_dir)
    # RLlib re-raises the game's error as a bare RuntimeError from it; both are kept
    assert str(caught.value.__cause__) == "FlakyGame broke at its step 40"
    # iterations of ~16 steps: the checkpoint is as of the last one completed before step 40
    (checkpoint,) = list_rllib_checkpoints(run_dir)
    steps = int(checkpoint.name.removeprefix("step_"))
    assert 40 - 2 * 16 <= steps < 40
    error = capsys.readouterr().err
    assert "(RuntimeError: FlakyGame broke at its step 40); checkpoint as of its last" in error
    assert f"checkpoint as of its last update: {checkpoint}" in error
    assert f"resume with: mmagent train --resume {run_dir} --trust-model" in error

    fixed = dataclasses.replace(config, env_kwargs={})
    result = train(fixed, run_dir, resume=True, trust_model=True)
    assert result.timesteps >= 64 and not result.interrupted
    assert f"from {checkpoint.name} at {steps} steps" in capsys.readouterr().out


def test_progress_is_written_for_tensorboard_too(tiny_rllib_run) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (tiny_rllib_run / "logs").glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    assert "train/entropy" in accumulator.Tags()["scalars"]
    entropy = accumulator.Scalars("train/entropy")
    # one point per RLlib iteration, at the env-step count (two 128-step iterations)
    assert len(entropy) == 2 and 128 <= entropy[0].step < 256 <= entropy[1].step
    assert all(point.value > 0 for point in entropy)


@pytest.mark.filterwarnings("ignore")
def test_sigterm_during_an_iteration_checkpoints_after_it(tmp_path, monkeypatch, capsys) -> None:
    import os
    import signal

    from mmagent.rllib.train import RLlibRun, list_rllib_checkpoints
    from mmagent.train import train
    from tests.test_emergency_checkpoint import tiny_config

    real_step = RLlibRun.step

    def signal_then_step(run: RLlibRun) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # while the iteration's sampling and update run
        real_step(run)

    monkeypatch.setattr(RLlibRun, "step", signal_then_step)
    run_dir = tmp_path / "run"
    result = train(tiny_config(backend="rllib", device="auto"), run_dir)
    assert result.interrupted
    (checkpoint,) = list_rllib_checkpoints(run_dir)
    # the iteration ran to its end and is in the checkpoint
    assert int(checkpoint.name.removeprefix("step_")) == result.timesteps > 0
    assert "stopping when the model update under way ends" in capsys.readouterr().err
