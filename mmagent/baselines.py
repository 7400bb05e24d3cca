"""Scripted baselines for the built-in games: the privileged-state oracle (each game's
``oracle_action()``), which shows a game is solvable, and uniformly random actions, which show
it is not solved by chance."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

BASELINE_POLICIES = ("oracle", "random")


def baseline_success_rate(game_id: str, policy: str, episodes: int, seed_base: int) -> float:
    """Fraction of ``episodes`` won by ``policy``; episode ``i`` is reset with seed
    ``seed_base + i`` (random actions are drawn from a generator seeded with ``seed_base``)."""
    if policy not in BASELINE_POLICIES:
        raise ValueError(f"policy must be one of {BASELINE_POLICIES}, got {policy!r}")
    env = gym.make(game_id).unwrapped
    if policy == "oracle" and not hasattr(env, "oracle_action"):
        raise ValueError(f"{game_id} has no oracle_action(); only built-in games have an oracle")
    rng = np.random.default_rng(seed_base)
    wins = 0
    for episode in range(episodes):
        env.reset(seed=seed_base + episode)
        while True:
            if policy == "oracle":
                action = env.oracle_action()
            else:
                action = int(rng.integers(env.action_space.n))
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                wins += bool(info["is_success"])
                break
    env.close()
    return wins / episodes
