"""The scripts run as a user runs them, with tiny budgets."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envs import GAME_IDS
from mmagent.config import resolve_config

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def _run(*args: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_bench_env_prints_every_game_and_writes_json(tmp_path) -> None:
    out = tmp_path / "bench.json"
    printed = _run(str(SCRIPTS / "bench_env.py"), "--steps", "300", "--json", str(out))
    figures = json.loads(out.read_text())["games"]
    assert set(figures) == set(GAME_IDS)
    for game_id, numbers in figures.items():
        assert game_id in printed and numbers["median_step_us"] > 0


def test_baselines_prints_oracle_and_random_rates() -> None:
    printed = _run(str(SCRIPTS / "baselines.py"), "--episodes", "20", "--games", GAME_IDS[0])
    assert "100.0%" in printed  # the oracle wins every episode


@pytest.mark.parametrize("variants", [["fused", "no-audio"]])
def test_ablate_trains_variants_and_writes_the_results_page(tmp_path, variants) -> None:
    tiny = ["n_envs=2", "n_steps=16", "batch_size=32", "n_epochs=1", "eval_freq=0"]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "CueMatch-v0.notes.md").write_text("Why the game looks like this.\n")
    (tmp_path / "results" / "Beacon-v0.notes.md").write_text("Why it is not measured.\n")
    # another script's figures beside the tables' JSON are left out of the page
    (tmp_path / "results" / "soak-1m.json").write_text('{"runs": []}')
    _run(
        str(SCRIPTS / "ablate.py"),
        "mmagent/CueMatch-v0",
        "--timesteps", "32",
        "--only", *variants,
        "--set", *tiny, "final_eval_episodes=3", "eval_deterministic=false",
        "--runs", str(tmp_path / "runs"),
        "--results", str(tmp_path / "results"),
        "--page", str(tmp_path / "results.md"),
    )  # fmt: skip
    data = json.loads((tmp_path / "results" / "CueMatch-v0.json").read_text())
    assert set(data["variants"]) == set(variants)
    assert data["variants"]["no-audio"][0]["episodes"] == 3
    page = (tmp_path / "results.md").read_text()
    assert "| no-audio | 0 | fast | 32 | sampled (greedy " in page and "points" in page
    no_audio = data["variants"]["no-audio"][0]
    assert sum(no_audio["endings"].values()) == 3
    assert ", ".join(f"{e} {n}" for e, n in no_audio["endings"].items()) in page
    # the greedy figure beside the sampled one is an evaluation of its own, kept in the run
    run_dir = tmp_path / "runs/CueMatch-v0/no-audio/seed0"
    greedy = json.loads((run_dir / "eval-greedy.json").read_text())
    assert greedy["deterministic"] and greedy["episodes"] == 3
    _greedy_figure_is_reused_until_the_model_changes(run_dir, [*tiny, "final_eval_episodes=3"])

    # a run without its final evaluation (interrupted) is resumed, not started again
    for name in ("eval.json", "model.zip"):
        (tmp_path / "runs/CueMatch-v0/fused/seed0" / name).unlink()
    printed = _run(
        str(SCRIPTS / "ablate.py"), "mmagent/CueMatch-v0", "--timesteps", "64", "--only", "fused",
        "--set", *tiny, "final_eval_episodes=3", "eval_deterministic=false",
        "--runs", str(tmp_path / "runs"),
        "--results", str(tmp_path / "results"),
        "--page", str(tmp_path / "results.md"),
    )  # fmt: skip
    assert "resuming mmagent/CueMatch-v0 fused seed 0 to 64 steps" in printed
    data = json.loads((tmp_path / "results" / "CueMatch-v0.json").read_text())
    assert data["variants"]["fused"][0]["timesteps"] == 64
    assert not data["variants"]["no-audio"][0]["deterministic"]
    assert "Why the game looks like this." in page
    assert "| mmagent/CueMatch-v0 | " in page.split("## Summary")[1].split("## mmagent")[0]

    # a run trained with another config is not passed off as this one's
    completed = subprocess.run(
        [
            sys.executable, str(SCRIPTS / "ablate.py"), "mmagent/CueMatch-v0",
            "--timesteps", "64", "--only", "fused",
            "--set", *tiny, "final_eval_episodes=3", "eval_deterministic=false", "ent_coef=0.5",
            "--runs", str(tmp_path / "runs"),
            "--results", str(tmp_path / "results"),
            "--page", str(tmp_path / "results.md"),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "ent_coef: 0.01 there, 0.5 now" in completed.stderr
    assert "--force" in completed.stderr
    unmeasured = page.split("## mmagent/Beacon-v0")[1]
    assert "Not measured yet." in unmeasured and "Why it is not measured." in unmeasured


def _reports(*rates: float) -> list[dict]:
    return [{"seed": seed, "success_rate": rate} for seed, rate in enumerate(rates)]


def test_the_summary_row_says_whether_each_target_is_met() -> None:
    ablate = _load_ablate()
    measured = {
        "game": "g",
        "variants": {
            "fused": _reports(0.96, 0.94),
            "no-image": _reports(0.65),  # 30 points below the fused mean (95%): enough
            "no-text": _reports(0.64),
            "no-audio": _reports(0.70),  # 25 below: not enough
            "fusion-concat": _reports(0.80),
        },
    }
    assert ablate.summary_row(measured) == (
        "| g | 96%, 94% | 1 of 2 seeds | no-image 65% (-30), no-text 64% (-31), "
        "no-audio 70% (-25) | no | concat 80% |"
    )
    measured["variants"]["no-audio"] = _reports(0.60)
    measured["variants"]["fused"] = _reports(0.96, 0.95)
    assert "| 96%, 95% | yes |" in ablate.summary_row(measured)
    assert "| yes | concat 80% |" in ablate.summary_row(measured)
    partial = {"game": "g", "variants": {"fused": _reports(0.90), "no-text": _reports(0.5)}}
    assert ablate.summary_row(partial) == (
        "| g | 90% | no | no-text 50% (-40) | 1 of 3 measured | — |"
    )


def _load_ablate():
    spec = importlib.util.spec_from_file_location("ablate", SCRIPTS / "ablate.py")
    assert spec is not None and spec.loader is not None
    ablate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablate)
    return ablate


def test_fusion_variants_drop_the_options_of_the_configs_own_fusion() -> None:
    from mmagent.config import resolve_config
    from mmagent.extractors import FUSION_NAMES
    from mmagent.train import build_model, make_env

    ablate = _load_ablate()
    film = [
        "policy_kwargs.features_extractor_kwargs.fusion=film",
        "policy_kwargs.features_extractor_kwargs.fusion_kwargs={num_blocks: 1}",
    ]
    game_config = resolve_config("mmagent/CueMatch-v0", None, film)
    chosen = ablate.variants(game_config, with_masks=False, with_fusions=True)
    assert set(chosen) == {"fused", *(f"fusion-{fusion}" for fusion in FUSION_NAMES)}
    assert chosen["fusion-film"] == chosen["fused"] == []  # the fused agent itself
    for fusion in set(FUSION_NAMES) - {"film"}:
        config = resolve_config("mmagent/CueMatch-v0", None, [*film, *chosen[f"fusion-{fusion}"]])
        extractor_kwargs = config.policy_kwargs["features_extractor_kwargs"]
        assert extractor_kwargs["fusion"] == fusion and extractor_kwargs["fusion_kwargs"] is None
        one_env = dataclasses.replace(config, n_envs=1, n_steps=16, batch_size=16, device="cpu")
        env = make_env(one_env)
        build_model(one_env, env)  # no film option reaches another fusion
        env.close()


def test_a_recurrent_games_masked_variants_come_with_the_memoryless_agent() -> None:
    ablate = _load_ablate()
    recall = ablate.variants(
        resolve_config("mmagent/Recall-v0"), with_masks=True, with_fusions=False
    )
    assert recall["memoryless"] == ["algo=ppo"]
    memoryless = resolve_config("mmagent/Recall-v0", None, recall["memoryless"])
    assert memoryless.algo == "ppo" and "lstm_hidden_size" not in memoryless.policy_kwargs
    cue_match = ablate.variants(
        resolve_config("mmagent/CueMatch-v0"), with_masks=True, with_fusions=False
    )
    assert "memoryless" not in cue_match  # its agent has no memory to take away


def _greedy_figure_is_reused_until_the_model_changes(run_dir: Path, overrides: list[str]) -> None:
    ablate = _load_ablate()
    from mmagent.config import resolve_config

    config = resolve_config("mmagent/CueMatch-v0", None, overrides, {})
    stored = run_dir / "eval-greedy.json"
    stored.write_text(json.dumps(json.loads(stored.read_text()) | {"episodes": 999}))
    assert ablate.run_evaluation(run_dir, config, deterministic=True)["episodes"] == 999
    model = run_dir / "model.zip"
    os.utime(model, (stored.stat().st_mtime + 10,) * 2)  # retrained since: evaluate again
    assert ablate.run_evaluation(run_dir, config, deterministic=True)["episodes"] == 3
    assert json.loads(stored.read_text())["episodes"] == 3
    # a report from before reports counted the endings is evaluated again, with them
    trained = run_dir / "eval.json"
    report = json.loads(trained.read_text())
    trained.write_text(json.dumps({k: v for k, v in report.items() if k != "endings"}))
    again = ablate.run_evaluation(run_dir, config, deterministic=False)
    assert again["endings"] == report["endings"] and sum(again["endings"].values()) == 3
    assert json.loads((run_dir / "eval-sampled.json").read_text())["endings"] == report["endings"]


def test_train_script_trains_evaluates_and_saves(tmp_path) -> None:
    model = tmp_path / "agent.zip"
    printed = _run(
        str(SCRIPTS / "train.py"),
        "--total-timesteps", "64",
        "--n-envs", "2",
        "--n-steps", "16",
        "--batch-size", "32",
        "--n-epochs", "1",
        "--eval-episodes", "3",
        "--device", "cpu",
        "--save-path", str(model),
    )  # fmt: skip
    assert "over 3 episodes" in printed and model.is_file()


def test_bench_train_prints_ratios_and_the_learning_check(tmp_path) -> None:
    out = tmp_path / "bench.json"
    printed = _run(
        str(SCRIPTS / "bench_train.py"),
        "--recipes", "mmagent-sb3", "mmagent-fast", "mmagent-fast-bf16",
        "--n-envs", "2", "--n-steps", "16", "--batch-size", "32", "--n-epochs", "1",
        "--rollouts", "1", "--repeats", "1", "--device", "cpu",
        "--learning-steps", "32", "--learning-seeds", "1", "--learning-eval-episodes", "3",
        "--json", str(out),
    )  # fmt: skip
    report = json.loads(out.read_text())
    recipes = {result["recipe"]: result for result in report["recipes"]}
    assert recipes["mmagent-fast"]["trainer"] == "FastPPO"
    assert recipes["mmagent-sb3"]["trainer"] == "PPO"
    assert recipes["mmagent-fast"]["options"] == {"bf16_update": False, "compile_acting": False}
    assert recipes["mmagent-fast-bf16"]["options"]["bf16_update"] is True
    for result in recipes.values():
        assert result["end_to_end"] > 0 and result["peak_rss_mib"] > 0
    assert "vs mmagent-sb3" in printed and "1.00x" in printed
    assert set(report["learning"]["success"]) == {"sb3", "fast"}
    assert "fast - stock" in printed


def test_bench_train_times_the_recurrent_trainers_side_by_side(tmp_path) -> None:
    out = tmp_path / "bench.json"
    printed = _run(
        str(SCRIPTS / "bench_train.py"),
        "--recipes", "mmagent-lstm-sb3", "mmagent-lstm-packed",
        "--n-envs", "2", "--n-steps", "16", "--batch-size", "16", "--n-epochs", "1",
        "--rollouts", "1", "--repeats", "1", "--device", "cpu",
        "--set", "policy_kwargs.lstm_hidden_size=8", "--set", "env_kwargs.image_size=16",
        "--json", str(out),
    )  # fmt: skip
    recipes = {result["recipe"]: result for result in json.loads(out.read_text())["recipes"]}
    assert recipes["mmagent-lstm-sb3"]["trainer"] == "RecurrentPPO"
    assert recipes["mmagent-lstm-packed"]["trainer"] == "PackedRecurrentPPO"
    assert all(result["end_to_end"] > 0 for result in recipes.values())
    assert "vs mmagent-lstm-sb3" in printed


def test_bench_train_reports_a_failed_recipe_and_keeps_its_json(tmp_path) -> None:
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable, str(SCRIPTS / "bench_train.py"), "--game", "mmagent/NoSuchGame-v0",
            "--recipes", "mmagent-fast", "--device", "cpu", "--json", str(out),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 1
    assert "mmagent-fast FAILED" in completed.stdout and "NoSuchGame" in completed.stdout
    assert "failed recipes: mmagent-fast" in completed.stderr
    (failed,) = json.loads(out.read_text())["recipes"]
    assert failed["recipe"] == "mmagent-fast" and "NoSuchGame" in failed["error"]


def test_probe_policy_imitates_the_oracle_and_writes_each_epoch(tmp_path) -> None:
    out = tmp_path / "probe.json"
    printed = _run(
        str(SCRIPTS / "probe_policy.py"), "mmagent/CueMatch-v0",
        "--samples", "64", "--test-samples", "32", "--epochs", "2", "--episodes", "3",
        "--json", str(out),
    )  # fmt: skip
    record = json.loads(out.read_text())
    epochs = record["epochs"]
    assert [entry["epoch"] for entry in epochs] == [1, 2]
    assert all(0.0 <= entry["held_out_agreement"] <= 1.0 for entry in epochs)
    assert "held-out agreement with the oracle" in printed
    # then the imitating policy plays held-out episodes, greedy and sampled
    assert {protocol: play["episodes"] for protocol, play in record["play"].items()} == {
        "greedy": 3,
        "sampled": 3,
    }
    assert record["play"]["greedy"]["deterministic"] is True
    assert record["play"]["sampled"]["deterministic"] is False
    assert printed.count("imitating policy, mmagent/CueMatch-v0: success") == 2


def test_probe_policy_refuses_a_game_without_an_oracle() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "probe_policy.py"), "examples.sonar_dig:SonarDigEnv"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(SCRIPTS.parent)},  # the examples package
    )  # fmt: skip
    assert completed.returncode != 0
    assert "has no oracle_action()" in completed.stderr


def test_bench_time_to_solve_times_both_recipes_to_the_target(tmp_path) -> None:
    out = tmp_path / "tts.json"
    tiny = ["n_envs=2", "n_steps=32", "batch_size=64", "n_epochs=1"]
    printed = _run(
        str(SCRIPTS / "bench_time_to_solve.py"),
        "--seeds", "0",
        "--eval-every", "64", "--eval-episodes", "2", "--final-episodes", "2",
        "--budget-steps", "256", "--target", "0", "--stop-at-target",
        *[item for pair in tiny for item in ("--set", pair)],
        *[item for pair in tiny[1:] for item in ("--sb3-set", pair)],
        "--baseline-n-envs", "1",
        "--json", str(out),
    )  # fmt: skip
    report = json.loads(out.read_text())
    runs = {run["recipe"]: run for run in report["runs"]}
    assert runs["mmagent"]["extractor"] == "MultimodalExtractor"
    assert runs["sb3-default"]["extractor"] == "CombinedExtractor"
    assert (runs["mmagent"]["n_envs"], runs["sb3-default"]["n_envs"]) == (2, 1)
    # the default recipe sees the game's own frames and sound, not the shipped config's formats
    shipped = resolve_config("mmagent/CueMatch-v0").env_kwargs
    assert runs["mmagent"]["env_kwargs"] == shipped
    assert runs["sb3-default"]["env_kwargs"] == {
        key: value for key, value in shipped.items() if key not in ("image_size", "sample_rate")
    }
    for run in runs.values():
        # a target of 0% is reached at the first evaluation, which ends the run
        assert run["reached"] == run["points"][0]
        assert run["steps"] < 256
        # how the held-out episodes ended, as `mmagent eval` counts them
        assert sum(run["final_endings"].values()) == 2
        assert run["final_mean_length"] >= 1
    # the default recipe's time budget is 10x mmagent's median time to the target
    budget = runs["sb3-default"]["seconds_budget"]
    assert budget == pytest.approx(10 * runs["mmagent"]["reached"]["seconds"], rel=1e-3)
    assert "time to target, sb3-default / mmagent:" in printed
    assert {run["algo"] for run in runs.values()} == {"ppo"}
    # a saved report draws its figure again without training
    png = tmp_path / "tts.png"
    _run(str(SCRIPTS / "bench_time_to_solve.py"), "--replot", str(out), "--plot", str(png))
    assert png.read_bytes().startswith(b"\x89PNG")


def test_bench_third_party_compares_at_equal_steps_and_equal_time(tmp_path) -> None:
    out = tmp_path / "third_party.json"
    tiny = ["n_envs=2", "n_steps=32", "batch_size=64", "n_epochs=1"]
    printed = _run(
        str(SCRIPTS / "bench_third_party.py"),
        "--envs", "fetch", "--seeds", "0", "--steps", "128",
        "--eval-every", "64", "--eval-episodes", "2", "--final-episodes", "3",
        *[item for pair in tiny for item in ("--set", pair)],
        "--json", str(out), "--plot", str(tmp_path / "third_party.png"),
    )  # fmt: skip
    assert (tmp_path / "third_party.png").read_bytes().startswith(b"\x89PNG")
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert result["gym_id"] == "MiniGrid-Fetch-5x5-N2-v0" and result["config"]["n_envs"] == 2
    mmagent, flat = result["recipes"]["mmagent"], result["recipes"]["flat-mlp"]
    assert mmagent["extractor"] == "MultimodalExtractor" and mmagent["trainer"] == "FastPPO"
    assert flat["extractor"] == "FlattenExtractor" and flat["trainer"] == "PPO"
    for figures in (mmagent, flat):
        assert figures["equal_steps"]["steps"] == 128
        assert [point["steps"] for point in figures["points"]][:2] == [64, 128]
        assert figures["equal_steps"]["success"] in {0, 1 / 3, 2 / 3, 1}
    # the recipe that trained faster trained on to the other's time, the other did not
    slower, faster = sorted((mmagent, flat), key=lambda f: -f["equal_steps"]["seconds"])
    assert slower["equal_time"] == slower["equal_steps"]
    assert faster["equal_time"]["steps"] >= 128
    assert faster["equal_time"]["seconds"] == pytest.approx(
        slower["equal_steps"]["seconds"], abs=1.0
    )
    assert "fetch median held-out success, equal steps / equal time:" in printed


def test_parity_backends_trains_evaluates_and_reuses_finished_runs(tmp_path) -> None:
    tiny = ["n_envs=2", "n_steps=32", "batch_size=64", "n_epochs=1", "n_timesteps=64"]
    tiny += ["eval_freq=0", "checkpoint_freq=0", "final_eval_episodes=3"]
    command = [
        str(SCRIPTS / "parity_backends.py"),
        "--backends", "sb3", "--seeds", "0", "1",
        "--runs", str(tmp_path / "runs"),
        *[item for pair in tiny for item in ("--set", pair)],
        "--json", str(tmp_path / "parity.json"),
    ]  # fmt: skip
    printed = _run(*command)
    report = json.loads((tmp_path / "parity.json").read_text())
    assert [(run["backend"], run["seed"]) for run in report["runs"]] == [("sb3", 0), ("sb3", 1)]
    for run in report["runs"]:
        assert run["episodes"] == 3 and run["timesteps"] == 64
        assert run["seeds"][0] == 1_000_000  # the held-out seeds
    rates = [run["success_rate"] for run in report["runs"]]
    assert report["summary"]["means"]["sb3"] == pytest.approx(sum(rates) / 2)
    assert "sb3    mean:" in printed
    # a second call reuses the finished runs instead of training them again
    again = _run(*command)
    assert again.count("reusing") == 2 and "training" not in again
