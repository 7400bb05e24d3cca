"""PackedRecurrentPPO: its minibatches encode only their real observations and its LSTM reads a
sequence batch in one call, and neither changes what sb3-contrib's RecurrentPPO computes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.env_util import make_vec_env

from mmagent.fast.recurrent import (
    PackedMultiInputLstmPolicy,
    PackedObservations,
    PackedRecurrentDictRolloutBuffer,
    PackedRecurrentPPO,
)

N_ENVS, N_STEPS, BATCH_SIZE = 3, 20, 24


class RandomLengthEpisodes(gym.Env):
    """Dict observations (uint8 codes and a float vector); episodes of 1 to 12 steps, so a
    minibatch's sequences differ in length and sb3-contrib pads them."""

    observation_space = spaces.Dict(
        {
            "codes": spaces.Box(0, 255, (6,), np.uint8),
            "vector": spaces.Box(-1.0, 1.0, (4,), np.float32),
        }
    )
    action_space = spaces.Discrete(3)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self._left = int(self.np_random.integers(1, 13))
        return self.observation_space.sample(), {}

    def step(self, action: int) -> tuple[Any, float, bool, bool, dict]:
        self._left -= 1
        reward = float(action == 1)
        return self.observation_space.sample(), reward, self._left <= 0, False, {}


def packed_and_stock(policy_kwargs: dict[str, Any]) -> tuple[PackedRecurrentPPO, RecurrentPPO]:
    """A PackedRecurrentPPO after one rollout and update, and a stock RecurrentPPO with its
    weights."""
    env = make_vec_env(RandomLengthEpisodes, n_envs=N_ENVS, seed=0)
    settings = {
        "n_steps": N_STEPS,
        "batch_size": BATCH_SIZE,
        "n_epochs": 1,
        "policy_kwargs": {"lstm_hidden_size": 8, "net_arch": [8]} | policy_kwargs,
        "seed": 0,
        "device": "cpu",
    }
    packed = PackedRecurrentPPO("MultiInputLstmPolicy", env, **settings)
    packed.learn(N_STEPS * N_ENVS)
    stock = RecurrentPPO("MultiInputLstmPolicy", env, **settings)
    stock.policy.load_state_dict(packed.policy.state_dict())
    return packed, stock


def minibatch_indices() -> list[np.ndarray]:
    """Minibatches as RecurrentDictRolloutBuffer.get cuts them, from two split points."""
    size = N_STEPS * N_ENVS
    batches = []
    for split in (0, 7):
        indices = np.roll(np.arange(size), -split)
        batches += [indices[start : start + BATCH_SIZE] for start in range(0, size, BATCH_SIZE)]
    return batches


def env_changes(buffer: RecurrentDictRolloutBuffer) -> np.ndarray:
    change = np.zeros((N_STEPS, N_ENVS))
    change[0, :] = 1.0
    return buffer.swap_and_flatten(change)


def evaluate(model: RecurrentPPO, sample: Any) -> tuple[th.Tensor, ...]:
    actions = sample.actions.long().flatten()
    values, log_prob, entropy = model.policy.evaluate_actions(
        sample.observations, actions, sample.lstm_states, sample.episode_starts
    )
    return values.flatten(), log_prob, entropy


