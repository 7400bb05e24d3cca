"""Recurrent policies (``algo: ppo_lstm``, sb3-contrib's RecurrentPPO with the multimodal
extractor): config resolution, the LSTM state reset at each episode start in evaluation and
watching, saving, safe loading and resuming, SIGTERM, and the CLI end to end."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO

import mmagent.plugins
import mmagent.train
from mmagent.checkpoints import checkpoint_path, list_checkpoints, load_model
from mmagent.cli import build_parser, main
from mmagent.config import ConfigError, TrainConfig, resolve_config
from mmagent.evaluation import evaluate
from mmagent.fast.recurrent import PackedRecurrentPPO
from mmagent.recurrent import LstmState, algorithm_class, is_recurrent_model, resolve_algorithm
from mmagent.train import build_model, make_env, train
from mmagent.watch.policies import ModelPolicy
from mmagent.watch.rollout import EpisodeRunner
from mmagent.watch.viewer import make_env as make_watch_env

CUE_MATCH = "mmagent/CueMatch-v0"
# episodes of 1 or 2 steps (pressing a pad ends one), so an evaluation crosses many starts
SHORT_EPISODES = {"max_steps": 2, "max_cue_delay": 1, "image_size": 16, "sample_rate": 8000}
SMALL_EXTRACTOR = {"fusion_dim": 32}
TINY_CLI = [
    "--total-timesteps", "64", "--n-envs", "2", "--no-progress-bar",
    "--set", "n_steps=16", "--set", "batch_size=16", "--set", "n_epochs=1",
    "--set", "eval_freq=0", "--set", "checkpoint_freq=0", "--set", "final_eval_episodes=2",
    "--set", "device=cpu", "--set", "env_kwargs.image_size=16",
    "--set", "policy_kwargs.lstm_hidden_size=16",
    "--set", "policy_kwargs.features_extractor_kwargs.fusion_dim=32",
]  # fmt: skip


def tiny_recurrent_config(**overrides: Any) -> TrainConfig:
    """A recurrent CueMatch run of 64 steps on 2 envs with a small LSTM and extractor."""
    values: dict[str, Any] = {
        "env_id": CUE_MATCH,
        "algo": "ppo_lstm",
        "env_kwargs": dict(SHORT_EPISODES),
        "policy_kwargs": {
            "lstm_hidden_size": 16,
            "net_arch": [16],
            "features_extractor_kwargs": SMALL_EXTRACTOR,
        },
        "n_envs": 2,
        "n_timesteps": 64,
        "n_steps": 16,
        "batch_size": 16,
        "n_epochs": 1,
        "eval_freq": 0,
        "eval_episodes": 1,
        "checkpoint_freq": 0,
        "final_eval_episodes": 2,
        "progress_bar": False,
        "device": "cpu",
    }
    return resolve_algorithm(TrainConfig(**(values | overrides)))


@pytest.fixture(scope="module")
def untrained_model() -> RecurrentPPO:
    """A freshly initialised recurrent model (random weights make the LSTM state matter)."""
    config = tiny_recurrent_config()
    env = make_env(config)
    try:
        model = build_model(config, env)
    finally:
        env.close()
    return model


# ---------------------------------------------------------------- config


def test_ppo_lstm_picks_the_lstm_policy_and_the_packed_trainer() -> None:
    config = resolve_config(CUE_MATCH, flags={"algo": "ppo_lstm"})
    resolved = (config.algo, config.policy, config.trainer)
    assert resolved == ("ppo_lstm", "MultiInputLstmPolicy", "fast")
    assert algorithm_class(config) is PackedRecurrentPPO
    plain = resolve_config(CUE_MATCH)
    assert (plain.algo, plain.policy, plain.trainer) == ("ppo", "MultiInputPolicy", "fast")
    assert algorithm_class(plain) is mmagent.train.FastPPO


@pytest.mark.parametrize(
    ("flags", "assignments", "message"),
    [
        ({}, ["policy_kwargs.lstm_hidden_size=32"], "use algo: ppo_lstm"),
        ({}, ["policy=MultiInputLstmPolicy"], "use algo: ppo_lstm"),
        ({"algo": "ppo_lstm"}, ["bf16_update=true"], "drop bf16_update or use algo: ppo"),
        ({"algo": "lstm"}, [], "must be one of ppo, ppo_lstm"),
    ],
)
def test_mismatched_recurrent_settings_are_config_errors(
    flags: dict[str, Any], assignments: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(CUE_MATCH, assignments=assignments, flags=flags)


def test_lstm_policy_kwargs_are_validated_and_reach_the_policy() -> None:
    with pytest.raises(ConfigError, match="lstm_hiden_size"):
        resolve_config(CUE_MATCH, assignments=["policy_kwargs.lstm_hiden_size=8"])
    config = tiny_recurrent_config(
        policy_kwargs={
            "lstm_hidden_size": 8,
            "n_lstm_layers": 2,
            "shared_lstm": True,
            "enable_critic_lstm": False,
            "features_extractor_kwargs": SMALL_EXTRACTOR | {"modality_dropout": 0.1},
        }
    )
    env = make_env(config)
    try:
        model = build_model(config, env)
    finally:
        env.close()
    assert model.policy.lstm_actor.hidden_size == 8
    assert model.policy.lstm_actor.num_layers == 2
    assert model.policy.shared_lstm and model.policy.lstm_critic is None
    assert model.policy.features_extractor.dropout_probabilities["image"] == pytest.approx(0.1)


def test_trainer_sb3_trains_with_sb3_contribs_own_loop(capsys) -> None:
    config = resolve_config(CUE_MATCH, flags={"algo": "ppo_lstm", "trainer": "sb3"})
    assert config.trainer == "sb3" and algorithm_class(config) is RecurrentPPO
    assert capsys.readouterr().err == ""


def test_algo_ppo_drops_only_the_shipped_configs_lstm_options(capsys) -> None:
    recurrent = resolve_config("mmagent/Recall-v0")  # its shipped config is recurrent
    assert recurrent.algo == "ppo_lstm" and recurrent.policy_kwargs["lstm_hidden_size"] == 128
    memoryless = resolve_config("mmagent/Recall-v0", flags={"algo": "ppo"})
    assert memoryless.policy == "MultiInputPolicy"
    assert "lstm_hidden_size" not in memoryless.policy_kwargs
    assert memoryless.policy_kwargs["net_arch"] == recurrent.policy_kwargs["net_arch"]
    assert "the shipped config's lstm_hidden_size do not apply" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"\['lstm_hidden_size'\] in the config configure an"):
        resolve_config(
            "mmagent/Recall-v0",
            assignments=["policy_kwargs.lstm_hidden_size=64"],
            flags={"algo": "ppo"},
        )


def test_cli_offers_algo_choices() -> None:
    args = build_parser().parse_args(["train", "--algo", "ppo_lstm"])
    assert args.algo == "ppo_lstm"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--algo", "a2c"])


# ---------------------------------------------------------------- state reset at episode starts


def _fresh_states(model: RecurrentPPO, episodes: list[list[Any]]) -> list[np.ndarray]:
    """The actor's hidden state after each step, each episode started from a zero state
    (the class's predict: a test may have replaced the model's with a spy)."""
    states = []
    for observations in episodes:
        state, start = None, np.ones((1,), dtype=bool)
        for observation in observations:
            _, state = RecurrentPPO.predict(model, observation, state=state, episode_start=start)
            start = np.zeros((1,), dtype=bool)
            states.append(state[0])
    return states


def _carried_states(model: RecurrentPPO, episodes: list[list[Any]]) -> list[np.ndarray]:
    """As :func:`_fresh_states`, but the state carried over from one episode to the next."""
    flat = [observation for observations in episodes for observation in observations]
    states, state = [], None
    for observation in flat:
        no_start = np.zeros((1,), dtype=bool)
        _, state = RecurrentPPO.predict(model, observation, state=state, episode_start=no_start)
        states.append(state[0])
    return states


def _assert_reset_each_episode(
    model: RecurrentPPO, episodes: list[list[Any]], seen: list[np.ndarray]
) -> None:
    assert len(episodes) >= 3 and sum(map(len, episodes)) == len(seen)
    fresh = _fresh_states(model, episodes)
    for index, (got, expected) in enumerate(zip(seen, fresh, strict=True)):
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"step {index}")
    # the check can fail: a state carried over from the previous episode differs
    carried = _carried_states(model, episodes)
    assert not all(
        np.allclose(got, other, atol=1e-5) for got, other in zip(seen, carried, strict=True)
    )


@pytest.mark.parametrize("deterministic", [True, False], ids=["greedy", "sampled"])
def test_evaluate_resets_the_lstm_state_at_each_episode_start(
    untrained_model: RecurrentPPO, monkeypatch, deterministic: bool
) -> None:
    episodes: list[list[Any]] = []
    seen: list[np.ndarray] = []
    real_make_env = mmagent.plugins.make_env

    class RecordResets(gym.Wrapper):
        def reset(self, **kwargs: Any) -> Any:
            episodes.append([])
            return self.env.reset(**kwargs)

    monkeypatch.setattr(
        mmagent.plugins, "make_env", lambda *a, **k: RecordResets(real_make_env(*a, **k))
    )
    real_predict = untrained_model.predict

    def predict(observation: Any, **kwargs: Any) -> Any:
        action, state = real_predict(observation, **kwargs)
        episodes[-1].append(observation)
        seen.append(state[0])
        return action, state

    monkeypatch.setattr(untrained_model, "predict", predict)
    report = evaluate(
        untrained_model,
        CUE_MATCH,
        env_kwargs=SHORT_EPISODES,
        episodes=6,
        deterministic=deterministic,
    )
    assert report.episodes == 6 and report.mean_length <= 2
    _assert_reset_each_episode(untrained_model, episodes, seen)


def test_watching_resets_the_lstm_state_at_each_episode_start(
    untrained_model: RecurrentPPO,
) -> None:
    env = make_watch_env(CUE_MATCH, SHORT_EPISODES)
    policy = ModelPolicy(untrained_model, deterministic=False)
    assert policy.lstm_state is not None
    runner = EpisodeRunner(env, policy, seed=3)
    episodes: list[list[Any]] = []
    seen: list[np.ndarray] = []
    try:
        for _ in range(4):
            view = runner.reset()
            episodes.append([])
            while True:
                episodes[-1].append(runner._observation)
                seen.append(policy.lstm_state.hidden())
                assert view.policy_info.action_probs is not None
                assert view.policy_info.action_probs.sum() == pytest.approx(1.0, abs=1e-5)
                view = runner.step()
                if view.done:
                    break
    finally:
        env.close()
    _assert_reset_each_episode(untrained_model, episodes, seen)


def test_watch_values_follow_the_critic_lstm(untrained_model: RecurrentPPO) -> None:
    """The HUD's value is the critic's on the same state sequence as RecurrentPPO's forward."""
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    env = make_watch_env(CUE_MATCH, SHORT_EPISODES)
    try:
        first, _ = env.reset(seed=5)
        second, *_ = env.step(0)
    finally:
        env.close()
    tracker = LstmState(untrained_model)
    values = [float(tracker.step(obs, True)[2]) for obs in (first, second)]
    policy = untrained_model.policy
    zeros = torch.zeros(policy.lstm_hidden_state_shape)
    states = RNNStates((zeros, zeros), (zeros, zeros))
    expected = []
    with torch.no_grad():
        for index, observation in enumerate((first, second)):
            tensor, _ = policy.obs_to_tensor(observation)
            _, value, _, states = policy.forward(
                tensor, states, torch.tensor([float(index == 0)]), deterministic=True
            )
            expected.append(float(value))
    assert values == pytest.approx(expected, abs=1e-5)


