"""TrainConfig → RLlib's PPOConfig: the shared keys map, keys without an RLlib meaning are
refused by name."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("ray")

from mmagent.config import ConfigError, TrainConfig, resolve_config
from mmagent.rllib.config import build_ppo_config, check_rllib_config
from mmagent.train import train


def _config(**values) -> TrainConfig:
    return dataclasses.replace(TrainConfig(backend="rllib"), **values)


def test_shared_keys_map_onto_ppo_config() -> None:
    config = _config(
        n_envs=6,
        num_env_runners=3,
        n_steps=32,
        batch_size=1000,
        n_epochs=3,
        learning_rate="lin_0.001",
        n_timesteps=5000,
        gamma=0.9,
        gae_lambda=0.8,
        clip_range=0.1,
        ent_coef=0.02,
        vf_coef=0.25,
        max_grad_norm=0.7,
        seed=7,
        num_gpus_per_learner=0.5,
    )
    ppo = build_ppo_config(config)
    assert (ppo.num_env_runners, ppo.num_envs_per_env_runner) == (3, 2)
    assert ppo.rollout_fragment_length == 32
    assert ppo.train_batch_size_per_learner == 32 * 6
    assert ppo.minibatch_size == 32 * 6  # batch_size above the rollout: the whole rollout
    assert ppo.num_epochs == 3
    assert ppo.lr == [[0, 0.001], [5000, 0.0]]
    assert (ppo.gamma, ppo.lambda_, ppo.clip_param) == (0.9, 0.8, 0.1)
    assert (ppo.entropy_coeff, ppo.vf_loss_coeff) == (0.02, 0.25)
    assert (ppo.grad_clip, ppo.grad_clip_by) == (0.7, "global_norm")
    assert ppo.seed == 7
    assert ppo.num_gpus_per_learner == 0.5
    # SB3's PPO: no KL penalty, no value clipping
    assert ppo.use_kl_loss is False
    assert ppo.vf_clip_param == float("inf")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"vec_env": "subproc"}, "'vec_env'"),
        ({"trainer": "sb3"}, "'trainer'"),
        ({"device": "cpu"}, "'device'"),
        ({"bf16_update": True}, "'bf16_update'"),
        ({"video_freq": 1000}, "'video_freq'"),
        ({"policy_kwargs": {"optimizer_kwargs": {"eps": 1e-5}}}, "policy_kwargs.optimizer_kwargs"),
        ({"clip_range": "lin_0.2"}, "clip_range 'lin_0.2'"),
        ({"n_envs": 5, "num_env_runners": 2}, "n_envs 5 .* num_env_runners 2"),
        ({"algo": "ppo_lstm"}, "algo 'ppo_lstm'"),
    ],
)
def test_keys_without_rllib_meaning_are_refused_by_name(values, named) -> None:
    with pytest.raises(ConfigError, match=named):
        check_rllib_config(_config(**values))


def test_defaults_and_meaningful_keys_pass() -> None:
    check_rllib_config(_config())
    check_rllib_config(
        _config(policy_kwargs={"net_arch": [64], "features_extractor_kwargs": {"fusion": "film"}})
    )


def test_ppo_lstm_with_rllib_is_refused_before_ray_starts(tmp_path) -> None:
    import ray

    config = resolve_config("mmagent/CueMatch-v0", None, ["backend=rllib", "algo=ppo_lstm"])
    with pytest.raises(ConfigError, match="algo 'ppo_lstm' is not available with backend rllib"):
        train(config, tmp_path / "run")
    assert not ray.is_initialized()
    assert not (tmp_path / "run").exists()


@pytest.mark.filterwarnings("ignore:image 'image'")
def test_policy_kwargs_the_module_refuses_are_a_config_error_before_ray_starts(tmp_path) -> None:
    import ray

    settings = ["backend=rllib", "env_kwargs.image_size=16", "policy_kwargs.activation_fn=swish"]
    config = resolve_config("mmagent/CueMatch-v0", None, settings)
    with pytest.raises(ConfigError, match="activation_fn 'swish' is unknown; use one of"):
        train(config, tmp_path / "run")
    assert not ray.is_initialized()
