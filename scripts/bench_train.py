"""Benchmark PPO training recipes side by side: env-steps/s of collection, of the update and end
to end, peak memory, and (optionally) whether the fast path learns the same.

Recipes, all on the same game and settings (n_envs, n_steps, batch size, epochs, heads):

* ``sb3-default`` — SB3's default recipe: ``PPO("MultiInputPolicy")`` (its ``CombinedExtractor``)
  on a ``DummyVecEnv``;
* ``sb3-subproc`` — the same on a ``SubprocVecEnv``;
* ``mmagent-sb3`` — mmagent's standard path with the stock SB3 trainer: the game's shipped
  ``MultimodalExtractor`` config, stock ``PPO``, ``DummyVecEnv``;
* ``mmagent-fast`` — the same network trained by :class:`mmagent.fast.FastPPO`;
* ``mmagent-fast-shared`` — FastPPO stepping the envs in :class:`mmagent.fast.SharedMemoryVecEnv`;
* ``mmagent-lstm-sb3`` — the same network under an LSTM (``algo: ppo_lstm``) trained by
  sb3-contrib's ``RecurrentPPO``, and ``mmagent-lstm-packed`` — by
  :class:`mmagent.fast.recurrent.PackedRecurrentPPO` (each observation of a minibatch encoded
  once, not its padding). These two run only when asked for with ``--recipes``;
* ``mmagent-fast-bf16`` — ``mmagent-fast`` with its update under bfloat16 autocast
  (``bf16_update``), and ``mmagent-fast-compiled`` — with its acting pass compiled
  (``compile_acting``, a CUDA graph on CUDA). These two run by default on CUDA only: on a CPU
  without bfloat16 arithmetic the first is an order of magnitude slower (ask for them with
  ``--recipes`` there).

Each recipe runs in its own process (so peak memory is its own): one warm-up rollout and update
(its time, which includes any compiling, is reported apart), then ``--repeats`` timed windows of
``--rollouts`` rollouts each; the medians are printed with the ratios against ``sb3-default``,
against ``mmagent-sb3`` (same network, stock trainer) and against ``mmagent-fast`` (what each
option adds). A recipe that fails is reported with its error and the others still run; the JSON
is rewritten after every recipe.

``--learning-steps N`` also trains the game's shipped config for N steps with the stock and the
fast trainer for each of ``--learning-seeds`` seeds and prints their success rates on 100
held-out seeds.

Usage::

    python scripts/bench_train.py [--game mmagent/CueMatch-v0] [--n-envs 8] [--n-steps 64]
        [--batch-size 256] [--n-epochs 4] [--rollouts 4] [--repeats 3] [--device auto]
        [--set KEY=VALUE ...] [--recipes ...] [--learning-steps 100000 --learning-seeds 3]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

RECIPES: dict[str, dict[str, Any]] = {
    "sb3-default": {"trainer": "sb3"},
    "sb3-subproc": {"trainer": "sb3", "vec_env": "subproc"},
    "mmagent-sb3": {"trainer": "sb3"},
    "mmagent-fast": {"trainer": "fast"},
    "mmagent-fast-shared": {"trainer": "fast", "vec_env": "shared"},
    "mmagent-fast-bf16": {"trainer": "fast", "bf16_update": True},
    "mmagent-fast-compiled": {"trainer": "fast", "compile_acting": True},
    "mmagent-lstm-sb3": {"algo": "ppo_lstm", "trainer": "sb3"},
    "mmagent-lstm-packed": {"algo": "ppo_lstm", "trainer": "fast"},
}
"""Each recipe's training-config values on top of the game's shipped config and the settings."""
GPU_ONLY_RECIPES = ("mmagent-fast-bf16", "mmagent-fast-compiled")
RECURRENT_RECIPES = ("mmagent-lstm-sb3", "mmagent-lstm-packed")
BASELINES = ("sb3-default", "mmagent-sb3", "mmagent-fast", "mmagent-lstm-sb3")
SB3_DEFAULT_EXTRACTOR = "stable_baselines3.common.torch_layers:CombinedExtractor"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="mmagent/CueMatch-v0", help="game id")
    parser.add_argument("--n-envs", type=int, default=8, help="parallel envs")
    parser.add_argument("--n-steps", type=int, default=64, help="steps per env per rollout")
    parser.add_argument("--batch-size", type=int, default=256, help="minibatch size")
    parser.add_argument("--n-epochs", type=int, default=4, help="passes over each rollout")
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows per recipe")
    parser.add_argument("--device", default="auto", help="auto (cuda when present), cpu, cuda")
    parser.add_argument(
        "--recipes",
        nargs="*",
        choices=RECIPES,
        help="default: all but the two LSTM ones (the bf16 and compiled ones on CUDA only); "
        "none: skip",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every recipe, as mmagent train takes it",
    )
    parser.add_argument("--learning-steps", type=int, default=0, help="0: skip the check")
    parser.add_argument("--learning-seeds", type=int, default=3, help="seeds per trainer")
    parser.add_argument(
        "--learning-eval-episodes", type=int, default=100, help="held-out episodes per agent"
    )
    parser.add_argument("--json", help="write all figures to this JSON file")
    parser.add_argument("--one-recipe", choices=RECIPES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def build_recipe(recipe: str, args: argparse.Namespace) -> Any:
    """The model of ``recipe`` on fresh envs, with the game's shipped hyperparameters; the
    ``sb3-*`` recipes swap the extractor for SB3's default ``CombinedExtractor``."""
    from mmagent.config import resolve_config
    from mmagent.train import build_model, make_env

    config = resolve_config(
        args.game,
        assignments=args.set,
        flags={
            "n_envs": args.n_envs,
            "n_steps": args.n_steps,
            "batch_size": args.batch_size,
            "n_epochs": args.n_epochs,
            "device": args.device,
            "vec_env": "dummy",
            **RECIPES[recipe],
        },
    )
    if recipe.startswith("sb3-"):
        policy_kwargs = {"features_extractor_class": SB3_DEFAULT_EXTRACTOR}
        if "net_arch" in config.policy_kwargs:  # the same heads as the mmagent recipes
            policy_kwargs["net_arch"] = config.policy_kwargs["net_arch"]
        config.policy_kwargs = policy_kwargs
    return build_model(config, make_env(config))


