"""DeviceRolloutBuffer: the same advantages and returns as SB3's rollout buffers on the same data,
observations kept in their own dtypes, minibatches that cover the rollout exactly once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer

from mmagent.fast import DeviceRolloutBuffer

N_STEPS, N_ENVS = 16, 3
DICT_SPACE = spaces.Dict(
    {
        "image": spaces.Box(0, 255, (3, 8, 8), np.uint8),
        "text": spaces.Box(0, 20, (5,), np.int64),
        "audio": spaces.Box(-1, 1, (2, 32), np.float32),
    }
)
BOX_SPACE = spaces.Box(-1, 1, (4,), np.float32)


def _rollout(space: spaces.Space, action_space: spaces.Space, seed: int) -> list[dict]:
    """``N_STEPS`` random steps, with episode starts and both signs of reward."""
    rng = np.random.default_rng(seed)
    space.seed(seed)
    action_space.seed(seed)
    steps = []
    for _ in range(N_STEPS):
        obs = [space.sample() for _ in range(N_ENVS)]
        stacked = (
            {key: np.stack([o[key] for o in obs]) for key in obs[0]}
            if isinstance(space, spaces.Dict)
            else np.stack(obs)
        )
        steps.append(
            {
                "obs": stacked,
                "action": np.stack([action_space.sample() for _ in range(N_ENVS)]),
                "reward": rng.normal(size=N_ENVS).astype(np.float32),
                "episode_start": rng.random(N_ENVS) < 0.25,
                "value": torch.as_tensor(rng.normal(size=(N_ENVS, 1)), dtype=torch.float32),
                "log_prob": torch.as_tensor(rng.normal(size=N_ENVS) - 1, dtype=torch.float32),
            }
        )
    return steps


def _fill(buffer: RolloutBuffer | DeviceRolloutBuffer, steps: list[dict]) -> None:
    for step in steps:
        buffer.add(
            step["obs"],
            step["action"],
            step["reward"],
            step["episode_start"],
            step["value"],
            step["log_prob"],
        )


@pytest.mark.parametrize(
    ("space", "reference_class"), [(DICT_SPACE, DictRolloutBuffer), (BOX_SPACE, RolloutBuffer)]
)
@pytest.mark.parametrize("gae_lambda", [0.95, 1.0])
def test_advantages_and_returns_equal_sb3s(
    space: spaces.Space, reference_class: type[RolloutBuffer], gae_lambda: float
) -> None:
    action_space = spaces.Discrete(4)
    steps = _rollout(space, action_space, seed=3)
    kwargs = {"device": "cpu", "gae_lambda": gae_lambda, "gamma": 0.97, "n_envs": N_ENVS}
    reference = reference_class(N_STEPS, space, action_space, **kwargs)
    fast = DeviceRolloutBuffer(N_STEPS, space, action_space, **kwargs)
    _fill(reference, steps)
    _fill(fast, steps)
    last_values = torch.tensor([[0.5], [-0.25], [2.0]])
    dones = np.array([True, False, False])
    reference.compute_returns_and_advantage(last_values, dones)
    fast.compute_returns_and_advantage(last_values, dones)

    np.testing.assert_allclose(fast.advantages.numpy(), reference.advantages, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fast.returns.numpy(), reference.returns, rtol=1e-6, atol=1e-6)
    # The data really exercises the episode boundaries and the final bootstrap.
    assert np.abs(reference.advantages).max() > 0.1
    assert fast.episode_starts.any()


def test_observations_keep_their_dtypes_and_minibatches_cover_the_rollout_once() -> None:
    action_space = spaces.Discrete(4)
    steps = _rollout(DICT_SPACE, action_space, seed=5)
    buffer = DeviceRolloutBuffer(N_STEPS, DICT_SPACE, action_space, device="cpu", n_envs=N_ENVS)
    _fill(buffer, steps)
    buffer.compute_returns_and_advantage(torch.zeros(N_ENVS), np.zeros(N_ENVS, dtype=bool))
    assert buffer.observations["image"].dtype == torch.uint8
    assert buffer.observations["text"].dtype == torch.int64
    assert buffer.observations["audio"].dtype == torch.float32

    # Each flat row is (step, env); find every sampled image among the stored ones.
    stored = np.concatenate([step["obs"]["image"] for step in steps]).reshape(-1, 3 * 8 * 8)
    seen = []
    batches = list(buffer.get(batch_size=10))
    assert [len(batch.advantages) for batch in batches] == [10, 10, 10, 10, 8]
    for batch in batches:
        images = batch.observations["image"]
        assert images.dtype == torch.uint8
        for row, image in enumerate(images.reshape(len(images), -1).numpy()):
            (index,) = np.flatnonzero((stored == image).all(axis=1))
            step, env = divmod(int(index), N_ENVS)
            assert batch.actions[row, 0].item() == steps[step]["action"][env]
            assert batch.old_log_prob[row].item() == pytest.approx(
                steps[step]["log_prob"][env].item()
            )
            np.testing.assert_array_equal(
                batch.observations["text"][row].numpy(), steps[step]["obs"]["text"][env]
            )
            seen.append(int(index))
    assert sorted(seen) == list(range(N_STEPS * N_ENVS))


def test_store_observation_returns_the_slot_the_step_is_recorded_in() -> None:
    buffer = DeviceRolloutBuffer(2, DICT_SPACE, spaces.Discrete(2), device="cpu", n_envs=N_ENVS)
    obs = {
        key: np.stack([space.sample() for _ in range(N_ENVS)]) for key, space in DICT_SPACE.items()
    }
    slot = buffer.store_observation(obs)
    np.testing.assert_array_equal(slot["image"].numpy(), obs["image"])
    assert slot["image"].data_ptr() == buffer.observations["image"][0].data_ptr()
    with pytest.raises(RuntimeError, match="not complete"):
        next(iter(buffer.get(4)))  # nothing recorded yet
    buffer.record_step(
        np.zeros(N_ENVS), np.zeros(N_ENVS), np.zeros(N_ENVS), torch.zeros(3), torch.zeros(3)
    )
    with pytest.raises(RuntimeError, match="store_observation"):
        buffer.record_step(
            np.zeros(N_ENVS), np.zeros(N_ENVS), np.zeros(N_ENVS), torch.zeros(3), torch.zeros(3)
        )
    with pytest.raises(KeyError, match="text"):
        buffer.store_observation({"image": obs["image"], "audio": obs["audio"]})