# ---------------------------------------------------------------- save, load, resume, SIGTERM


def _outputs(model: RecurrentPPO, observations: list[Any]) -> list[tuple[Any, np.ndarray]]:
    state, start, outputs = None, np.ones((1,), dtype=bool), []
    for observation in observations:
        action, state = model.predict(
            observation, state=state, episode_start=start, deterministic=True
        )
        start = np.zeros((1,), dtype=bool)
        outputs.append((int(action), state[0].copy()))
    return outputs


def _observations(count: int) -> list[Any]:
    env = mmagent.plugins.make_env(CUE_MATCH, **SHORT_EPISODES)
    try:
        return [env.reset(seed=seed)[0] for seed in range(count)]
    finally:
        env.close()


def _assert_same_outputs(first: RecurrentPPO, second: RecurrentPPO) -> None:
    observations = _observations(4)
    for (action, state), (other_action, other_state) in zip(
        _outputs(first, observations), _outputs(second, observations), strict=True
    ):
        assert action == other_action
        np.testing.assert_allclose(state, other_state, atol=1e-6)


def test_a_recurrent_run_saves_loads_safely_and_resumes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = train(tiny_recurrent_config(checkpoint_freq=32), run_dir)
    assert result.timesteps == 64 and result.evaluation is not None
    assert "algo: ppo_lstm" in (run_dir / "config.yaml").read_text()
    safe = load_model(run_dir / "model.zip", device="cpu")
    trusted = load_model(run_dir / "model.zip", device="cpu", trust_model=True)
    assert isinstance(safe, RecurrentPPO) and isinstance(trusted, RecurrentPPO)
    assert is_recurrent_model(safe)
    for key, value in trusted.policy.state_dict().items():
        torch.testing.assert_close(safe.policy.state_dict()[key], value)
    _assert_same_outputs(safe, trusted)

    checkpoint = checkpoint_path(run_dir, 64)
    assert checkpoint in list_checkpoints(run_dir)
    before = load_model(checkpoint, device="cpu")
    resumed = train(tiny_recurrent_config(n_timesteps=96), run_dir, resume=True)
    assert resumed.timesteps == 96
    after = load_model(run_dir / "model.zip", device="cpu")
    assert isinstance(after, RecurrentPPO) and after.num_timesteps == 96
    lstm_before = before.policy.lstm_actor.weight_hh_l0
    assert not torch.equal(lstm_before, after.policy.lstm_actor.weight_hh_l0), "it trained on"


