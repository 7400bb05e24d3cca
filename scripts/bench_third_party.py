"""Games mmagent did not design: mmagent's default agent against each env's own SB3 recipe, at
equal env steps and at equal wall-clock, on MiniGrid envs with a text mission.

Envs (from the ``minigrid`` package, in the ``test`` extra), each wrapped for mmagent as a new
user would, in two lines (``make_multimodal``, as ``scripts/third_party_envs.py``)::

    grid = gym.make("MiniGrid-GoToDoor-5x5-v0")
    return make_multimodal(grid, text_key="mission", sample_texts=MISSIONS, success=WON)

* ``gotodoor`` — ``MiniGrid-GoToDoor-5x5-v0``: four doors of four colours; "go to the red door"
  (``done`` in front of the named door wins, in front of another loses);
* ``fetch`` — ``MiniGrid-Fetch-5x5-N2-v0``: a key and a ball; "go fetch a grey ball" (picking
  up the named object wins, the other loses).

Recipes, the same PPO settings (mmagent's defaults, :class:`mmagent.config.TrainConfig`: 8 envs,
128 steps per env per rollout, minibatches of 256, 4 epochs, lr 3e-4, ``ent_coef`` 0.01, greedy
evaluation), the same seeds:

* ``mmagent`` — what ``make_multimodal`` and ``mmagent train`` give without tuning: no config,
  the default multimodal extractor (the 7x7x3 view and the mission as the env emits them);
* ``flat-mlp`` — MiniGrid's own recipe for SB3: its ``FlatObsWrapper`` (the view flattened, the
  mission one-hot per character) and ``PPO("MlpPolicy")``, SB3's trainer, a ``DummyVecEnv``.

Both train ``--steps`` env steps with validation evaluations every ``--eval-every`` steps
(``--eval-episodes`` on seeds from 2,000,000; the training clock leaves them out). Then both are
scored on 100 held-out seeds (from 1,000,000): **equal steps**. The recipe that trained faster
then trains on until its training time equals the slower one's and is scored again: **equal
wall-clock**. Success is each env's own rule (terminated with a positive reward).

Usage::

    python scripts/bench_third_party.py [--envs gotodoor fetch] [--seeds 0 1 2]
        [--steps 100000] [--eval-every 10000] [--eval-episodes 100] [--json out.json]
        [--plot out.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from bench_time_to_solve import TimedEvaluations, machine, success_of, write_report
from minigrid.core.constants import COLOR_NAMES
from minigrid.wrappers import FlatObsWrapper
from stable_baselines3 import PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv

from mmagent.config import TrainConfig, resolve_config
from mmagent.evaluation import EVAL_SEED_BASE, VALIDATION_SEED_BASE
from mmagent.plugins import make_multimodal, register_game
from mmagent.train import build_model, make_env

RECIPES = ("mmagent", "flat-mlp")
#: Each env's own win rule; none sets ``info["is_success"]``.
WON = "terminated_with_positive_reward"
FETCH_MISSIONS = tuple(
    f"{verb} {colour} {kind}"
    for verb in ("get a", "go get a", "fetch a", "go fetch a", "you must fetch a")
    for colour in COLOR_NAMES
    for kind in ("key", "ball")
)


def _wrapped(gym_id: str, missions: tuple[str, ...]) -> Callable[..., gym.Env]:
    def factory(render_mode: str | None = None) -> gym.Env:
        grid = gym.make(gym_id, render_mode=render_mode)
        return make_multimodal(grid, text_key="mission", sample_texts=missions, success=WON)

    return factory


ENVS: dict[str, dict[str, str]] = {
    "gotodoor": {
        "gym_id": "MiniGrid-GoToDoor-5x5-v0",
        "id": register_game(
            "thirdparty/GoToDoor-v0",
            _wrapped("MiniGrid-GoToDoor-5x5-v0", tuple(f"go to the {c} door" for c in COLOR_NAMES)),
        ),
    },
    "fetch": {
        "gym_id": "MiniGrid-Fetch-5x5-N2-v0",
        "id": register_game(
            "thirdparty/Fetch-v0", _wrapped("MiniGrid-Fetch-5x5-N2-v0", FETCH_MISSIONS)
        ),
    },
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", choices=list(ENVS), default=list(ENVS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps of both recipes")
    parser.add_argument("--eval-every", type=int, default=10_000, help="env steps between evals")
    parser.add_argument("--eval-episodes", type=int, default=100, help="validation episodes")
    parser.add_argument("--final-episodes", type=int, default=100, help="held-out episodes")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for both recipes (e.g. n_envs=2 for a quick try)",
    )
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--plot", help="write a PNG: validation success against training time")
    return parser.parse_args(argv)


def default_config(env: str, seed: int, args: argparse.Namespace) -> TrainConfig:
    """``mmagent train thirdparty/<Env>`` with no config: the defaults, for ``seed``."""
    flags = {"seed": seed, "n_timesteps": args.steps, "progress_bar": False, "device": "cpu"}
    return resolve_config(ENVS[env]["id"], assignments=args.set, flags=flags)


def build_flat_mlp(gym_id: str, config: TrainConfig) -> PPO:
    """MiniGrid's flattened observation and SB3's ``MlpPolicy`` with ``config``'s PPO settings."""
    envs = DummyVecEnv([lambda: FlatObsWrapper(gym.make(gym_id))] * config.n_envs)
    envs.seed(config.seed)
    return PPO(
        "MlpPolicy",
        envs,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        device=config.device,
        verbose=0,
    )


