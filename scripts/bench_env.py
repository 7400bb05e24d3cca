"""Benchmark every built-in game's step on one core: rules + observation frame + audio.

Runs each registered game with random actions (seeded), times every ``step()`` on its own
and every ``reset()`` apart, and prints the median and 90th-percentile step time, the mean
reset time and the steps/s including resets. The target is a median step of at most 150 µs.

Usage::

    python scripts/bench_env.py [--steps 20000] [--games mmagent/Beacon-v0 ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym
import numpy as np

import mmagent

TARGET_MEDIAN_MICROSECONDS = 150.0


def bench_game(game_id: str, steps: int, seed: int) -> dict[str, float]:
    """Time ``steps`` random-action steps of ``game_id`` (the bare env, no wrappers)."""
    env = gym.make(game_id).unwrapped
    rng = np.random.default_rng(seed)
    step_times = np.empty(steps, dtype=np.float64)
    reset_times = []
    start = time.perf_counter_ns()
    env.reset(seed=seed)
    reset_times.append(time.perf_counter_ns() - start)
    episode = 0
    wall_start = time.perf_counter()
    for index in range(steps):
        action = int(rng.integers(env.action_space.n))
        start = time.perf_counter_ns()
        _, _, terminated, truncated, _ = env.step(action)
        step_times[index] = time.perf_counter_ns() - start
        if terminated or truncated:
            episode += 1
            start = time.perf_counter_ns()
            env.reset(seed=seed + episode)
            reset_times.append(time.perf_counter_ns() - start)
    wall = time.perf_counter() - wall_start
    env.close()
    return {
        "median_step_us": float(np.median(step_times) / 1e3),
        "p90_step_us": float(np.percentile(step_times, 90) / 1e3),
        "mean_reset_us": float(np.mean(reset_times) / 1e3),
        "steps_per_second": steps / wall,
        "episodes": episode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="timed steps per game")
    parser.add_argument("--games", nargs="*", default=list(mmagent.GAME_IDS), help="game ids")
    parser.add_argument("--seed", type=int, default=0, help="seed of actions and episodes")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(
        f"{'game':28s} {'median µs':>10s} {'p90 µs':>8s} {'reset µs':>9s} {'steps/s':>9s}  target"
    )
    results = {}
    for game_id in args.games:
        figures = bench_game(game_id, args.steps, args.seed)
        results[game_id] = figures
        verdict = "ok" if figures["median_step_us"] <= TARGET_MEDIAN_MICROSECONDS else "SLOW"
        print(
            f"{game_id:28s} {figures['median_step_us']:10.1f} {figures['p90_step_us']:8.1f} "
            f"{figures['mean_reset_us']:9.1f} {figures['steps_per_second']:9.0f}  {verdict}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"steps": args.steps, "seed": args.seed, "games": results}, handle, indent=2)


if __name__ == "__main__":
    main()
