"""Time to solve: wall-clock training time until a game is solved, mmagent's shipped config
against SB3's default recipe, on the same game and machine.

Recipes:

* ``mmagent`` — the game's shipped config (``mmagent/configs/<Game>.yaml``: the multimodal
  extractor, its hyperparameters and trainer), built exactly as ``mmagent train`` builds it;
* ``sb3-default`` — SB3's default recipe: ``PPO("MultiInputPolicy", env)`` (its
  ``CombinedExtractor``) with every PPO hyperparameter at SB3's default, on a ``DummyVecEnv``
  of the same game with the same ``env_kwargs``, except the keys that set the observation's
  format (``image_size``, ``sample_rate``): those are levers of mmagent's recipe, and the
  default recipe sees the game's own frames and sound (SB3's ``NatureCNN`` cannot read frames
  under 36x36). It steps the config's ``n_envs`` unless ``--baseline-n-envs`` says otherwise:
  with SB3's default 2,048 steps per env per rollout, more envs mean fewer, later updates.

Each (recipe, seed) trains in a fresh process. Every ``--eval-every`` env steps (at the first
rollout boundary past each multiple) training pauses and the agent is evaluated on
``--eval-episodes`` validation seeds (from 2,000,000; the game config's greedy or sampled
actions); the training clock excludes those evaluations. A run stops at its step budget, its
time budget, or (``--stop-at-target``) when success first reaches ``--target``. After it, the
agent is evaluated on 100 held-out seeds (from 1,000,000).

``mmagent`` runs first; ``sb3-default`` then gets ``--baseline-time-factor`` (10) times
mmagent's median training time to the target (or to its budget when it missed) and no step
limit, so "the default recipe does not reach 95% within 10x mmagent's time" is measured, not
assumed.

The report gives per run: seconds and env steps until success first reached the target (or
"not reached" with the best success), final held-out success, env-steps/s; per recipe the
medians; and the ratio of the medians, sb3-default / mmagent. JSON with every evaluation
point and how the held-out episodes ended; ``--plot`` draws success against training seconds
for both recipes (a recurrent run, ``--set algo=ppo_lstm``, dashed). ``--replot`` draws
``--plot`` from saved reports instead of training, e.g. runs of two invocations in one figure
(the runs of a report made with ``--set`` are labelled with its file name).

Usage::

    python scripts/bench_time_to_solve.py [--game mmagent/CueMatch-v0] [--seeds 0 1 2]
        [--recipes mmagent sb3-default] [--eval-every 10000] [--eval-episodes 100]
        [--target 0.95] [--stop-at-target] [--set KEY=VALUE ...] [--baseline-n-envs N]
        [--json out.json]
        [--plot out.png]
    python scripts/bench_time_to_solve.py --replot a.json b.json --plot out.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

RECIPES = ("mmagent", "sb3-default")
OBSERVATION_FORMAT_KWARGS = ("image_size", "sample_rate")
"""Game options that only set the observation's format: the default recipe keeps the game's."""
NO_STEP_LIMIT = 10**12


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="mmagent/CueMatch-v0", help="game id")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument(
        "--eval-every", type=int, default=10_000, help="env steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=100, help="validation episodes per evaluation"
    )
    parser.add_argument(
        "--final-episodes", type=int, default=100, help="held-out episodes after training"
    )
    parser.add_argument("--target", type=float, default=0.95, help="success rate that solves")
    parser.add_argument(
        "--stop-at-target", action="store_true", help="end a run when it first reaches --target"
    )
    parser.add_argument(
        "--budget-steps",
        type=int,
        help="mmagent's step budget (default: the shipped config's n_timesteps)",
    )
    parser.add_argument(
        "--time-budget", type=float, help="mmagent's training-seconds budget (default: none)"
    )
    parser.add_argument(
        "--baseline-time-factor",
        type=float,
        default=10.0,
        help="sb3-default's training-seconds budget as a multiple of mmagent's median time",
    )
    parser.add_argument(
        "--baseline-n-envs",
        type=int,
        help="sb3-default's number of envs (default: the game config's n_envs)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for both recipes' game and mmagent's recipe (as mmagent train)",
    )
    parser.add_argument(
        "--sb3-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="PPO keyword for sb3-default instead of SB3's default (e.g. n_steps=64, for tests)",
    )
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--plot", help="draw success vs training seconds to this PNG")
    parser.add_argument(
        "--replot",
        nargs="+",
        metavar="JSON",
        help="draw --plot from these saved reports' runs instead of training",
    )
    parser.add_argument("--one", metavar="RECIPE:SEED:SECONDS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_n_envs is not None and args.baseline_n_envs < 1:
        parser.error(f"--baseline-n-envs must be at least 1, got {args.baseline_n_envs}")
    if args.replot and not args.plot:
        parser.error("--replot needs --plot, the PNG to draw")
    return args


def game_config(args: argparse.Namespace, seed: int) -> Any:
    """The shipped config of ``--game`` with ``--set``, for ``seed``, with the run's own
    evaluation and checkpoints off (this script evaluates on its own cadence)."""
    from mmagent.config import resolve_config

    flags: dict[str, Any] = {
        "seed": seed,
        "progress_bar": False,
        "eval_freq": 0,
        "checkpoint_freq": 0,
        "video_freq": 0,
    }
    if args.budget_steps is not None:
        flags["n_timesteps"] = args.budget_steps
    return resolve_config(args.game, assignments=args.set, flags=flags)


def sb3_keywords(assignments: list[str]) -> dict[str, Any]:
    """``--sb3-set`` pairs as PPO keywords (values read as YAML)."""
    from mmagent.config import parse_assignment

    keywords: dict[str, Any] = {}
    for assignment in assignments:
        keywords.update(parse_assignment(assignment))
    return keywords


def game_format_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``env_kwargs`` without the keys of :data:`OBSERVATION_FORMAT_KWARGS`."""
    return {key: value for key, value in env_kwargs.items() if key not in OBSERVATION_FORMAT_KWARGS}


