"""Imitation probe: can a config's policy network represent a game's oracle at all?

Trains the policy that ``mmagent train`` would build (extractor, ``net_arch``, action head) by
supervised learning on the actions of the game's oracle (``env.unwrapped.oracle_action()``), and
prints the agreement with the oracle on observations from held-out seeds after every epoch. It
takes minutes where a PPO run takes an hour, so it is a quick first check of an extractor
design: one that cannot imitate the oracle will not learn the game by reinforcement either.

Observations come from episodes where the oracle's action is taken with probability
``1 - explore`` and a random one otherwise, so that the probe also sees states off the oracle's
path. The agreement is a lower bound on how well the task is represented: where two actions are
equally good the oracle picks one of them.

Usage::

    python scripts/probe_policy.py mmagent/Beacon-Easy-v0
    python scripts/probe_policy.py mmagent/Beacon-Easy-v0 \\
        --set policy_kwargs.features_extractor_kwargs.fusion=film --epochs 30
    python scripts/probe_policy.py mmagent/Beacon-v0 --episodes 200   # then play it

With ``--episodes N`` the imitating policy then plays ``N`` held-out episodes, greedy and
sampled: agreement counts every tie the oracle broke its own way as a miss, success does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmagent.config import TrainConfig, resolve_config
from mmagent.evaluation import EVAL_SEED_BASE, evaluate
from mmagent.plugins import make_env as make_game
from mmagent.train import build_model, make_env


def collect(
    config: TrainConfig, samples: int, first_seed: int, explore: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``samples`` observations and the oracle's action in each, from episodes seeded
    ``first_seed, first_seed + 1, ...``."""
    env = make_game(config.env_id, **config.env_kwargs)
    oracle = getattr(env.unwrapped, "oracle_action", None)
    if not callable(oracle):
        env.close()
        raise SystemExit(
            f"{config.env_id} has no oracle_action() on its unwrapped env, so there is nothing "
            f"to imitate; the probe needs a game that can name its best action."
        )
    rng = np.random.default_rng(first_seed)
    env.action_space.seed(first_seed)
    observations: list[dict[str, Any]] = []
    actions: list[int] = []
    seed = first_seed
    while len(actions) < samples:
        observation, _ = env.reset(seed=seed)
        seed += 1
        done = False
        while not done and len(actions) < samples:
            best = int(oracle())
            observations.append(observation)
            actions.append(best)
            taken = best if rng.random() >= explore else int(env.action_space.sample())
            observation, _, terminated, truncated, _ = env.step(taken)
            done = terminated or truncated
    env.close()
    stacked = {key: np.stack([obs[key] for obs in observations]) for key in observations[0]}
    return stacked, np.asarray(actions)


def agreement(policy: Any, observations: dict[str, np.ndarray], actions: np.ndarray) -> float:
    """Fraction of ``observations`` where the policy's most likely action is the oracle's."""
    hits = 0
    with torch.no_grad():
        for start in range(0, len(actions), 512):
            batch = {key: value[start : start + 512] for key, value in observations.items()}
            tensors, _ = policy.obs_to_tensor(batch)
            logits = policy.get_distribution(tensors).distribution.logits
            predicted = logits.argmax(dim=1).cpu().numpy()
            hits += int((predicted == actions[start : start + 512]).sum())
    return hits / len(actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("game", help="game id, e.g. mmagent/Beacon-Easy-v0")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="config keys")
    parser.add_argument("--samples", type=int, default=20_000, help="training observations")
    parser.add_argument("--test-samples", type=int, default=3_000, help="held-out observations")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate")
    parser.add_argument("--explore", type=float, default=0.3, help="random-action probability")
    parser.add_argument("--seed", type=int, default=0, help="torch seed and first training seed")
    parser.add_argument(
        "--episodes",
        type=int,
        default=0,
        help="then play this many held-out episodes with the imitating policy (success rate)",
    )
    parser.add_argument("--json", help="write the per-epoch agreement here")
    args = parser.parse_args()

    config = resolve_config(args.game, assignments=[*args.set, "device=cpu"])
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    train_obs, train_actions = collect(config, args.samples, args.seed, args.explore)
    test_obs, test_actions = collect(config, args.test_samples, EVAL_SEED_BASE, args.explore)
    counts = np.bincount(train_actions, minlength=1)
    print(
        f"{args.game}: {args.samples} training and {args.test_samples} held-out observations "
        f"({time.perf_counter() - started:.0f} s); oracle actions {counts.tolist()}, "
        f"always-the-commonest {counts.max() / counts.sum():.1%}"
    )
    # one env to build the policy on; PPO's rollout sizes do not matter to the probe
    one_env = dataclasses.replace(config, n_envs=1, batch_size=config.n_steps, vec_env="dummy")
    env = make_env(one_env)
    model = build_model(one_env, env)
    policy = model.policy
    env.close()
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    train_tensors, _ = policy.obs_to_tensor(train_obs)
    targets = torch.as_tensor(train_actions, device=policy.device)
    history = []
    for epoch in range(1, args.epochs + 1):
        policy.train()
        for batch in torch.randperm(len(targets)).split(args.batch_size):
            observations = {key: value[batch] for key, value in train_tensors.items()}
            logits = policy.get_distribution(observations).distribution.logits
            loss = torch.nn.functional.cross_entropy(logits, targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        policy.eval()
        held_out = agreement(policy, test_obs, test_actions)
        history.append({"epoch": epoch, "held_out_agreement": held_out})
        print(
            f"epoch {epoch:3d}: held-out agreement with the oracle {held_out:.1%} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    record: dict[str, Any] = {"game": args.game, "overrides": args.set, "epochs": history}
    if args.episodes > 0:
        record["play"] = {}
        for deterministic in (True, False):
            report = evaluate(
                model,
                config.env_id,
                env_kwargs=config.env_kwargs,
                episodes=args.episodes,
                deterministic=deterministic,
            )
            record["play"]["greedy" if deterministic else "sampled"] = report.to_dict()
            print(f"imitating policy, {report.summary()}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
