"""FastPPO is SB3's PPO on every branch it accepts.

Each case trains stock ``PPO`` and ``FastPPO`` from the same seed on the same tiny env (two
rollouts, two updates, several minibatches per epoch) and compares what both learned: the
weights, the last rollout (actions, rewards, values, log-probabilities, advantages, returns), the
finished episodes, and each update's logged statistics (``train/*``: losses, ``approx_kl``,
``clip_fraction``, ``n_updates``, and the epoch ``target_kl`` stopped at). The config path
(``TrainConfig`` → ``build_model``) is compared the same way.

A last test fingerprints the SB3 source FastPPO copies, so an SB3 upgrade that changes it fails
here until the equality tests are re-run and the recorded hashes updated.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import BaseBuffer, DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.config import TrainConfig
from mmagent.fast import FastPPO
from mmagent.train import build_model, make_env

N_ENVS, N_STEPS, BATCH_SIZE, N_EPOCHS = 2, 16, 8, 3
IMAGE_SHAPE = (36, 36, 3)  # the smallest frame SB3's NatureCNN takes


class TinyGame(gym.Env):
    """An inline dummy game, any action space. Observations (``kind``): ``dict``, a small uint8
    frame and a float vector; ``vector``, the vector alone; ``discrete``, a ``Discrete`` cell.
    The reward depends on the action and the observation; episodes end at random (and, through
    ``TimeLimit``, by truncation, which PPO bootstraps)."""

    def __init__(self, action_space: spaces.Space, kind: str = "dict") -> None:
        self.action_space = action_space
        vector = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.kind = kind
        self.observation_space = {
            "dict": spaces.Dict(
                {"image": spaces.Box(0, 255, IMAGE_SHAPE, np.uint8), "vector": vector}
            ),
            "vector": vector,
            "discrete": spaces.Discrete(5),
        }[kind]
        self._vector = np.zeros(3, dtype=np.float32)

    def _observation(self) -> Any:
        self._vector = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        if self.kind == "vector":
            return self._vector
        if self.kind == "discrete":
            cell = int(self.np_random.integers(5))
            self._vector[0] = cell / 5
            return cell
        image = self.np_random.integers(0, 256, IMAGE_SHAPE, dtype=np.uint8)
        return {"image": image, "vector": self._vector}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return self._observation(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        total = float(np.sum(np.asarray(action, dtype=np.float64)))
        reward = float(np.cos(total + 3.0 * self._vector[0]))
        terminated = bool(self.np_random.random() < 0.1)
        return self._observation(), reward, terminated, False, {}


def _vec_env(action_space: spaces.Space, kind: str = "dict"):
    return make_vec_env(
        lambda: gym.wrappers.TimeLimit(TinyGame(action_space, kind), 6),
        n_envs=N_ENVS,
        seed=0,
    )


SMALL_POLICY: dict[str, Any] = {
    "net_arch": [16],
    "features_extractor_kwargs": {"cnn_output_dim": 8},
}
DISCRETE = spaces.Discrete(3)
BOX = spaces.Box(-1.0, 1.0, (2,), np.float32)
WIDE_BOX = spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 5.0], np.float32))

# name: (action space, PPO keywords, TinyGame's observation kind)
CASES: dict[str, tuple[spaces.Space, dict[str, Any], str]] = {
    "discrete": (DISCRETE, {}, "dict"),
    "target_kl": (DISCRETE, {"target_kl": 0.004, "learning_rate": 3e-3, "n_epochs": 6}, "dict"),
    "clip_range_vf": (DISCRETE, {"clip_range_vf": 0.05}, "dict"),
    "clip_range_vf_schedule": (
        DISCRETE,
        # (not down to 0: with a zero clip range, whether the value loss has a gradient at all
        # hangs on the new values equalling the old ones bit for bit, float noise in any port)
        {"clip_range_vf": lambda progress: 0.05 + 0.1 * progress, "clip_range": 0.1},
        "dict",
    ),
    "normalize_advantage_off": (DISCRETE, {"normalize_advantage": False}, "dict"),
    "box": (WIDE_BOX, {}, "dict"),
    "box_target_kl": (BOX, {"target_kl": 0.002, "learning_rate": 3e-3, "n_epochs": 6}, "dict"),
    "multidiscrete": (spaces.MultiDiscrete([3, 2]), {}, "dict"),
    "multibinary": (spaces.MultiBinary(3), {}, "dict"),
    "gsde": (BOX, {"use_sde": True}, "dict"),
    "gsde_sample_freq": (WIDE_BOX, {"use_sde": True, "sde_sample_freq": 4}, "dict"),
    "gsde_squashed": (
        WIDE_BOX,
        {"use_sde": True, "policy_kwargs": {"squash_output": True, "net_arch": [16]}},
        "dict",
    ),
    "vector_observations": (DISCRETE, {}, "vector"),
    "vector_observations_box": (BOX, {}, "vector"),
    "discrete_observations": (spaces.MultiDiscrete([3, 2]), {}, "discrete"),
}


class Trained:
    """What one training run leaves to compare: the logged statistics after each update, the
    printed early-stopping lines, the weights, the last rollout and the finished episodes."""

    def __init__(self, model: PPO, updates: list[dict[str, Any]], printed: list[str]) -> None:
        self.model = model
        self.updates = updates
        self.early_stops = [line for line in printed if line.startswith("Early stopping")]
        self.weights = {name: value.clone() for name, value in model.policy.state_dict().items()}
        self.episodes = [(info["r"], info["l"]) for info in model.ep_info_buffer]


def _recording_updates(model: PPO) -> list[dict[str, Any]]:
    """Wrap ``model.train`` so each update's ``train/*`` records are kept (``learn`` dumps and
    clears the logger between updates)."""
    updates: list[dict[str, Any]] = []
    train = model.train

    def train_and_record() -> None:
        train()
        logged = model.logger.name_to_value
        updates.append({key: value for key, value in logged.items() if key.startswith("train/")})

    model.train = train_and_record  # type: ignore[method-assign]
    return updates


def _train(
    algorithm: type[PPO],
    make_model: Callable[[type[PPO]], PPO],
    capsys: pytest.CaptureFixture[str],
    rollouts: int = 2,
    planned_rollouts: int | None = None,
) -> Trained:
    """Build (seeding every generator) and train one model for ``rollouts`` updates; built and
    trained before the other one is built, so both start from the same global random state.
    ``planned_rollouts`` (stopped early) keeps schedules away from their end value."""
    capsys.readouterr()
    model = make_model(algorithm)
    model.set_logger(configure(None, [""]))
    updates = _recording_updates(model)
    steps = rollouts * model.n_steps * model.n_envs
    model.learn(
        (planned_rollouts or rollouts) * model.n_steps * model.n_envs,
        callback=lambda local_vars, _globals: local_vars["self"].num_timesteps <= steps,
    )
    printed = capsys.readouterr().out.splitlines()
    return Trained(model, updates, printed)


def _steps_first(array: np.ndarray) -> np.ndarray:
    """SB3's rollout array after ``get`` (flattened env-major) as ``(steps, envs, -1)``."""
    return array.reshape(N_ENVS, N_STEPS, -1).swapaxes(0, 1)


