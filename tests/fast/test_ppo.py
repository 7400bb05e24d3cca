"""FastPPO: the same update as SB3's PPO on the same rollout, SB3's timeout bootstrapping,
callbacks and save/load in both directions, and the trainer switch of the training config."""

from __future__ import annotations

import functools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from torch.distributions import Distribution

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.config import TrainConfig
from mmagent.extractors import MultimodalExtractor
from mmagent.fast import DeviceRolloutBuffer, FastPPO
from mmagent.train import build_model, make_env

N_ENVS, N_STEPS = 2, 16
SMALL_POLICY = {
    "net_arch": [16],
    "features_extractor_class": MultimodalExtractor,
    "features_extractor_kwargs": {
        "encoder_kwargs": {"image": {"features_dim": 16}, "text": {"features_dim": 8}}
    },
}


def _vec_env(max_episode_steps: int | None = None):
    make = functools.partial(
        gym.make, "mmagent/CueMatch-v0", image_size=36, max_episode_steps=max_episode_steps
    )
    return make_vec_env(make, n_envs=N_ENVS, seed=0)


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]


def _model(algorithm: type[PPO], device: str = "cpu", **kwargs) -> PPO:
    model = algorithm(
        "MultiInputPolicy",
        _vec_env(),
        n_steps=N_STEPS,
        batch_size=N_STEPS * N_ENVS,
        n_epochs=3,
        policy_kwargs=SMALL_POLICY,
        seed=1,
        device=device,
        **kwargs,
    )
    model.set_logger(configure(None, [""]))
    return model


@pytest.mark.parametrize("device", DEVICES)
def test_update_equals_sb3s_on_the_same_rollout(device: str) -> None:
    """One full-rollout minibatch per epoch, so the minibatch order cannot matter: the updated
    weights and the logged statistics must match stock PPO's (on a GPU too, where FastPPO's
    rollout lives in device memory)."""
    reference, fast = _model(PPO, device), _model(FastPPO, device)
    fast.policy.load_state_dict(reference.policy.state_dict())
    reference._setup_learn(N_STEPS * N_ENVS, callback=None)
    callback = reference._init_callback(None)
    assert reference.collect_rollouts(
        reference.env, callback, reference.rollout_buffer, n_rollout_steps=N_STEPS
    )
    source = reference.rollout_buffer
    for step in range(N_STEPS):
        fast.rollout_buffer.add(
            {key: array[step] for key, array in source.observations.items()},
            source.actions[step],
            source.rewards[step],
            source.episode_starts[step],
            torch.as_tensor(source.values[step], device=device),
            torch.as_tensor(source.log_probs[step], device=device),
        )
    last_values = torch.tensor([0.3, -0.2], device=device)
    dones = np.array([False, True])
    source.compute_returns_and_advantage(last_values, dones)
    fast.rollout_buffer.compute_returns_and_advantage(last_values, dones)
    fast._current_progress_remaining = reference._current_progress_remaining

    reference.train()
    fast.train()

    for (name, expected), actual in zip(
        reference.policy.state_dict().items(), fast.policy.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5, msg=name)
    # The update really moved the weights.
    moved = [
        not torch.equal(before, after)
        for before, after in zip(
            _model(PPO, device).policy.state_dict().values(),
            fast.policy.state_dict().values(),
            strict=True,
        )
    ]
    assert any(moved)
    logged_reference = reference.logger.name_to_value
    logged_fast = fast.logger.name_to_value
    for key in ("train/value_loss", "train/policy_gradient_loss", "train/entropy_loss"):
        assert logged_fast[key] == pytest.approx(logged_reference[key], rel=1e-4, abs=1e-6), key
    for key in ("train/approx_kl", "train/clip_fraction", "train/explained_variance"):
        assert logged_fast[key] == pytest.approx(logged_reference[key], rel=1e-3, abs=1e-5), key