def flat_success(
    model: BaseAlgorithm, gym_id: str, episodes: int, seed_base: int, deterministic: bool
) -> float:
    """The share of ``episodes`` (seeds ``seed_base + i``) won by the env's rule."""
    env = FlatObsWrapper(gym.make(gym_id))
    won = 0
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed_base + episode)
        while True:
            action, _ = model.predict(observation, deterministic=deterministic)
            observation, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                won += int(terminated and reward > 0)
                break
    env.close()
    return won / episodes


def recipe_model(recipe: str, env: str, config: TrainConfig) -> tuple[BaseAlgorithm, Callable]:
    """The model of ``recipe`` and its ``success(episodes, seed_base)``."""
    if recipe == "mmagent":
        model = build_model(config, make_env(config))
        return model, success_of(model, config)
    gym_id = ENVS[env]["gym_id"]
    model = build_flat_mlp(gym_id, config)
    return model, lambda episodes, seed_base: flat_success(
        model, gym_id, episodes, seed_base, config.eval_deterministic
    )


def compare(env: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Both recipes on ``env`` with ``seed``: held-out success at equal steps and equal time."""
    config = default_config(env, seed, args)
    runs: dict[str, dict[str, Any]] = {}
    for recipe in RECIPES:
        model, success = recipe_model(recipe, env, config)
        timed = TimedEvaluations(
            lambda success=success: success(args.eval_episodes, VALIDATION_SEED_BASE),
            args.eval_every,
            label=f"{env} {recipe} seed {seed}",
        )
        model.learn(total_timesteps=config.n_timesteps, callback=timed)
        runs[recipe] = {
            "model": model,
            "success": success,
            "timed": timed,
            "equal_steps": {
                "steps": model.num_timesteps,
                "seconds": timed.train_seconds,
                "success": success(args.final_episodes, EVAL_SEED_BASE),
            },
        }
    common_seconds = max(run["timed"].train_seconds for run in runs.values())
    for run in runs.values():
        timed = run["timed"]
        if timed.train_seconds < common_seconds:  # train on to the slower recipe's time
            timed.seconds_budget, timed.stop = common_seconds, False
            run["model"].learn(10**12, callback=timed, reset_num_timesteps=False)
            run["equal_time"] = {
                "steps": run["model"].num_timesteps,
                "seconds": timed.train_seconds,
                "success": run["success"](args.final_episodes, EVAL_SEED_BASE),
            }
        else:
            run["equal_time"] = run["equal_steps"]
        run["model"].env.close()
    return {
        "env": env,
        "gym_id": ENVS[env]["gym_id"],
        "seed": seed,
        "config": dataclasses.asdict(config),
        "recipes": {
            recipe: {
                "extractor": type(run["model"].policy.features_extractor).__name__,
                "trainer": type(run["model"]).__name__,
                "equal_steps": run["equal_steps"],
                "equal_time": run["equal_time"],
                "steps_per_second": run["equal_steps"]["steps"] / run["equal_steps"]["seconds"],
                "points": run["timed"].points,
            }
            for recipe, run in runs.items()
        },
    }


def describe(result: dict[str, Any]) -> str:
    lines = []
    for recipe, figures in result["recipes"].items():
        steps, time = figures["equal_steps"], figures["equal_time"]
        lines.append(
            f"{result['env']:9s} seed {result['seed']} {recipe:8s}: "
            f"{steps['success']:4.0%} at {steps['steps']:,} steps ({steps['seconds']:.0f} s); "
            f"{time['success']:4.0%} at {time['seconds']:.0f} s ({time['steps']:,} steps); "
            f"{figures['steps_per_second']:,.0f} env-steps/s"
        )
    return "\n".join(lines)


def summary(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per env and recipe, the median held-out success at equal steps and at equal time."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for env in dict.fromkeys(result["env"] for result in results):
        mine = [result for result in results if result["env"] == env]
        table[env] = {
            recipe: {
                comparison: statistics.median(
                    result["recipes"][recipe][comparison]["success"] for result in mine
                )
                for comparison in ("equal_steps", "equal_time")
            }
            for recipe in RECIPES
        }
    return table


def plot(report: dict[str, Any], path: str) -> None:
    """One panel per env: each run's validation success against its training seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(result["env"] for result in report["results"]))
    figure, panels = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.8), squeeze=False)
    colours = dict(zip(RECIPES, ("tab:blue", "tab:orange"), strict=True))
    for axes, env in zip(panels[0], envs, strict=True):
        for result in (result for result in report["results"] if result["env"] == env):
            for recipe, figures in result["recipes"].items():
                axes.plot(
                    [point["seconds"] for point in figures["points"]],
                    [100 * point["success"] for point in figures["points"]],
                    color=colours[recipe],
                    alpha=0.8,
                    label=f"{recipe} seed {result['seed']}",
                )
        axes.set_title(f"{ENVS[env]['gym_id']}", fontsize=9)
        axes.set_xlabel("training wall-clock seconds (evaluations excluded)")
        axes.set_ylabel("validation success (%)")
        axes.set_ylim(0, 100)
        axes.legend(fontsize=6, loc="upper left")
    figure.suptitle(
        f"mmagent's default agent vs MiniGrid's SB3 recipe; {report['machine']}", fontsize=8
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{machine()}\nenvs {args.envs}, seeds {args.seeds}, {args.steps:,} steps", flush=True)
    report: dict[str, Any] = {"machine": machine(), "settings": vars(args), "results": []}
    for env in args.envs:
        for seed in args.seeds:
            result = compare(env, seed, args)
            print(describe(result), flush=True)
            report["results"].append(result)
            write_report(report, args.json)
    report["summary"] = summary(report["results"])
    for env, recipes in report["summary"].items():
        cells = "; ".join(
            f"{recipe} {figures['equal_steps']:.0%} / {figures['equal_time']:.0%}"
            for recipe, figures in recipes.items()
        )
        print(f"{env} median held-out success, equal steps / equal time: {cells}")
    write_report(report, args.json)
    if args.plot:
        plot(report, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