def build(recipe: str, config: Any, args: argparse.Namespace) -> Any:
    """The model of ``recipe`` on fresh training envs of ``config``."""
    from stable_baselines3 import PPO

    from mmagent.train import build_model, make_env

    if recipe == "mmagent":
        return build_model(config, make_env(config))
    return PPO(
        "MultiInputPolicy",
        make_env(dataclasses.replace(config, vec_env="dummy")),
        seed=config.seed,
        device=config.device,
        verbose=0,
        **sb3_keywords(args.sb3_set),
    )


class TimedEvaluations(BaseCallback):
    """Every ``eval_every`` env steps (at the first rollout boundary past each multiple),
    pauses training and records ``success()`` with the steps and training seconds so far; the
    training clock leaves the evaluations out, and runs on over further ``learn`` calls.

    :param target: success that counts as reached (the first point at or above it is kept).
    :param stop_at_target: end ``learn`` once the target is reached.
    :param seconds_budget: end ``learn`` once this much training time has passed (None: never).
    """

    def __init__(
        self,
        success: Callable[[], float],
        eval_every: int,
        *,
        label: str,
        target: float = 0.95,
        stop_at_target: bool = False,
        seconds_budget: float | None = None,
    ) -> None:
        super().__init__()
        self.success = success
        self.eval_every = eval_every
        self.label = label
        self.target = target
        self.stop_at_target = stop_at_target
        self.seconds_budget = seconds_budget
        self.points: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.next_eval = eval_every
        self.reached: dict[str, float] | None = None
        self.stop = False

    def _on_training_start(self) -> None:
        self.started = time.perf_counter()

    def _on_step(self) -> bool:
        if self.seconds_budget is not None:  # mid-rollout too: the budget is not overrun
            elapsed = self.train_seconds + time.perf_counter() - self.started
            self.stop = self.stop or elapsed >= self.seconds_budget
        return not self.stop

    def _on_rollout_end(self) -> None:
        self.train_seconds += time.perf_counter() - self.started
        steps = self.model.num_timesteps
        if steps >= self.next_eval:
            self.next_eval = (steps // self.eval_every + 1) * self.eval_every
            rate = self.success()
            point = {"steps": steps, "seconds": self.train_seconds, "success": rate}
            self.points.append(point)
            print(  # progress on stderr: stdout carries the figures to the parent
                f"  {self.label}: {steps:>9,} steps {self.train_seconds:7.0f} s success {rate:.0%}",
                file=sys.stderr,
                flush=True,
            )
            if self.reached is None and rate >= self.target:
                self.reached = point
                self.stop = self.stop_at_target
        if self.seconds_budget is not None and self.train_seconds >= self.seconds_budget:
            self.stop = True
        self.started = time.perf_counter()

    def _on_training_end(self) -> None:
        self.train_seconds += time.perf_counter() - self.started  # the last update


def evaluation_of(model: Any, config: Any) -> Callable[[int, int], Any]:
    """``evaluation(episodes, seed_base)``: the :class:`~mmagent.evaluation.EvaluationResult`
    of ``model`` on ``episodes`` of ``config``'s game (seeds from ``seed_base``), with the config's
    evaluation actions."""
    from mmagent.evaluation import evaluate

    def evaluation(episodes: int, seed_base: int) -> Any:
        return evaluate(
            model,
            config.env_id,
            env_kwargs=config.env_kwargs,
            episodes=episodes,
            seed_base=seed_base,
            deterministic=config.eval_deterministic,
        )

    return evaluation


def success_of(model: Any, config: Any) -> Callable[[int, int], float]:
    """``success(episodes, seed_base)``: the share of ``episodes`` of ``config``'s game (seeds
    from ``seed_base``) that ``model`` wins, with the config's evaluation actions."""
    evaluation = evaluation_of(model, config)
    return lambda episodes, seed_base: evaluation(episodes, seed_base).success_rate


def train_one(recipe: str, seed: int, seconds_budget: float | None, args: argparse.Namespace):
    """Train one (recipe, seed) with timed evaluations; the figures as a JSON-ready dict."""
    from mmagent.evaluation import EVAL_SEED_BASE, VALIDATION_SEED_BASE

    config = game_config(args, seed)
    if recipe == "sb3-default":
        config = dataclasses.replace(
            config,
            env_kwargs=game_format_kwargs(config.env_kwargs),
            n_envs=args.baseline_n_envs or config.n_envs,
        )
    model = build(recipe, config, args)
    step_budget = config.n_timesteps if recipe == "mmagent" else NO_STEP_LIMIT

    evaluation = evaluation_of(model, config)
    timed = TimedEvaluations(
        lambda: evaluation(args.eval_episodes, VALIDATION_SEED_BASE).success_rate,
        args.eval_every,
        label=f"{recipe} seed {seed}",
        target=args.target,
        stop_at_target=args.stop_at_target,
        seconds_budget=seconds_budget,
    )
    model.learn(total_timesteps=step_budget, callback=timed)
    steps = model.num_timesteps
    model.env.close()
    final = evaluation(args.final_episodes, EVAL_SEED_BASE)
    best = max((point["success"] for point in timed.points), default=0.0)
    return {
        "recipe": recipe,
        "seed": seed,
        "extractor": type(model.policy.features_extractor).__name__,
        "trainer": type(model).__name__,
        "algo": config.algo,
        "env_kwargs": config.env_kwargs,
        "n_envs": config.n_envs,
        "steps": steps,
        "train_seconds": timed.train_seconds,
        "steps_per_second": steps / timed.train_seconds if timed.train_seconds else 0.0,
        "seconds_budget": seconds_budget,
        "reached": timed.reached,
        "best_success": best,
        "final_success": final.success_rate,
        "final_endings": dict(final.endings),
        "final_mean_length": final.mean_length,
        "points": timed.points,
    }


def run_one_process(recipe: str, seed: int, seconds: float | None, argv: list[str]) -> dict:
    """``train_one`` in a fresh interpreter; a failed run gives ``{"error": ...}``."""
    budget = "none" if seconds is None else f"{seconds:.3f}"
    command = [sys.executable, __file__, *argv, "--one", f"{recipe}:{seed}:{budget}"]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        return {"recipe": recipe, "seed": seed, "error": f"exit code {completed.returncode}"}
    return json.loads(lines[-1])


def recipe_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over a recipe's seeds; time to target only when every seed reached it."""
    good = [run for run in runs if "error" not in run]
    reached = [run["reached"] for run in good if run["reached"] is not None]
    summary: dict[str, Any] = {
        "seeds": [run["seed"] for run in good],
        "reached": len(reached),
        "median_final_success": statistics.median(run["final_success"] for run in good),
        "median_steps_per_second": statistics.median(run["steps_per_second"] for run in good),
        "median_train_seconds": statistics.median(run["train_seconds"] for run in good),
        "best_success": max(run["best_success"] for run in good),
    }
    if good and len(reached) == len(good):
        summary["median_seconds_to_target"] = statistics.median(r["seconds"] for r in reached)
        summary["median_steps_to_target"] = statistics.median(r["steps"] for r in reached)
    return summary


def describe_run(run: dict[str, Any], target: float) -> str:
    from mmagent.evaluation import format_endings

    if "error" in run:
        return f"{run['recipe']:12s} seed {run['seed']}: FAILED ({run['error']})"
    reached = run["reached"]
    to_target = (
        f"{target:.0%} at {reached['seconds']:6.0f} s, {reached['steps']:>9,} steps"
        if reached
        else f"{target:.0%} not reached in {run['train_seconds']:.0f} s / {run['steps']:,} "
        f"steps (best {run['best_success']:.0%})"
    )
    return (
        f"{run['recipe']:12s} seed {run['seed']}: {to_target}; final {run['final_success']:.0%} "
        f"held-out; {run['steps_per_second']:,.0f} env-steps/s"
        + (f"; endings: {format_endings(run['final_endings'])}" if run.get("final_endings") else "")
    )


def ratio_line(summaries: dict[str, dict[str, Any]], factor: float) -> str:
    """sb3-default's median time to target over mmagent's, or the bound when it missed."""
    ours, theirs = summaries.get("mmagent"), summaries.get("sb3-default")
    if not ours or not theirs or "median_seconds_to_target" not in ours:
        return "ratio: needs both recipes and every mmagent seed at the target"
    if "median_seconds_to_target" in theirs:
        ratio = theirs["median_seconds_to_target"] / ours["median_seconds_to_target"]
        return f"time to target, sb3-default / mmagent: {ratio:.1f}x"
    return (
        f"sb3-default did not reach the target with every seed within {factor:g}x mmagent's "
        f"median time ({theirs['median_train_seconds']:.0f} s; best "
        f"{theirs['best_success']:.0%}): the ratio is more than {factor:g}x"
    )


def plot(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {("mmagent", None): "tab:blue", ("sb3-default", None): "tab:orange"}
    spare = iter(["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive"])
    figure, axes = plt.subplots(figsize=(7, 4))
    for run in report["runs"]:
        if "error" in run or not run["points"]:
            continue
        recurrent = run.get("algo") == "ppo_lstm"
        variant = run.get("variant")
        key = (run["recipe"], variant)
        if key not in colours:
            colours[key] = next(spare, "tab:gray")
        name = run["recipe"] + (f" [{variant}]" if variant else "")
        axes.plot(
            [point["seconds"] for point in run["points"]],
            [100 * point["success"] for point in run["points"]],
            color=colours[key],
            linestyle="--" if recurrent else "-",
            alpha=0.8,
            label=f"{name}{' (ppo_lstm)' if recurrent else ''} seed {run['seed']}",
        )
    axes.axhline(100 * report["settings"]["target"], color="grey", linestyle=":")
    axes.set_xscale("log")
    axes.set_xlabel("training wall-clock seconds (log; evaluations excluded)")
    axes.set_ylabel("validation success (%)")
    axes.set_title(f"{report['settings']['game']}: time to solve, {report['machine']}", fontsize=8)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def merged_report(paths: list[str]) -> dict[str, Any]:
    """The runs of several saved reports as one report (the first report's game, target and
    machine), for :func:`plot`; runs of a report made with ``--set`` overrides are told apart
    by that report's file name (its ``variant``)."""
    runs = []
    first: dict[str, Any] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        first = first or report
        game = report["settings"]["game"].rsplit("/", 1)[-1]
        stem = Path(path).stem.removeprefix(f"time-to-solve-{game}-")
        variant = stem if report["settings"].get("set") else None
        runs += [{**run, "variant": variant} for run in report["runs"]]
    return {"machine": first["machine"], "settings": first["settings"], "runs": runs}


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}"


def write_report(report: dict[str, Any], path: str | None) -> None:
    from mmagent.checkpoints import write_atomically

    if path is not None:
        encoded = json.dumps(report, indent=2).encode("utf-8")
        write_atomically(path, lambda handle: handle.write(encoded))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.replot:
        plot(merged_report(args.replot), args.plot)
        return 0
    if args.one:
        recipe, seed, seconds = args.one.split(":")
        budget = None if seconds == "none" else float(seconds)
        print(json.dumps(train_one(recipe, int(seed), budget, args)))
        return 0
    print(f"{machine()}\n{args.game}: seeds {args.seeds}, target {args.target:.0%}", flush=True)
    report: dict[str, Any] = {"machine": machine(), "settings": vars(args), "runs": []}
    summaries: dict[str, dict[str, Any]] = {}
    for recipe in args.recipes:
        budget = args.time_budget
        if recipe == "sb3-default" and "mmagent" in summaries:
            ours = summaries["mmagent"]
            budget = args.baseline_time_factor * ours.get(
                "median_seconds_to_target", ours["median_train_seconds"]
            )
        runs = [run_one_process(recipe, seed, budget, argv) for seed in args.seeds]
        report["runs"].extend(runs)
        for run in runs:
            print(describe_run(run, args.target), flush=True)
        if any("error" not in run for run in runs):
            summaries[recipe] = recipe_summary(runs)
        report["summaries"] = summaries
        write_report(report, args.json)
    for recipe, summary in summaries.items():
        to_target = summary.get("median_seconds_to_target")
        print(
            f"{recipe:12s} median: "
            + (f"{to_target:.0f} s to target, " if to_target is not None else "")
            + f"final {summary['median_final_success']:.0%}, "
            f"{summary['median_steps_per_second']:,.0f} env-steps/s "
            f"({summary['reached']}/{len(summary['seeds'])} seeds reached the target)"
        )
    line = ratio_line(summaries, args.baseline_time_factor)
    report["ratio"] = line
    print(line)
    write_report(report, args.json)
    if args.plot:
        plot(report, args.plot)
        print(f"plot: {args.plot}")
    return 1 if any("error" in run for run in report["runs"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