@pytest.mark.parametrize("trainer", ["sb3", "fast"])
def test_either_recurrent_trainers_files_load_safely_into_the_other(
    tmp_path: Path, trainer: str
) -> None:
    run_dir = tmp_path / "run"
    train(tiny_recurrent_config(trainer=trainer), run_dir)
    pair = (PackedRecurrentPPO, RecurrentPPO)
    written, other = pair if trainer == "fast" else pair[::-1]
    trusted = load_model(run_dir / "model.zip", device="cpu", trust_model=True)
    assert type(trusted.policy) is written.policy_aliases["MultiInputLstmPolicy"]
    (run_dir / "config.yaml").unlink()  # the policy class must come from the file itself
    safe = load_model(
        run_dir / "model.zip",
        algorithm=other,
        env_id=CUE_MATCH,
        env_kwargs=SHORT_EPISODES,
        device="cpu",
    )
    assert type(safe.policy) is other.policy_aliases["MultiInputLstmPolicy"]
    for key, value in trusted.policy.state_dict().items():
        torch.testing.assert_close(safe.policy.state_dict()[key], value)
    _assert_same_outputs(safe, trusted)


@pytest.mark.parametrize(("trained", "asked"), [("ppo", "ppo_lstm"), ("ppo_lstm", "ppo")])
def test_resuming_with_the_other_algo_is_a_config_error(
    tmp_path: Path, trained: str, asked: str
) -> None:
    run_dir = tmp_path / "run"
    small = {"net_arch": [16], "features_extractor_kwargs": SMALL_EXTRACTOR}
    train(tiny_recurrent_config(algo=trained, policy_kwargs=small, final_eval_episodes=1), run_dir)
    with pytest.raises(ConfigError, match=f"trained with algo {trained}; algo {asked} has another"):
        mmagent.train.resume_config(run_dir, {"algo": asked, "n_timesteps": 32})
    same = mmagent.train.resume_config(run_dir, {"algo": trained, "n_timesteps": 32})
    assert same.algo == trained and same.n_timesteps == 32


