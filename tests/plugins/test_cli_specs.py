"""The CLI takes a game by class path or by a module in the working directory."""

from __future__ import annotations

import json

from mmagent.cli import main

TINY = [
    "--n-envs", "2",
    "--device", "cpu",
    "--no-progress-bar",
    "--set", "n_steps=16",
    "--set", "batch_size=32",
    "--set", "n_epochs=1",
    "--set", "eval_freq=0",
    "--set", "final_eval_episodes=2",
]  # fmt: skip


def test_train_a_game_class_in_subprocess_envs_then_eval(tmp_path) -> None:
    run_dir = tmp_path / "by_class"
    spec = "examples.sonar_dig:SonarDigEnv"
    args = ["train", spec, "--total-timesteps", "32", "--run-dir", str(run_dir), *TINY]
    assert main([*args, "--set", "vec_env=subproc"]) == 0
    out = tmp_path / "eval.json"
    assert main(["eval", str(run_dir), "--episodes", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["episodes"] == 2


def test_a_module_in_the_working_directory_is_found(tmp_path, monkeypatch) -> None:
    (tmp_path / "my_games.py").write_text(
        "from examples.sonar_dig import SonarDigEnv\n"
        "from mmagent.plugins import register_game\n"
        'register_game("mine/Sonar-v0", SonarDigEnv, width=5)\n'
    )
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "by_module"
    args = ["train", "my_games:mine/Sonar-v0", "--total-timesteps", "32", "--run-dir", str(run_dir)]
    assert main([*args, *TINY]) == 0
    assert (run_dir / "model.zip").is_file()
