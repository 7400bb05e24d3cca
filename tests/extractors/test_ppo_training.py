"""Every encoder and every fusion trains SB3 PPO, and gradients reach every encoder."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3 import PPO

from mmagent.extractors import FUSION_NAMES, MultimodalExtractor, encoder_names

# Each fusion once, each encoder at least once (not the full cross product).
CASES = [
    ("concat", {"image": "nature", "text": "gru", "audio": "conv1d", "vars": "mlp"}),
    ("sum", {"image": "grid", "text": "bag", "audio": "logmel"}),
    ("gated", {"image": "nature", "text": "transformer", "audio": "logmel"}),
    ("film", {"image": "impala", "text": "gru", "audio": "conv1d"}),
    ("attention", {"image": "small", "text": "transformer", "audio": "conv1d"}),
]
# The test env's 36-pixel frames, read by the grid encoder as 6x6 cells of 6 pixels.
GRID_KWARGS = {"image": {"cell_pixels": 6}}


def test_cases_cover_every_fusion_and_encoder() -> None:
    assert {fusion for fusion, _ in CASES} == set(FUSION_NAMES)
    kinds = {"image": "image", "text": "text", "audio": "audio", "vars": "vector"}
    for key, kind in kinds.items():
        used = {encoders.get(key, "mlp") for _, encoders in CASES}
        assert set(encoder_names(kind)) <= used, (kind, used)


def _small_ppo(env, **extractor_kwargs) -> PPO:
    return PPO(
        "MultiInputPolicy",
        env,
        n_steps=64,
        batch_size=32,
        n_epochs=2,
        seed=0,
        device="cpu",
        policy_kwargs=dict(
            features_extractor_class=MultimodalExtractor,
            features_extractor_kwargs=extractor_kwargs,
            net_arch=[32],
        ),
    )


def _assert_gradients_reach(model: PPO) -> None:
    """One backward pass of a PPO-style loss; every encoder and fusion tensor gets gradient."""
    policy = model.policy
    policy.set_training_mode(True)
    batch = next(model.rollout_buffer.get(batch_size=32))
    values, log_prob, entropy = policy.evaluate_actions(
        batch.observations, batch.actions.long().flatten()
    )
    loss = -log_prob.mean() + values.square().mean() - 0.01 * entropy.mean()
    policy.zero_grad()
    loss.backward()
    extractor = policy.features_extractor
    assert isinstance(extractor, MultimodalExtractor)
    for part_name, part in [*extractor.encoders.items(), ("fusion", extractor.fusion)]:
        for name, parameter in part.named_parameters():
            assert parameter.grad is not None, f"{part_name}.{name} got no gradient"
            assert parameter.grad.abs().sum() > 0, f"{part_name}.{name} got zero gradient"


@pytest.mark.parametrize(("fusion", "encoders"), CASES, ids=[fusion for fusion, _ in CASES])
def test_ppo_trains_with_every_fusion_and_encoder(make_env, fusion, encoders) -> None:
    env = make_env(vector_dim=3 if "vars" in encoders else 0)
    encoder_kwargs = GRID_KWARGS if encoders.get("image") == "grid" else {}
    model = _small_ppo(
        env, encoders=encoders, encoder_kwargs=encoder_kwargs, fusion=fusion, fusion_dim=64
    )
    extractor = model.policy.features_extractor
    assert extractor.encoder_names == {key: encoders[key] for key in extractor.specs}
    before = [p.detach().clone() for p in extractor.parameters()]
    model.learn(256)
    assert model.num_timesteps == 256
    changed = [not torch.equal(b, p) for b, p in zip(before, extractor.parameters(), strict=True)]
    assert sum(changed) > len(changed) // 2, "PPO updates should move the extractor's weights"
    _assert_gradients_reach(model)


def test_features_dim_matches_output_before_any_forward(make_env) -> None:
    env = make_env()
    for fusion in FUSION_NAMES:
        extractor = MultimodalExtractor(env.observation_space, fusion=fusion, fusion_dim=48)
        observation = {
            key: torch.as_tensor(value).unsqueeze(0)
            for key, value in env.observation_space.sample().items()
        }
        assert extractor(observation).shape == (1, extractor.features_dim), fusion
        if fusion in ("sum", "gated", "attention"):
            assert extractor.features_dim == 48


def test_saved_model_reloads_with_the_same_extractor(make_env, tmp_path) -> None:
    env = make_env()
    model = _small_ppo(env, encoders={"audio": "logmel"}, fusion="gated", modality_dropout=0.2)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", env=env, device="cpu")
    extractor = loaded.policy.features_extractor
    assert isinstance(extractor, MultimodalExtractor)
    assert extractor.dropout_probabilities == dict.fromkeys(extractor.specs, 0.2)
    observation, _ = env.reset(seed=1)
    original, _ = model.policy.obs_to_tensor(observation)
    model.policy.set_training_mode(False)  # no modality dropout
    loaded.policy.set_training_mode(False)
    with torch.no_grad():
        expected = model.policy.get_distribution(original).distribution.logits
        actual = loaded.policy.get_distribution(original).distribution.logits
    torch.testing.assert_close(actual, expected)


def test_saved_model_reloads_with_its_layer_norms(make_env, tmp_path) -> None:
    env = make_env()
    model = _small_ppo(env, fusion="film", encoders={"image": "impala"}, layer_norm=True)
    model.learn(64)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", env=env, device="cpu")
    trained = model.policy.features_extractor.layer_norms
    reloaded = loaded.policy.features_extractor.layer_norms
    assert reloaded is not None
    for key, norm in trained.items():
        torch.testing.assert_close(reloaded[key].weight, norm.weight)
        torch.testing.assert_close(reloaded[key].bias, norm.bias)
