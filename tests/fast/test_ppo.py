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
from mmagent.config import ConfigError, TrainConfig
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


def _same_rollout(reference: PPO, *others: FastPPO) -> None:
    """Collect one rollout with ``reference`` (stock PPO) and copy it, with its advantages and
    returns, into each FastPPO's device buffer; all start from ``reference``'s weights."""
    device = reference.device
    reference._setup_learn(N_STEPS * N_ENVS, callback=None)
    callback = reference._init_callback(None)
    assert reference.collect_rollouts(
        reference.env, callback, reference.rollout_buffer, n_rollout_steps=N_STEPS
    )
    source = reference.rollout_buffer
    last_values = torch.tensor([0.3, -0.2], device=device)
    dones = np.array([False, True])
    for fast in others:
        fast.policy.load_state_dict(reference.policy.state_dict())
        for step in range(N_STEPS):
            fast.rollout_buffer.add(
                {key: array[step] for key, array in source.observations.items()},
                source.actions[step],
                source.rewards[step],
                source.episode_starts[step],
                torch.as_tensor(source.values[step], device=device),
                torch.as_tensor(source.log_probs[step], device=device),
            )
        fast.rollout_buffer.compute_returns_and_advantage(last_values, dones)
        fast._current_progress_remaining = reference._current_progress_remaining
    source.compute_returns_and_advantage(last_values, dones)


@pytest.mark.parametrize("device", DEVICES)
def test_update_equals_sb3s_on_the_same_rollout(device: str) -> None:
    """One full-rollout minibatch per epoch, so the minibatch order cannot matter: the updated
    weights and the logged statistics must match stock PPO's (on a GPU too, where FastPPO's
    rollout lives in device memory)."""
    reference, fast = _model(PPO, device), _model(FastPPO, device)
    _same_rollout(reference, fast)

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


def _bf16_supported(device: str) -> bool:
    return device == "cpu" or torch.cuda.is_bf16_supported()


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_update_runs_in_bfloat16_and_moves_the_weights_as_float32_does(device: str) -> None:
    """The same rollout, updated in float32 and under bfloat16 autocast: the autocast update
    computes in bfloat16, keeps float32 weights, and moves them in nearly the same direction."""
    if not _bf16_supported(device):
        pytest.skip("this GPU has no bfloat16 arithmetic")
    reference = _model(PPO, device)
    exact, mixed = _model(FastPPO, device), _model(FastPPO, device, bf16_update=True)
    _same_rollout(reference, exact, mixed)
    before = torch.cat([p.detach().flatten().clone() for p in exact.policy.parameters()])
    head_dtypes: list[torch.dtype] = []
    mixed.policy.action_net.register_forward_hook(
        lambda _module, _inputs, output: head_dtypes.append(output.dtype)
    )

    exact.train()
    mixed.train()

    assert head_dtypes and set(head_dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in mixed.policy.parameters())
    exact_step = torch.cat([p.detach().flatten() for p in exact.policy.parameters()]) - before
    mixed_step = torch.cat([p.detach().flatten() for p in mixed.policy.parameters()]) - before
    assert torch.isfinite(mixed_step).all() and mixed_step.norm() > 0
    cosine = torch.nn.functional.cosine_similarity(exact_step, mixed_step, dim=0).item()
    assert cosine > 0.98, f"bf16 update direction differs from float32's (cosine {cosine:.3f})"
    for key in ("train/value_loss", "train/entropy_loss"):
        logged = mixed.logger.name_to_value[key]
        assert logged == pytest.approx(exact.logger.name_to_value[key], rel=0.05), key


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_acting_gives_the_policys_values_and_log_probs(
    tmp_path: Path, device: str
) -> None:
    """The compiled acting pass (a CUDA graph on CUDA) returns what the policy computes for
    the same observations, trains, and is left out of the saved model."""
    model = _model(FastPPO, device, compile_acting=True)
    act = model._acting_forward()
    assert act is not model.policy and model._acting_forward() is act  # compiled once
    model.policy.set_training_mode(False)
    observations, _ = model.policy.obs_to_tensor(model.env.reset())
    for _ in range(3):  # later calls replay the compiled (and, on CUDA, captured) pass
        with torch.no_grad():
            actions, values, log_probs = act(observations)
            expected_values, expected_log_probs, _ = model.policy.evaluate_actions(
                observations, actions.long().flatten()
            )
        torch.testing.assert_close(values.flatten(), expected_values.flatten())
        torch.testing.assert_close(log_probs, expected_log_probs)

    model.learn(2 * N_STEPS * N_ENVS)
    assert model.num_timesteps == 2 * N_STEPS * N_ENVS
    assert torch.isfinite(model.rollout_buffer.values).all()
    path = tmp_path / "compiled.zip"
    model.save(path)
    assert FastPPO.load(path, device=device).compile_acting is False  # a trainer option
    assert FastPPO.load(path, device=device, compile_acting=True).compile_acting is True
    assert not hasattr(PPO.load(path, device=device), "compile_acting")


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


def test_fast_trainer_options_reach_fast_ppo_and_are_refused_by_stock_ppo() -> None:
    config = TrainConfig(n_envs=2, n_steps=8, batch_size=8, device="cpu", bf16_update=True)
    env = make_env(config)
    try:
        model = build_model(config, env)
        assert isinstance(model, FastPPO) and model.bf16_update and not model.compile_acting
        config.trainer = "sb3"
        with pytest.raises(ConfigError, match="bf16_update needs trainer: fast"):
            build_model(config, env)
    finally:
        env.close()
