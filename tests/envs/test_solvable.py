"""Each game is solvable (a privileged-state oracle wins) and not solvable by chance."""

from __future__ import annotations

import pytest

from envs import GAME_IDS
from mmagent.baselines import baseline_success_rate

EPISODES = 200


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_oracle_wins_and_random_play_does_not(game_id: str) -> None:
    oracle = baseline_success_rate(game_id, "oracle", EPISODES, seed_base=10_000)
    random = baseline_success_rate(game_id, "random", EPISODES, seed_base=10_000)
    assert oracle >= 0.95, f"oracle success {oracle:.2f}"
    assert random <= 0.35, f"random success {random:.2f}"
    assert oracle - random >= 0.6