@pytest.mark.parametrize(
    "policy_kwargs",
    [
        {},
        {"shared_lstm": True, "enable_critic_lstm": False},
        {"enable_critic_lstm": False, "n_lstm_layers": 2},
        {"share_features_extractor": False},
    ],
    ids=["separate-lstms", "shared-lstm", "no-critic-lstm-2-layers", "separate-extractors"],
)
def test_packed_minibatches_give_sb3_contribs_losses_and_gradients(
    policy_kwargs: dict[str, Any],
) -> None:
    packed, stock = packed_and_stock(policy_kwargs)
    buffer = packed.rollout_buffer
    assert isinstance(buffer, PackedRecurrentDictRolloutBuffer)
    assert isinstance(packed.policy, PackedMultiInputLstmPolicy)
    padded_somewhere = False
    for indices in minibatch_indices():
        packed_sample = buffer._get_samples(indices, env_changes(buffer))
        stock_sample = RecurrentDictRolloutBuffer._get_samples(buffer, indices, env_changes(buffer))
        observations = packed_sample.observations
        assert isinstance(observations, PackedObservations)
        assert all(len(tensor) == len(indices) for tensor in observations.values())
        padded_somewhere |= observations.padded_size > len(indices)
        for field in ("actions", "old_values", "old_log_prob", "advantages", "returns", "mask"):
            assert th.equal(getattr(packed_sample, field), getattr(stock_sample, field)), field
        assert th.equal(packed_sample.episode_starts, stock_sample.episode_starts)
        for mine, theirs in zip(
            [*packed_sample.lstm_states.pi, *packed_sample.lstm_states.vf],
            [*stock_sample.lstm_states.pi, *stock_sample.lstm_states.vf],
            strict=True,
        ):
            assert th.equal(mine, theirs)
        for model in (packed, stock):
            model.policy.zero_grad()
        mask = stock_sample.mask > 0
        outputs = [evaluate(packed, packed_sample), evaluate(stock, stock_sample)]
        for mine, theirs in zip(*outputs, strict=True):
            th.testing.assert_close(mine[mask], theirs[mask], rtol=1e-5, atol=1e-6)
        for values, log_prob, entropy in outputs:
            (values[mask].square().sum() + log_prob[mask].sum() - entropy[mask].sum()).backward()
        for (name, mine), theirs in zip(
            packed.policy.named_parameters(), stock.policy.parameters(), strict=True
        ):
            if theirs.grad is None:
                assert mine.grad is None or not mine.grad.any(), name
                continue
            th.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-6, msg=name)
    assert padded_somewhere, "the episodes should make sb3-contrib pad some minibatch"


def test_the_extractor_reads_each_sample_once_per_epoch() -> None:
    packed, stock = packed_and_stock({})
    stock.learn(N_STEPS * N_ENVS)  # a rollout of its own
    seen = {}
    for name, model in (("packed", packed), ("stock", stock)):
        rows = []
        hook = model.policy.features_extractor.register_forward_pre_hook(
            lambda _module, inputs, rows=rows: rows.append(len(inputs[0]["vector"]))
        )
        model.train()  # one epoch over the rollout it holds
        hook.remove()
        seen[name] = sum(rows)
    assert seen["packed"] == N_STEPS * N_ENVS, "every real sample once, no padding"
    assert seen["stock"] > N_STEPS * N_ENVS, "sb3-contrib's update reads the padding too"


@pytest.mark.parametrize("reset_inside", [False, True], ids=["resets-at-starts", "reset-inside"])
def test_one_lstm_call_equals_sb3_contribs_step_by_step_replay(reset_inside: bool) -> None:
    th.manual_seed(0)
    lstm = th.nn.LSTM(5, 6, num_layers=2)
    n_seq, length = 4, 7
    features = th.randn(n_seq * length, 5)
    states = (th.randn(2, n_seq, 6), th.randn(2, n_seq, 6))
    starts = th.zeros(n_seq, length)
    starts[[0, 2], 0] = 1.0
    if reset_inside:
        starts[1, 4] = 1.0
    starts = starts.flatten()
    mine = PackedMultiInputLstmPolicy._process_sequence(features, states, starts, lstm)
    theirs = RecurrentActorCriticPolicy._process_sequence(features, states, starts, lstm)
    th.testing.assert_close(mine[0], theirs[0], rtol=1e-5, atol=1e-6)
    for state, expected in zip(mine[1], theirs[1], strict=True):
        th.testing.assert_close(state, expected, rtol=1e-5, atol=1e-6)
    # the reset matters: without it the step-by-step replay gives other outputs
    unreset = RecurrentActorCriticPolicy._process_sequence(
        features, states, th.zeros_like(starts), lstm
    )
    assert not th.allclose(unreset[0], theirs[0], atol=1e-3)


def test_box_observations_keep_sb3_contribs_padded_buffer_and_train() -> None:
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = PackedRecurrentPPO(
        "MlpLstmPolicy",
        env,
        n_steps=16,
        batch_size=16,
        n_epochs=1,
        policy_kwargs={"lstm_hidden_size": 8, "net_arch": [8]},
        seed=0,
        device="cpu",
    )
    before = [parameter.detach().clone() for parameter in model.policy.parameters()]
    model.learn(32)
    assert type(model.rollout_buffer).__name__ == "RecurrentRolloutBuffer"
    assert any(
        not th.equal(old, new) for old, new in zip(before, model.policy.parameters(), strict=True)
    ), "one update should move the weights"
