"""Benchmark vec envs: env-steps/s of collection only (random actions, no policy).

Steps a built-in game with ``DummyVecEnv``, ``SubprocVecEnv`` and mmagent's
``SharedMemoryVecEnv`` at each ``n_envs``, side by side in one run, and prints the median
env-steps/s over ``--repeats`` timed windows with the ratio against ``DummyVecEnv`` at the same
``n_envs``. Start-up time (processes, imports, building the envs) is reported apart and not
counted. Figures depend on the cores: on a 2-core machine the process-based vec envs gain
little; the shared-memory path is meant for 8+ cores.

Usage::

    python scripts/bench_vec_env.py [--games mmagent/Beacon-v0 mmagent/CueMatch-v0]
        [--n-envs 8 16 64] [--vec-envs dummy subproc shared] [--steps 4096] [--repeats 3]
        [--n-workers N] [--start-method forkserver] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.fast import SharedMemoryVecEnv

VEC_ENV_KINDS = ("dummy", "subproc", "shared")
ACTION_POOL_SIZE = 32
WARMUP_STEPS = 5


def build_vec_env(
    kind: str, env_fns: list[Callable[[], gym.Env]], n_workers: int | None, start_method: str | None
) -> VecEnv:
    """A ``kind`` vec env (``dummy``, ``subproc`` or ``shared``) over ``env_fns``."""
    if kind == "dummy":
        return DummyVecEnv(env_fns)
    if kind == "subproc":
        return SubprocVecEnv(env_fns, start_method=start_method)
    if kind == "shared":
        return SharedMemoryVecEnv(env_fns, n_workers=n_workers, start_method=start_method)
    raise ValueError(f"unknown vec env kind {kind!r}; use one of {VEC_ENV_KINDS}")


def bench_vec_env(
    kind: str,
    game_id: str,
    n_envs: int,
    *,
    env_steps: int,
    repeats: int,
    seed: int,
    n_workers: int | None,
    start_method: str | None,
) -> dict[str, Any]:
    """Time ``repeats`` windows of ``env_steps`` random-action env steps (at least one vec step)."""
    env_fns = [functools.partial(gym.make, game_id) for _ in range(n_envs)]
    started = time.perf_counter()
    vec_env = build_vec_env(kind, env_fns, n_workers, start_method)
    start_seconds = time.perf_counter() - started
    try:
        vec_env.action_space.seed(seed)
        actions = [
            np.stack([vec_env.action_space.sample() for _ in range(n_envs)])
            for _ in range(ACTION_POOL_SIZE)
        ]
        vec_env.seed(seed)
        vec_env.reset()
        for step in range(WARMUP_STEPS):
            vec_env.step(actions[step % ACTION_POOL_SIZE])
        vec_steps = max(1, env_steps // n_envs)
        rates = []
        for _ in range(repeats):
            window_start = time.perf_counter()
            for step in range(vec_steps):
                vec_env.step(actions[step % ACTION_POOL_SIZE])
            rates.append(vec_steps * n_envs / (time.perf_counter() - window_start))
    finally:
        vec_env.close()
    workers = getattr(vec_env, "n_workers", n_envs if kind == "subproc" else 0)
    return {
        "game": game_id,
        "n_envs": n_envs,
        "vec_env": kind,
        "workers": workers,
        "start_seconds": start_seconds,
        "env_steps_per_second": statistics.median(rates),
        "min_env_steps_per_second": min(rates),
        "max_env_steps_per_second": max(rates),
        "repeats": repeats,
        "env_steps_per_repeat": vec_steps * n_envs,
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each row's median against ``DummyVecEnv``'s for the same game and ``n_envs``."""
    baselines = {
        (row["game"], row["n_envs"]): row["env_steps_per_second"]
        for row in rows
        if row["vec_env"] == "dummy"
    }
    for row in rows:
        baseline = baselines.get((row["game"], row["n_envs"]))
        row["vs_dummy"] = None if baseline is None else row["env_steps_per_second"] / baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--games", nargs="+", default=["mmagent/Beacon-v0"], help="game ids to step"
    )
    parser.add_argument(
        "--n-envs", nargs="+", type=int, default=[8, 16, 64], help="numbers of envs to try"
    )
    parser.add_argument(
        "--vec-envs",
        nargs="+",
        choices=VEC_ENV_KINDS,
        default=list(VEC_ENV_KINDS),
        help="vec envs to compare (dummy is the baseline of the ratios)",
    )
    parser.add_argument("--steps", type=int, default=4096, help="env steps per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per figure")
    parser.add_argument("--seed", type=int, default=0, help="seed of actions and episodes")
    parser.add_argument(
        "--n-workers", type=int, help="SharedMemoryVecEnv workers (default: min(n_envs, cores))"
    )
    parser.add_argument(
        "--start-method", help="multiprocessing start method (default: forkserver where possible)"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1 or min(args.n_envs) < 1:
        parser.error("--steps, --repeats and --n-envs must be positive")

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    machine = {
        "processor": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": load,
    }
    print(
        f"machine: {machine['processor']}, {machine['cores']} cores, python {machine['python']}"
        + (f", load average {load[0]:.2f}" if load else "")
    )
    header = (
        f"{'game':22s} {'n_envs':>6s} {'vec_env':>8s} {'workers':>7s} {'start s':>7s} "
        f"{'env-steps/s':>11s} {'min':>8s} {'max':>8s} {'× dummy':>8s}"
    )
    print(header)
    rows = []
    for game_id in args.games:
        for n_envs in args.n_envs:
            group = []
            for kind in args.vec_envs:
                group.append(
                    bench_vec_env(
                        kind,
                        game_id,
                        n_envs,
                        env_steps=args.steps,
                        repeats=args.repeats,
                        seed=args.seed,
                        n_workers=None if args.n_workers is None else min(args.n_workers, n_envs),
                        start_method=args.start_method,
                    )
                )
            add_ratios(group)
            for row in group:
                ratio = "-" if row["vs_dummy"] is None else f"{row['vs_dummy']:.2f}"
                print(
                    f"{row['game']:22s} {row['n_envs']:6d} {row['vec_env']:>8s} "
                    f"{row['workers'] or '-':>7} {row['start_seconds']:7.1f} "
                    f"{row['env_steps_per_second']:11,.0f} {row['min_env_steps_per_second']:8,.0f} "
                    f"{row['max_env_steps_per_second']:8,.0f} {ratio:>8s}",
                    flush=True,
                )
            rows.extend(group)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                {"machine": machine, "arguments": vars(args), "results": rows}, handle, indent=2
            )


if __name__ == "__main__":
    main()
