"""success= gives any env an info["is_success"]; eval scores it, or says the env gives none."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3 import PPO

from mmagent.evaluation import EVAL_SEED_BASE, NO_SUCCESS_SIGNAL, evaluate
from mmagent.plugins import PluginOutputError, make_multimodal, register_game
from mmagent.plugins.success import ReportSuccess

EPISODES = 12
STEPS = 3


class CoinEnv(gym.Env):
    """Whatever the agent does, an episode is won (terminated, reward 1) or not (cut off by
    the time limit, reward 0) as the reset's coin says; the env itself never says it won."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.wins = bool(self.np_random.random() < 0.5)
        self.steps = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any):
        self.steps += 1
        won = self.wins and self.steps == STEPS
        return np.zeros(2, np.float32), float(won), won, False, {}


def _coin_env(success: Any = None) -> gym.Env:
    env = gym.wrappers.TimeLimit(CoinEnv(), STEPS)
    return make_multimodal(env) if success is None else make_multimodal(env, success=success)


WITH_RULE = register_game(
    "success/CoinRule-v0", lambda: _coin_env("terminated_with_positive_reward")
)
SILENT = register_game("success/CoinSilent-v0", lambda: _coin_env())


def _win_rate() -> float:
    env, wins = CoinEnv(), 0
    for episode in range(EPISODES):
        env.reset(seed=EVAL_SEED_BASE + episode)
        wins += env.wins
    return wins / EPISODES


@pytest.fixture(scope="module")
def model() -> PPO:
    return PPO(
        "MultiInputPolicy", gym.make(WITH_RULE), n_steps=16, batch_size=16, device="cpu", seed=0
    )


def test_the_rule_makes_eval_success_the_win_rate(model) -> None:
    expected = _win_rate()
    assert 0.0 < expected < 1.0  # both kinds of episode occur
    report = evaluate(model, WITH_RULE, episodes=EPISODES)
    assert report.success_reported
    assert report.success_rate == pytest.approx(expected)
    wins = round(expected * EPISODES)
    assert report.endings == dict(
        sorted({"success": wins, "time-out": EPISODES - wins}.items(), key=lambda i: -i[1])
    )
    assert f"success {expected:.1%}" in report.summary()


def test_an_env_without_a_success_signal_is_said_so_not_scored_zero(model) -> None:
    report = evaluate(model, SILENT, episodes=EPISODES)
    assert not report.success_reported
    summary = report.summary()
    assert NO_SUCCESS_SIGNAL in summary
    assert "success 0.0%" not in summary
    assert "failure" not in report.endings  # wins are not called failures
    assert report.endings.get("terminated") == round(_win_rate() * EPISODES)
    data = report.to_dict()  # still has every key ablate.py and the results pages read
    assert data["success_rate"] == 0.0 and data["success_reported"] is False


def test_a_callable_sets_is_success_only_at_the_end_and_only_when_it_knows() -> None:
    calls: list[tuple[float, bool, bool]] = []

    def judge(observation, reward, terminated, truncated, info) -> bool | None:
        calls.append((reward, terminated, truncated))
        return bool(reward > 0) if terminated else None  # a time-out: not known

    env = make_multimodal(gym.wrappers.TimeLimit(CoinEnv(), STEPS), success=judge)
    outcomes = []
    for seed in range(6):
        env.reset(seed=seed)
        for _ in range(STEPS):
            _, _, terminated, truncated, info = env.step(0)
            if not (terminated or truncated):
                assert "is_success" not in info
        outcomes.append(info.get("is_success"))
        assert (info.get("is_success") is None) == (not terminated)
    assert len(calls) == 6  # once per episode, on its last step
    assert set(outcomes) == {True, None}


def test_a_bad_rule_or_answer_names_the_fix() -> None:
    with pytest.raises(ValueError, match="terminated_with_positive_reward"):
        ReportSuccess(CoinEnv(), "won_somehow")
    with pytest.raises(TypeError, match="success must be a function"):
        ReportSuccess(CoinEnv(), 3)
    env = ReportSuccess(
        gym.wrappers.TimeLimit(CoinEnv(), 1), lambda *step: "yes", info_key="is_success"
    )
    env.reset(seed=0)
    with pytest.raises(PluginOutputError, match=r"return True \(won\), False \(lost\) or None"):
        env.step(0)