def measure_recipe(recipe: str, args: argparse.Namespace) -> dict[str, Any]:
    """Timed windows of one recipe in this process; returns medians and peak memory."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    class RolloutTimer(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.collect_seconds = 0.0

        def _on_rollout_start(self) -> None:
            self._started = time.perf_counter()

        def _on_rollout_end(self) -> None:
            self.collect_seconds += time.perf_counter() - self._started

        def _on_step(self) -> bool:
            return True

    built = time.perf_counter()
    model = build_recipe(recipe, args)
    build_seconds = time.perf_counter() - built
    per_rollout = args.n_steps * args.n_envs
    warm_up = time.perf_counter()
    model.learn(per_rollout)  # warm-up: first-call costs (and compiling) stay out of the windows
    warm_up_seconds = time.perf_counter() - warm_up
    windows = []
    for _ in range(args.repeats):
        timer = RolloutTimer()
        started = time.perf_counter()
        model.learn(args.rollouts * per_rollout, callback=timer, reset_num_timesteps=False)
        total = time.perf_counter() - started
        steps = args.rollouts * per_rollout
        update = total - timer.collect_seconds
        windows.append(
            {
                "end_to_end": steps / total,
                "collection": steps / timer.collect_seconds,
                "update": steps / update,
            }
        )
    worker_peaks = [peak_rss_mib(pid) for pid in worker_pids(model.env.unwrapped)]
    model.env.close()
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result: dict[str, Any] = {
        "recipe": recipe,
        "trainer": type(model).__name__,
        "extractor": type(model.policy.features_extractor).__name__,
        "vec_env": type(model.env.unwrapped).__name__,
        "options": {
            name: getattr(model, name)
            for name in ("bf16_update", "compile_acting")
            if hasattr(model, name)
        },
        "device": str(model.device),
        "build_seconds": build_seconds,
        "warm_up_seconds": warm_up_seconds,
        "windows": windows,
        "peak_rss_mib": self_peak,
        "peak_worker_rss_mib": sum(worker_peaks),
        "workers": len(worker_peaks),
    }
    for key in ("end_to_end", "collection", "update"):
        result[key] = statistics.median(window[key] for window in windows)
    if model.device.type == "cuda":
        result["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def worker_pids(vec_env: Any) -> list[int]:
    """Process ids of a vec env's env workers (none for ``DummyVecEnv``)."""
    if hasattr(vec_env, "worker_pids"):  # SharedMemoryVecEnv
        return [pid for pid in vec_env.worker_pids if pid is not None]
    return [process.pid for process in getattr(vec_env, "processes", [])]  # SubprocVecEnv


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a live process (Linux ``VmHWM``), 0 where unreadable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_recipe_process(recipe: str, argv: list[str]) -> dict[str, Any]:
    """``measure_recipe`` in a fresh interpreter, so each recipe's peak memory is its own; a
    failed recipe gives ``{"recipe": ..., "error": <the end of its stderr>}``."""
    command = [sys.executable, __file__, *argv, "--one-recipe", recipe]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return {"recipe": recipe, "error": completed.stderr[-4000:]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def chosen_recipes(args: argparse.Namespace) -> list[str]:
    """``--recipes`` as given, else the feed-forward ones, less the GPU-only ones off CUDA."""
    if args.recipes is not None:
        return list(args.recipes)
    from stable_baselines3.common.utils import get_device

    on_cuda = get_device(args.device).type == "cuda"
    return [
        name
        for name in RECIPES
        if name not in RECURRENT_RECIPES and (on_cuda or name not in GPU_ONLY_RECIPES)
    ]


def learning_check(args: argparse.Namespace) -> dict[str, Any]:
    """Success rates of the stock and fast trainers after ``--learning-steps``, per seed."""
    from mmagent.config import resolve_config
    from mmagent.train import train

    rates: dict[str, list[float]] = {"sb3": [], "fast": []}
    with tempfile.TemporaryDirectory() as root:
        for seed in range(args.learning_seeds):
            for trainer in rates:
                config = resolve_config(
                    args.game,
                    assignments=args.set,
                    flags={
                        "n_timesteps": args.learning_steps,
                        "seed": seed,
                        "trainer": trainer,
                        "device": args.device,
                        "progress_bar": False,
                        "eval_freq": 0,
                        "checkpoint_freq": 0,
                        "final_eval_episodes": args.learning_eval_episodes,
                    },
                )
                started = time.perf_counter()
                result = train(config, os.path.join(root, f"{trainer}-{seed}"))
                assert result.evaluation is not None
                rates[trainer].append(result.evaluation.success_rate)
                print(
                    f"  learning: trainer {trainer:4s} seed {seed}: "
                    f"{result.evaluation.success_rate:.0%} success on "
                    f"{args.learning_eval_episodes} held-out seeds "
                    f"({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    means = {trainer: statistics.mean(values) for trainer, values in rates.items()}
    return {
        "steps": args.learning_steps,
        "seeds": list(range(args.learning_seeds)),
        "success": rates,
        "mean_success": means,
        "gap_points": 100 * (means["fast"] - means["sb3"]),
    }


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {gpu}; python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def print_table(results: list[dict[str, Any]]) -> None:
    by_name = {result["recipe"]: result for result in results}
    width = max(len(name) for name in by_name)
    trainer_width = max(len("trainer"), *(len(result["trainer"]) for result in results))
    header = (
        f"{'recipe':{width}s} {'trainer':{trainer_width}s} {'extractor':20s} {'collect/s':>10s}"
    )
    header += f" {'update/s':>10s} {'end-to-end/s':>13s} {'peak RSS':>9s} {'+ workers':>10s}"
    for baseline in BASELINES:
        if baseline in by_name:
            header += f" {'vs ' + baseline:>16s}"
    print(header)
    for result in results:
        line = (
            f"{result['recipe']:{width}s} {result['trainer']:{trainer_width}s} "
            f"{result['extractor']:20s} "
            f"{result['collection']:10,.0f} {result['update']:10,.0f} "
            f"{result['end_to_end']:13,.0f} {result['peak_rss_mib']:5,.0f} MiB"
            f" {result['peak_worker_rss_mib']:6,.0f} MiB"
        )
        for baseline in BASELINES:
            if baseline in by_name:
                ratio = result["end_to_end"] / by_name[baseline]["end_to_end"]
                line += f" {ratio:15.2f}x"
        print(line)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.one_recipe:
        print(json.dumps(measure_recipe(args.one_recipe, args)))
        return 0
    print(
        f"{machine()}\n{args.game}: n_envs {args.n_envs}, n_steps {args.n_steps}, batch "
        f"{args.batch_size}, epochs {args.n_epochs}; medians of {args.repeats} windows of "
        f"{args.rollouts} rollouts ({args.rollouts * args.n_steps * args.n_envs} env steps)",
        flush=True,
    )
    report: dict[str, Any] = {"machine": machine(), "settings": vars(args), "recipes": []}
    failed = []
    for recipe in chosen_recipes(args):
        result = run_recipe_process(recipe, argv)
        report["recipes"].append(result)
        if "error" in result:
            failed.append(recipe)
            print(f"  {recipe} FAILED:\n{result['error']}", flush=True)
        else:
            print(f"  measured {recipe}", flush=True)
        write_report(report, args.json)
    measured = [result for result in report["recipes"] if "error" not in result]
    if measured:
        print_table(measured)
    if args.learning_steps:
        learning = learning_check(args)
        report["learning"] = learning
        means = learning["mean_success"]
        print(
            f"learning after {args.learning_steps} steps, seeds {learning['seeds']}: stock "
            f"{means['sb3']:.1%}, fast {means['fast']:.1%} mean success "
            f"(fast - stock: {learning['gap_points']:+.1f} points)"
        )
        write_report(report, args.json)
    if failed:
        print(f"failed recipes: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def write_report(report: dict[str, Any], path: str | None) -> None:
    """Write ``report`` to ``path`` (when given) through a temporary file, so a run cut short
    leaves the figures measured so far."""
    from mmagent.checkpoints import write_atomically

    if path is not None:
        encoded = json.dumps(report, indent=2).encode("utf-8")
        write_atomically(path, lambda handle: handle.write(encoded))


if __name__ == "__main__":
    raise SystemExit(main())
