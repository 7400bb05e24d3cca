"""The RLlib module computes what mmagent's extractor and SB3's actor-critic heads compute."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from stable_baselines3 import PPO

from mmagent.extractors import MultimodalExtractor
from mmagent.plugins import make_env
from mmagent.rllib.module import MultimodalPPOModule

ENV_KWARGS = {"image_size": 16, "sample_rate": 8000}
EXTRACTOR_KWARGS = {
    "fusion": "film",
    "layer_norm": True,
    "encoders": {"audio": "logmel"},
    "sample_rate": 8000,
}


def _observations(env: gym.Env, count: int = 5) -> dict[str, np.ndarray]:
    """A batch of real observations from ``count`` seeded resets."""
    samples = [env.reset(seed=seed)[0] for seed in range(count)]
    return {key: np.stack([sample[key] for sample in samples]) for key in samples[0]}


@pytest.fixture(scope="module")
def env() -> gym.Env:
    game = make_env("mmagent/CueMatch-v0", **ENV_KWARGS)
    yield game
    game.close()


def _module(env: gym.Env, **options) -> MultimodalPPOModule:
    return MultimodalPPOModule(
        observation_space=env.observation_space,
        action_space=env.action_space,
        model_config={"features_extractor_kwargs": EXTRACTOR_KWARGS, **options},
    )


@pytest.mark.filterwarnings("ignore:image 'image'")
def test_features_equal_the_extractor_on_the_same_weights(env) -> None:
    torch.manual_seed(0)
    extractor = MultimodalExtractor(env.observation_space, **EXTRACTOR_KWARGS).eval()
    module = _module(env).eval()
    # different initialisations first, so the comparison below is not true by accident
    observations = _observations(env)
    batch = {key: torch.as_tensor(value) for key, value in observations.items()}
    with torch.no_grad():
        assert not torch.allclose(module.features(batch), extractor(batch))
        module.encoder.load_state_dict(extractor.state_dict())
        torch.testing.assert_close(module.features(batch), extractor(batch))


@pytest.mark.filterwarnings("ignore:image 'image'")
@pytest.mark.parametrize(
    ("net_arch", "activation"), [({"pi": [32], "vf": [16, 8]}, "relu"), ([24], "tanh")]
)
def test_heads_equal_sb3_policy_on_the_same_weights(env, net_arch, activation) -> None:
    """Logits and values equal SB3's ``MultiInputPolicy`` with the same ``policy_kwargs``,
    its weights copied, on the same raw observations (SB3 scales and casts them itself)."""
    model = PPO(
        "MultiInputPolicy",
        env,
        policy_kwargs={
            "features_extractor_class": MultimodalExtractor,
            "features_extractor_kwargs": EXTRACTOR_KWARGS,
            "net_arch": net_arch,
            "activation_fn": {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation],
        },
        device="cpu",
        seed=1,
    )
    policy = model.policy.eval()
    module = _module(env, net_arch=net_arch, activation_fn=activation).eval()
    renamed = {}
    for name, value in policy.state_dict().items():
        if name.startswith(("pi_features_extractor.", "vf_features_extractor.")):
            continue  # the same tensors as features_extractor (shared)
        name = name.replace("features_extractor.", "encoder.", 1)
        name = name.replace("mlp_extractor.policy_net.", "policy_net.", 1)
        name = name.replace("mlp_extractor.value_net.", "value_net.", 1)
        name = name.replace("action_net.", "action_head.", 1)
        if name.startswith("value_net.") and name.count(".") == 1:
            name = name.replace("value_net.", "value_head.", 1)
        renamed[name] = value
    module.load_state_dict(renamed)  # strict: every parameter has its SB3 twin

    observations = _observations(env)
    batch = {key: torch.as_tensor(value) for key, value in observations.items()}
    with torch.no_grad():
        logits = module.forward_inference({Columns.OBS: batch})[Columns.ACTION_DIST_INPUTS]
        values = module.compute_values({Columns.OBS: batch})
        sb3_observations, _ = policy.obs_to_tensor(observations)
        sb3_logits = policy.get_distribution(sb3_observations).distribution.logits
        sb3_values = policy.predict_values(sb3_observations).squeeze(-1)
    torch.testing.assert_close(torch.log_softmax(logits, -1), sb3_logits)
    torch.testing.assert_close(values, sb3_values)


@pytest.mark.filterwarnings("ignore:image 'image'")
@pytest.mark.parametrize(
    ("action_space", "width"),
    [(gym.spaces.MultiDiscrete([3, 4]), 7), (gym.spaces.Box(-1.0, 1.0, (2,)), 4)],
)
def test_other_action_spaces_get_their_distribution_inputs(env, action_space, width) -> None:
    module = MultimodalPPOModule(
        observation_space=env.observation_space,
        action_space=action_space,
        model_config={"features_extractor_kwargs": EXTRACTOR_KWARGS, "log_std_init": -1.0},
    )
    batch = {key: torch.as_tensor(value) for key, value in _observations(env, 3).items()}
    inputs = module.forward_exploration({Columns.OBS: batch})[Columns.ACTION_DIST_INPUTS]
    assert inputs.shape == (3, width)
    actions = module.get_exploration_action_dist_cls().from_logits(inputs).sample()
    if isinstance(action_space, gym.spaces.Box):
        # a Gaussian's samples are unbounded (mmagent's RLlib config clips them for the env, as
        # SB3 does): one per action dimension, with SB3's state-independent log std
        assert actions.shape == (3, 2) and torch.isfinite(actions).all()
        torch.testing.assert_close(inputs[:, 2:], torch.full((3, 2), -1.0))
    else:
        assert all(
            action_space.contains(np.asarray(action, dtype=action_space.dtype))
            for action in actions.numpy()
        )


def test_unsupported_action_space_is_named(env) -> None:
    with pytest.raises(ValueError, match=r"MultiBinary\(3\).*Discrete, MultiDiscrete and Box"):
        MultimodalPPOModule(
            observation_space=env.observation_space,
            action_space=gym.spaces.MultiBinary(3),
            model_config={"features_extractor_kwargs": EXTRACTOR_KWARGS},
        )
