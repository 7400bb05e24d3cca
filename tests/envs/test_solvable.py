"""Each game is solvable (a privileged-state oracle wins) and not solvable by chance."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from envs import GAME_IDS

EPISODES = 200


def _success_rate(game_id: str, policy: str) -> float:
    env = gym.make(game_id).unwrapped
    rng = np.random.default_rng(123)
    wins = 0
    for episode in range(EPISODES):
        env.reset(seed=10_000 + episode)
        while True:
            if policy == "oracle":
                action = env.oracle_action()
            else:
                action = int(rng.integers(env.action_space.n))
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                wins += info["is_success"]
                break
    return wins / EPISODES


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_oracle_wins_and_random_play_does_not(game_id: str) -> None:
    oracle = _success_rate(game_id, "oracle")
    random = _success_rate(game_id, "random")
    assert oracle >= 0.95, f"oracle success {oracle:.2f}"
    assert random <= 0.35, f"random success {random:.2f}"
    assert oracle - random >= 0.6