def test_sigterm_saves_a_recurrent_checkpoint(tmp_path: Path, monkeypatch) -> None:
    def terminate(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(mmagent.train, "evaluate", terminate)
    run_dir = tmp_path / "run"
    result = train(tiny_recurrent_config(eval_freq=32), run_dir)
    assert result.interrupted
    saved = load_model(result.model_path, device="cpu")
    assert isinstance(saved, RecurrentPPO) and saved.num_timesteps == result.timesteps


# ---------------------------------------------------------------- the CLI end to end


@pytest.mark.parametrize("env_id", ["mmagent/Recall-v0", CUE_MATCH])
def test_cli_trains_evaluates_and_records_a_recurrent_agent(
    tmp_path: Path, env_id: str, capsys
) -> None:
    run_dir = tmp_path / "run"
    extra = ["--set", "video_freq=48"] if env_id == CUE_MATCH else []
    code = main(
        ["train", env_id, "--algo", "ppo_lstm", "--run-dir", str(run_dir), *TINY_CLI, *extra]
    )
    assert code == 0
    config_text = (run_dir / "config.yaml").read_text()
    for line in ("algo: ppo_lstm", "policy: MultiInputLstmPolicy", "trainer: fast"):
        assert line in config_text
    assert isinstance(load_model(run_dir, device="cpu"), RecurrentPPO)
    if extra:
        assert [path.name for path in (run_dir / "videos").iterdir()] == ["step_000000048.mp4"]

    assert main(["eval", str(run_dir), "--episodes", "2", "--ablate", "audio"]) == 0
    assert "ablated audio" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "--episodes", "2", "--stochastic"]) == 0
    assert "sampled actions" in capsys.readouterr().out

    video = tmp_path / "watch.mp4"
    code = main(["watch", str(run_dir), "--record", str(video), "--episodes", "2", "--no-sound"])
    assert code == 0 and video.stat().st_size > 0