def _assert_same_training(reference: Trained, fast: Trained, initial: dict[str, Any]) -> None:
    # the weights: equal, and moved by the updates
    for name, expected in reference.weights.items():
        torch.testing.assert_close(fast.weights[name], expected, rtol=1e-4, atol=1e-5, msg=name)
    assert any(not torch.equal(initial[name], value) for name, value in fast.weights.items())

    # the last rollout: what was acted, earned, estimated and computed from it
    sb3, device = reference.model.rollout_buffer, fast.model.rollout_buffer
    for name, expected in {
        "actions": _steps_first(sb3.actions),
        "values": _steps_first(sb3.values),
        "log_probs": _steps_first(sb3.log_probs),
        "advantages": _steps_first(sb3.advantages),
        "returns": _steps_first(sb3.returns),
    }.items():
        actual = getattr(device, name).cpu().numpy().reshape(N_STEPS, N_ENVS, -1)
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(device.rewards, sb3.rewards, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(device.episode_starts, sb3.episode_starts)
    assert fast.model.num_timesteps == reference.model.num_timesteps
    assert [length for _, length in fast.episodes] == [length for _, length in reference.episodes]
    np.testing.assert_allclose(
        [r for r, _ in fast.episodes], [r for r, _ in reference.episodes], atol=1e-4
    )

    # each update's statistics, and where target_kl stopped it
    assert len(fast.updates) == len(reference.updates) == 2
    for expected, actual in zip(reference.updates, fast.updates, strict=True):
        assert actual.keys() == expected.keys()
        for key, value in expected.items():
            if key in ("train/n_updates", "train/clip_range", "train/clip_range_vf"):
                assert actual[key] == value, key
            else:
                assert actual[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key
    assert fast.early_stops == reference.early_stops


@pytest.mark.parametrize("case", list(CASES))
def test_fast_ppo_trains_as_sb3s_ppo(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    _check_case(case, "cpu", capsys)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("case", ["discrete", "target_kl", "gsde_sample_freq", "multidiscrete"])
def test_fast_ppo_trains_as_sb3s_ppo_on_cuda(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    """On a GPU FastPPO's rollout and minibatches live in device memory; still SB3's PPO."""
    _check_case(case, "cuda", capsys)


def _check_case(case: str, device: str, capsys: pytest.CaptureFixture[str]) -> None:
    action_space, keywords, kind = CASES[case]
    keywords = dict(keywords)
    policy_kwargs = keywords.pop("policy_kwargs", SMALL_POLICY)
    if kind != "dict":
        policy_kwargs = {"net_arch": [16]}
    options = {"n_steps": N_STEPS, "batch_size": BATCH_SIZE, "n_epochs": N_EPOCHS, **keywords}
    initial: dict[str, Any] = {}

    def make_model(algorithm: type[PPO]) -> PPO:
        model = algorithm(
            "MultiInputPolicy" if kind == "dict" else "MlpPolicy",
            _vec_env(action_space, kind),
            policy_kwargs=policy_kwargs,
            seed=1,
            device=device,
            verbose=1 if "target_kl" in keywords else 0,
            **options,
        )
        initial.update({k: v.clone() for k, v in model.policy.state_dict().items()})
        return model

    reference = _train(PPO, make_model, capsys)
    fast = _train(FastPPO, make_model, capsys)

    _assert_same_training(reference, fast, initial)
    n_updates = [update["train/n_updates"] for update in reference.updates]
    if "target_kl" in keywords:
        # early stopping happened, and not only at the first minibatch of the first epoch
        epochs = [n_updates[0], n_updates[1] - n_updates[0]]
        assert fast.early_stops and min(epochs) < options["n_epochs"], epochs
        assert max(epochs) > 1, epochs
    else:
        assert n_updates == [N_EPOCHS, 2 * N_EPOCHS]
    if isinstance(action_space, spaces.Box):
        assert "train/std" in fast.updates[-1]
    if "clip_range_vf" in keywords:
        assert "train/clip_range_vf" in fast.updates[-1]


def test_target_kl_stops_both_at_the_same_epochs_across_thresholds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Sweeping target_kl moves the stopping epoch; FastPPO stops where SB3 does each time."""
    stops: list[list[int]] = []
    for target_kl in (0.001, 0.01):

        def make_model(algorithm: type[PPO], target_kl: float = target_kl) -> PPO:
            return algorithm(
                "MultiInputPolicy",
                _vec_env(DISCRETE),
                n_steps=N_STEPS,
                batch_size=BATCH_SIZE,
                n_epochs=8,
                learning_rate=3e-3,
                target_kl=target_kl,
                policy_kwargs=SMALL_POLICY,
                seed=1,
                device="cpu",
                verbose=1,
            )

        reference = _train(PPO, make_model, capsys, rollouts=1)
        fast = _train(FastPPO, make_model, capsys, rollouts=1)
        assert fast.early_stops == reference.early_stops
        assert fast.updates[0]["train/n_updates"] == reference.updates[0]["train/n_updates"]
        for key in ("train/approx_kl", "train/clip_fraction", "train/loss"):
            expected = reference.updates[0][key]
            assert fast.updates[0][key] == pytest.approx(expected, rel=1e-3, abs=1e-6), key
        stops.append(reference.updates[0]["train/n_updates"])
    assert stops[0] < stops[1], stops  # the thresholds really stop at different epochs


def test_the_config_path_trains_fast_and_sb3_alike(capsys: pytest.CaptureFixture[str]) -> None:
    """``trainer: fast`` and ``trainer: sb3`` built from one TrainConfig (schedules, several
    minibatches per epoch) learn the same weights and log the same statistics."""
    config = TrainConfig(
        env_kwargs={"image_size": 36},
        policy_kwargs={
            "net_arch": [16],
            "features_extractor_kwargs": {
                "encoder_kwargs": {"image": {"features_dim": 16}, "text": {"features_dim": 8}}
            },
        },
        n_envs=N_ENVS,
        n_steps=8,
        batch_size=8,
        n_epochs=2,
        learning_rate="lin_0.001",
        clip_range="lin_0.2",
        device="cpu",
        progress_bar=False,
    )
    runs: dict[str, Trained] = {}
    envs = []

    def make_model(algorithm: type[PPO]) -> PPO:
        config.trainer = "fast" if algorithm is FastPPO else "sb3"
        env = make_env(config)
        envs.append(env)
        model = build_model(config, env)
        assert type(model) is algorithm
        return model

    try:
        for algorithm in (PPO, FastPPO):
            runs[algorithm.__name__] = _train(algorithm, make_model, capsys, planned_rollouts=4)
    finally:
        for env in envs:
            env.close()
    reference, fast = runs["PPO"], runs["FastPPO"]
    for name, expected in reference.weights.items():
        torch.testing.assert_close(fast.weights[name], expected, rtol=1e-4, atol=1e-5, msg=name)
    assert len(reference.updates) == 2
    for expected, actual in zip(reference.updates, fast.updates, strict=True):
        assert actual["train/n_updates"] == expected["train/n_updates"]
        assert actual["train/clip_range"] == expected["train/clip_range"]
        for key in ("train/loss", "train/value_loss", "train/approx_kl", "train/clip_fraction"):
            assert actual[key] == pytest.approx(expected[key], rel=1e-3, abs=1e-5), key
    assert reference.updates[0]["train/clip_range"] != reference.updates[1]["train/clip_range"]


# The SB3 code FastPPO re-implements (mmagent/fast/ppo.py, mmagent/fast/buffer.py), hashed as
# it reads in the pinned stable-baselines3 (pyproject.toml).
PINNED_SB3 = "2.9"
COPIED_SB3_CODE: dict[str, tuple[Callable[..., Any], str]] = {
    "PPO.train": (PPO.train, "7c8d09940123242f"),
    "PPO._setup_model": (PPO._setup_model, "165f5575cd97df1b"),
    "OnPolicyAlgorithm.collect_rollouts": (OnPolicyAlgorithm.collect_rollouts, "07f9eed35d9d7392"),
    "RolloutBuffer.compute_returns_and_advantage": (
        RolloutBuffer.compute_returns_and_advantage,
        "1a229ef50a037a1e",
    ),
    "RolloutBuffer.add": (RolloutBuffer.add, "624274151cae9064"),
    "RolloutBuffer.get": (RolloutBuffer.get, "7500122932f89e08"),
    "DictRolloutBuffer.get": (DictRolloutBuffer.get, "b5227e87a87a6e47"),
    "BaseBuffer.swap_and_flatten": (BaseBuffer.swap_and_flatten, "df90cbd7faea2a56"),
}


def _fingerprint(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", list(COPIED_SB3_CODE))
def test_the_sb3_code_fastppo_copies_is_unchanged(name: str) -> None:
    function, recorded = COPIED_SB3_CODE[name]
    actual = _fingerprint(function)
    assert actual == recorded, (
        f"stable-baselines3 {stable_baselines3.__version__} changed {name}, which FastPPO "
        f"re-implements (recorded for stable-baselines3 {PINNED_SB3}.x): port the change into "
        "mmagent/fast/ppo.py or buffer.py, re-run tests/fast/test_sb3_equality.py, then record "
        f"the new hash {actual!r} here and widen the pin in pyproject.toml"
    )


def test_the_installed_sb3_is_the_pinned_minor_version() -> None:
    assert re.match(rf"{re.escape(PINNED_SB3)}\.\d+", stable_baselines3.__version__), (
        f"stable-baselines3 {stable_baselines3.__version__} is installed; pyproject.toml pins "
        f"{PINNED_SB3}.x, the version tests/fast/test_sb3_equality.py passes on"
    )
