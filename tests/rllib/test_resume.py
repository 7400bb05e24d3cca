"""``mmagent train --resume`` on an RLlib run: the newest checkpoint that restores (a corrupt one
skipped and named), or the one ``--checkpoint`` names; the step counter, the learning-rate
schedule, the evaluation schedule and the best score continue."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("ray")

from mmagent.cli import main
from mmagent.rllib.train import (
    checkpoint_dir,
    list_rllib_checkpoints,
    remove_stale_checkpoint_folders,
)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.filterwarnings("ignore")
def test_resume_continues_the_counter_schedules_and_weights(
    tiny_rllib_run: Path, tmp_path, capsys
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_rllib_run, run_dir)
    first = _weights(run_dir / "model.pt")
    best_before = json.loads((run_dir / "best_model.json").read_text())
    assert [path.name for path in list_rllib_checkpoints(run_dir)] == [
        "step_000000000256",
        "step_000000000128",
    ]

    # resumed at its own budget: nothing to train, and model.pt is the checkpoint's weights,
    # restored (a fresh module would have other, random ones)
    refused = main(["train", "--resume", str(run_dir), "--total-timesteps", "384"])
    assert refused == 2 and "pickle files" in capsys.readouterr().err  # nothing resumed
    resume = ["train", "--resume", str(run_dir), "--no-progress-bar", "--trust-model"]
    assert main([*resume, "--checkpoint", "step_000000000256"]) == 0
    assert "from step_000000000256 at 256 steps" in capsys.readouterr().out
    restored = _weights(run_dir / "model.pt")
    assert all(torch.equal(first[key], restored[key]) for key in first)

    # a chosen checkpoint that is corrupt is an error naming it
    newest = checkpoint_dir(run_dir, 256)
    state = newest / "algorithm_state.pkl"
    state.write_bytes(state.read_bytes()[:40])  # cut short, as by a full disk
    assert main([*resume, "--total-timesteps", "384", "--checkpoint", str(newest)]) == 2
    error = capsys.readouterr().err
    assert f"{newest} is corrupt" in error and "Traceback" not in error

    # without --checkpoint it is skipped and named; the run continues from 128 steps to 384
    assert main([*resume, "--total-timesteps", "384"]) == 0
    captured = capsys.readouterr()
    assert f"skipping corrupt checkpoint {newest}" in captured.err
    assert "from step_000000000128 at 128 steps" in captured.out

    progress = _rows(run_dir / "logs" / "progress.csv")
    steps = [int(row["timesteps"]) for row in progress]
    assert steps[:2] == [128, 256]  # the first run's rows, kept
    resumed = steps[2:]
    assert len(resumed) == 2 and 256 <= resumed[0] < 384 <= resumed[1] < 384 + 16
    assert [row["iteration"] for row in progress[2:]] == ["2", "3"]  # RLlib's counter, too
    # lin_0.001 on the new budget, at the restored counter (not restarted at 0, not the old
    # budget's schedule, whose rate was 0 from 256 steps on)
    for row, step in zip(progress[2:], resumed, strict=True):
        assert float(row["train/learning_rate"]) == pytest.approx(
            max(0.0, 0.001 * (1 - step / 384)), abs=1e-6
        )
    assert float(progress[2]["train/learning_rate"]) > 0.0

    # evaluations and checkpoints at the next multiples of 128 after the restored 128 steps
    evaluated = [int(row["timesteps"]) for row in _rows(run_dir / "evaluations.csv")]
    assert evaluated == [128, 256, *resumed]
    assert [path.name for path in list_rllib_checkpoints(run_dir)] == [
        f"step_{step:012d}" for step in sorted({*resumed, 256, 128}, reverse=True)
    ]  # the corrupt one is left as it is, unless the resumed run saved one at 256 steps
    assert (checkpoint_dir(run_dir, resumed[0]) / "algorithm_state.pkl").stat().st_size > 40
    best = json.loads((run_dir / "best_model.json").read_text())
    rates = [float(row["success_rate"]) for row in _rows(run_dir / "evaluations.csv")]
    assert best["success_rate"] == max(rates) >= best_before["success_rate"]

    report = json.loads((run_dir / "eval.json").read_text())
    assert report["timesteps"] == resumed[1]
    moved = _weights(run_dir / "model.pt")
    assert any(not torch.equal(first[key], moved[key]) for key in first)  # it trained on


@pytest.mark.filterwarnings("ignore")
def test_nothing_to_resume_is_an_error_naming_the_folder(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("env_id: mmagent/CueMatch-v0\nbackend: rllib\n")
    assert main(["train", "--resume", str(run_dir), "--trust-model"]) == 2
    error = capsys.readouterr().err
    assert f"nothing to resume in {run_dir}: no {run_dir / 'checkpoints'}/step_*/" in error


def test_checkpoint_folders_newest_first_and_stale_saves_removed(tmp_path) -> None:
    folder = tmp_path / "checkpoints"
    for name in ("step_000000000128", "step_000000001024", "step_000000000256"):
        (folder / name).mkdir(parents=True)
    stale = [folder / ".step_000000000384.k3j_x1.tmp", folder / ".step_000000000256.old"]
    for path in stale:
        (path / "learner_group").mkdir(parents=True)
    (folder / "notes.txt").write_text("not a checkpoint")
    assert remove_stale_checkpoint_folders(tmp_path) == sorted(stale)
    assert not any(path.exists() for path in stale)
    assert [path.name for path in list_rllib_checkpoints(tmp_path)] == [
        "step_000000001024",
        "step_000000000256",
        "step_000000000128",
    ]
