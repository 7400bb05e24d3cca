"""Resuming a run: the newest checkpoint that loads (corrupt ones skipped and named), or the one
``--checkpoint`` names; the evaluation schedule and the best score continue; stale temporary
files go; a malformed ``config.yaml`` is an error naming it."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import mmagent.train
from mmagent.checkpoints import (
    CheckpointError,
    RunConfigError,
    checkpoint_path,
    list_checkpoints,
    load_model,
    read_run_config,
    remove_stale_temporary_files,
)
from mmagent.cli import main
from mmagent.config import ConfigError
from mmagent.evaluation import VALIDATION_SEED_BASE, EvaluationReport
from mmagent.train import recorded_best_success, resume_config, train
from tests.test_emergency_checkpoint import tiny_config


@pytest.fixture
def scripted_validation(monkeypatch) -> Iterator[list[float]]:
    """Periodic evaluations score the rates appended to the yielded list, in order (the final
    evaluation is the real one)."""
    rates: list[float] = []
    real_evaluate = mmagent.train.evaluate

    def evaluate(model: Any, env_id: str, **kwargs: Any) -> EvaluationReport:
        if kwargs.get("seed_base") != VALIDATION_SEED_BASE:
            return real_evaluate(model, env_id, **kwargs)
        rate = rates.pop(0)
        return EvaluationReport(env_id, 1, rate, (0.0, 1.0), rate, 4.0, (0, 1), True)

    monkeypatch.setattr(mmagent.train, "evaluate", evaluate)
    yield rates
    assert rates == [], "every scripted evaluation ran"


def _evaluated_at(run_dir: Path) -> list[int]:
    with (run_dir / "evaluations.csv").open(newline="") as handle:
        return [int(row["timesteps"]) for row in csv.DictReader(handle)]


def _best(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "best_model.json").read_text())


def test_resume_keeps_the_schedule_and_a_better_best_model(tmp_path, scripted_validation) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(n_timesteps=64, eval_freq=32)
    scripted_validation += [0.5, 0.8]
    train(config, run_dir)
    best = (run_dir / "best_model.zip").read_bytes()
    assert _best(run_dir) == {"success_rate": 0.8, "timesteps": 64}

    # worse evaluations after the resume leave the better best model alone
    scripted_validation += [0.6, 0.8]
    train(tiny_config(n_timesteps=128, eval_freq=32), run_dir, resume=True)
    assert _evaluated_at(run_dir) == [32, 64, 96, 128]  # not at the resumed run's first step
    assert (run_dir / "best_model.zip").read_bytes() == best
    assert _best(run_dir) == {"success_rate": 0.8, "timesteps": 64}

    # a strictly better one replaces it
    scripted_validation += [0.9]
    train(tiny_config(n_timesteps=160, eval_freq=32), run_dir, resume=True)
    assert _best(run_dir) == {"success_rate": 0.9, "timesteps": 160}
    assert load_model(run_dir / "best_model.zip").num_timesteps == 160


def test_the_best_score_falls_back_on_evaluations_csv(tmp_path) -> None:
    assert recorded_best_success(tmp_path) == -1.0
    (tmp_path / "best_model.zip").write_bytes(b"a model")
    assert recorded_best_success(tmp_path) == -1.0  # no record of its score: any is better
    (tmp_path / "evaluations.csv").write_text(
        "timesteps,success_rate,mean_return,mean_length\n32,0.25,0,4\n64,0.75,0,4\n96,0.5,0,4\n"
    )
    assert recorded_best_success(tmp_path) == 0.75
    (tmp_path / "best_model.json").write_text('{"success_rate": 0.625, "timesteps": 64}')
    assert recorded_best_success(tmp_path) == 0.625


@pytest.fixture
def two_checkpoints(tmp_path) -> Path:
    """A finished run with checkpoints at 32 and 64 steps."""
    run_dir = tmp_path / "run"
    train(tiny_config(n_timesteps=64, checkpoint_freq=32), run_dir)
    assert [path.name for path in list_checkpoints(run_dir)] == [
        "step_000000000064.zip",
        "step_000000000032.zip",
    ]
    return run_dir


def test_a_corrupt_newest_checkpoint_is_skipped_and_named(two_checkpoints: Path, capsys) -> None:
    newest = checkpoint_path(two_checkpoints, 64)
    newest.write_bytes(newest.read_bytes()[:200])  # cut short, as by a full disk
    result = train(tiny_config(n_timesteps=96), two_checkpoints, resume=True)
    captured = capsys.readouterr()
    assert f"skipping corrupt checkpoint {newest}" in captured.err
    assert "from step_000000000032.zip at 32 steps" in captured.out
    assert result.timesteps == 96
    assert load_model(two_checkpoints / "model.zip").num_timesteps == 96


def test_resume_fails_clearly_when_every_checkpoint_is_corrupt(two_checkpoints: Path) -> None:
    for path in list_checkpoints(two_checkpoints):
        path.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="every checkpoint is corrupt"):
        train(tiny_config(n_timesteps=96), two_checkpoints, resume=True)


def test_checkpoint_flag_chooses_where_to_resume(two_checkpoints: Path, capsys) -> None:
    args = ["train", "--resume", str(two_checkpoints), "--total-timesteps", "96"]
    assert main([*args, "--checkpoint", "step_000000000032.zip"]) == 0
    out = capsys.readouterr().out
    assert "from step_000000000032.zip at 32 steps" in out
    assert "1 later checkpoint(s) (step_000000000064.zip the newest)" in out
    assert load_model(two_checkpoints / "model.zip").num_timesteps == 96

    # a chosen checkpoint that is corrupt is an error naming it, not skipped
    chosen = checkpoint_path(two_checkpoints, 32)
    chosen.write_bytes(b"not a zip")
    assert main([*args, "--checkpoint", str(chosen)]) == 2
    error = capsys.readouterr().err
    assert f"{chosen} is corrupt" in error and "Traceback" not in error

    assert main(["train", "--checkpoint", str(chosen), "--run-dir", str(two_checkpoints)]) == 2
    assert "add --resume RUN_DIR" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="names where to resume from"):
        train(tiny_config(), two_checkpoints, checkpoint=chosen)


def test_stale_temporary_files_are_removed_at_the_start(two_checkpoints: Path, capsys) -> None:
    stale = [
        two_checkpoints / "checkpoints" / ".step_000000000096.zip.k3j_x1.tmp",
        two_checkpoints / ".config.yaml.a8f2lq.tmp",
        two_checkpoints / ".best_model.zip.0z9y8x.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a file")
    kept = two_checkpoints / "notes.tmp"  # not a name write_atomically gives its files
    kept.write_text("mine")
    train(tiny_config(n_timesteps=96), two_checkpoints, resume=True)
    assert not any(path.exists() for path in stale)
    assert kept.read_text() == "mine"
    out = capsys.readouterr().out
    assert all(f"removed {path}" in out for path in stale)
    assert remove_stale_temporary_files(two_checkpoints) == []


def test_config_yaml_is_written_atomically_before_training(tmp_path, monkeypatch) -> None:
    written: list[Path] = []
    real_write = mmagent.train.write_atomically

    def recording_write(path, write):
        written.append(Path(path))
        return real_write(path, write)

    monkeypatch.setattr(mmagent.train, "write_atomically", recording_write)
    run_dir = tmp_path / "run"
    train(tiny_config(n_timesteps=16), run_dir)
    assert written[0] == run_dir / "config.yaml"  # before the checkpoints and eval.json
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["n_timesteps"] == 16


def test_a_malformed_config_yaml_is_an_error_naming_it(two_checkpoints: Path, capsys) -> None:
    config_file = two_checkpoints / "config.yaml"
    config_file.write_text("env_id: [unclosed\nn_envs: 1\n")
    with pytest.raises(RunConfigError, match=f"run config {config_file} is not valid YAML"):
        read_run_config(two_checkpoints / "model.zip")
    with pytest.raises(ConfigError, match=f"{config_file} is not valid YAML"):
        resume_config(two_checkpoints)
    assert main(["train", "--resume", str(two_checkpoints)]) == 2
    assert "config.yaml is not valid YAML" in capsys.readouterr().err
    try:
        code = main(["eval", str(two_checkpoints), "--episodes", "1"])
    except SystemExit as exit_:  # the eval command reports some errors by exiting
        code = exit_.code
    message = f"{capsys.readouterr().err}{code}"
    assert code not in (0, None) and f"{config_file} is not valid YAML" in message
    assert "Traceback" not in message

    config_file.write_text("- a list\n- not a mapping\n")
    with pytest.raises(RunConfigError, match="holds a list, not a mapping"):
        read_run_config(two_checkpoints)
