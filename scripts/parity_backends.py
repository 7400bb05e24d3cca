"""Learning parity: a game's shipped config trained with the stable-baselines3 backend and with
the Ray RLlib backend, the same seeds on each, evaluated on the same 100 held-out seeds.

Each (backend, seed) is a plain ``mmagent train GAME --backend B --seed S`` in its own process,
in ``<runs>/<game>/<backend>/seed<S>`` (a run that already has its ``eval.json`` is reused, so an
interrupted comparison continues where it stopped), and its final held-out evaluation is the
run's own ``eval.json`` (seeds 1,000,000-1,000,099, the config's greedy or sampled actions).
Needs ``mmagent[ray]`` (the RLlib backend); both backends run in the same environment.

Prints per run the held-out success, its 95% interval, env steps and wall time; per backend the
mean; and the difference RLlib - SB3 in points against ``--bound`` (5). ``--json`` keeps every
figure.

Usage::

    python scripts/parity_backends.py [--game mmagent/CueMatch-v0] [--seeds 0 1 2]
        [--backends sb3 rllib] [--runs runs/parity] [--set KEY=VALUE ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

BACKENDS = ("sb3", "rllib")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="mmagent/CueMatch-v0", help="game id")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--runs", default="runs/parity", help="where the run directories go")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every run (as mmagent train's --set)",
    )
    parser.add_argument(
        "--bound", type=float, default=5.0, help="largest allowed gap between the means, points"
    )
    parser.add_argument("--json", help="write every figure to this JSON file")
    return parser.parse_args(argv)


def run_dir_of(args: argparse.Namespace, backend: str, seed: int) -> Path:
    return Path(args.runs) / args.game.rsplit("/", 1)[-1] / backend / f"seed{seed}"


def train_and_evaluate(args: argparse.Namespace, backend: str, seed: int) -> dict[str, Any]:
    """One run's ``eval.json`` (training it first unless it is there already)."""
    run_dir = run_dir_of(args, backend, seed)
    report = run_dir / "eval.json"
    if report.is_file():
        print(f"reusing {run_dir}", flush=True)
    else:
        command = [
            sys.executable, "-m", "mmagent", "train", args.game,
            "--backend", backend, "--seed", str(seed),
            "--run-dir", str(run_dir), "--no-progress-bar",
            *[item for assignment in args.set for item in ("--set", assignment)],
        ]  # fmt: skip
        print(f"training {args.game} on {backend}, seed {seed}: {run_dir}", flush=True)
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0 or not report.is_file():
            raise SystemExit(
                f"{backend} seed {seed} failed (exit code {completed.returncode}, no {report}); "
                f"run the same command again to retry it"
            )
    data = json.loads(report.read_text(encoding="utf-8"))
    return {"backend": backend, "seed": seed, "run_dir": str(run_dir)} | data


def describe(run: dict[str, Any]) -> str:
    low, high = run["success_ci95"]
    return (
        f"{run['backend']:6s} seed {run['seed']}: {run['success_rate']:.0%} "
        f"[{low:.0%}-{high:.0%}] on {run['episodes']} held-out episodes; "
        f"{run['timesteps']:,} env steps in {run['wall_seconds'] / 60:.1f} min"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = [
        train_and_evaluate(args, backend, seed) for backend in args.backends for seed in args.seeds
    ]
    print()
    for run in runs:
        print(describe(run))
    means = {
        backend: statistics.mean(run["success_rate"] for run in runs if run["backend"] == backend)
        for backend in args.backends
    }
    for backend, mean in means.items():
        print(f"{backend:6s} mean: {mean:.1%}")
    summary: dict[str, Any] = {"means": means, "bound_points": args.bound}
    if set(BACKENDS) <= set(means):
        gap = 100 * (means["rllib"] - means["sb3"])
        summary["gap_points"] = gap
        summary["within_bound"] = abs(gap) <= args.bound
        verdict = "within" if abs(gap) <= args.bound else "OUTSIDE"
        print(f"rllib - sb3: {gap:+.1f} points, {verdict} the {args.bound:g}-point bound")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {
                    "game": args.game,
                    "date": date.today().isoformat(),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "overrides": args.set,
                    "runs": runs,
                    "summary": summary,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