def test_truncated_episodes_are_bootstrapped_with_the_terminal_value() -> None:
    model = _model(FastPPO)
    observation_space = model.observation_space
    observation_space.seed(0)
    terminal = [observation_space.sample() for _ in range(N_ENVS)]
    infos = [
        {"terminal_observation": terminal[0], "TimeLimit.truncated": True},
        {"terminal_observation": terminal[1], "TimeLimit.truncated": False},
    ]
    rewards = np.array([1.0, 1.0], dtype=np.float32)
    bootstrapped = model._bootstrap_truncated(rewards, np.array([True, True]), infos)
    obs_tensor, _ = model.policy.obs_to_tensor(terminal[0])
    with torch.no_grad():
        value = model.policy.predict_values(obs_tensor).item()
    assert bootstrapped[0] == pytest.approx(1.0 + model.gamma * value, abs=1e-6)
    assert bootstrapped[1] == 1.0  # terminated, not truncated
    assert rewards[0] == 1.0  # the env's array is left alone


class RecordLocals(BaseCallback):
    """Counts steps and rollouts and checks the locals SB3's callbacks read."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0
        self.rollouts = 0
        self.episodes_ended = 0
        self.distribution_checks: set[bool] = set()

    def _on_step(self) -> bool:
        self.steps += 1
        self.distribution_checks.add(Distribution._validate_args)
        assert len(self.locals["infos"]) == N_ENVS
        self.episodes_ended += int(np.sum(self.locals["dones"]))
        assert self.locals["new_obs"]["image"].dtype == np.uint8
        return True

    def _on_rollout_end(self) -> None:
        self.rollouts += 1


@pytest.mark.parametrize("device", DEVICES)
def test_fast_ppo_learns_with_callbacks_and_saves_for_both_loaders(
    tmp_path: Path, device: str
) -> None:
    model = _model(FastPPO, device)
    assert isinstance(model.rollout_buffer, DeviceRolloutBuffer)
    # the rollout is kept on the training device, frames in their own dtype
    frames = model.rollout_buffer.observations["image"]
    assert (frames.device.type, frames.dtype) == (device, torch.uint8)
    callback = RecordLocals()
    checks_before = Distribution._validate_args
    model.learn(4 * N_STEPS * N_ENVS, callback=callback)
    assert callback.distribution_checks == {False}  # off while acting...
    assert Distribution._validate_args == checks_before  # ...and restored afterwards
    assert model.num_timesteps == 4 * N_STEPS * N_ENVS
    assert (callback.steps, callback.rollouts) == (4 * N_STEPS, 4)
    assert callback.episodes_ended > 0
    assert len(model.ep_info_buffer) > 0

    path = tmp_path / "fast.zip"
    model.save(path)
    observation = model.env.reset()
    expected, _ = model.predict(observation, deterministic=True)
    for algorithm in (PPO, FastPPO):
        loaded = algorithm.load(path, env=_vec_env(), device=device)
        actions, _ = loaded.predict(observation, deterministic=True)
        np.testing.assert_array_equal(actions, expected)
        assert isinstance(loaded.rollout_buffer, DeviceRolloutBuffer) == (algorithm is FastPPO)
    stock_path = tmp_path / "stock.zip"
    PPO.load(path, device=device).save(stock_path)
    resumed = FastPPO.load(stock_path, env=_vec_env(), device=device)
    assert isinstance(resumed.rollout_buffer, DeviceRolloutBuffer)
    resumed.learn(N_STEPS * N_ENVS, reset_num_timesteps=False)
    assert resumed.num_timesteps == 5 * N_STEPS * N_ENVS


def test_time_limited_envs_train(tmp_path: Path) -> None:
    """Episodes cut by a TimeLimit go through the batched bootstrap inside a real rollout."""
    model = FastPPO(
        "MultiInputPolicy",
        _vec_env(max_episode_steps=2),
        n_steps=N_STEPS,
        batch_size=8,
        policy_kwargs=SMALL_POLICY,
        seed=0,
        device="cpu",
    )
    model.learn(N_STEPS * N_ENVS)
    assert torch.isfinite(model.rollout_buffer.returns).all()


@pytest.mark.parametrize(("trainer", "algorithm"), [("fast", FastPPO), ("sb3", PPO)])
def test_training_config_selects_the_trainer(trainer: str, algorithm: type[PPO]) -> None:
    config = TrainConfig(n_envs=2, n_steps=8, batch_size=8, trainer=trainer, device="cpu")
    env = make_env(config)
    try:
        model = build_model(config, env)
    finally:
        env.close()
    assert type(model) is algorithm
    assert TrainConfig().trainer == "fast"
