"""Training and evaluation from the CLI: run dirs, resume, checkpoints, interruption, ablation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import mmagent
from mmagent.checkpoints import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_model,
    save_atomically,
)
from mmagent.cli import main
from mmagent.config import ConfigError, TrainConfig, resolve_config
from mmagent.evaluation import (
    EVAL_SEED_BASE,
    VALIDATION_SEED_BASE,
    episode_ending,
    evaluate,
    wilson_interval,
)
from mmagent.extractors import multimodal_extractors
from mmagent.train import resume_config, train, with_extractor_sample_rate

TINY = [
    "--n-envs", "2",
    "--device", "cpu",
    "--no-progress-bar",
    "--set", "n_steps=32",
    "--set", "batch_size=64",
    "--set", "n_epochs=1",
    "--set", "eval_freq=256",
    "--set", "eval_episodes=3",
    "--set", "final_eval_episodes=5",
    "--set", "checkpoint_freq=256",
]  # fmt: skip


CUE_MATCH = "mmagent/CueMatch-v0"
SHIPPED_KWARGS = resolve_config(CUE_MATCH).env_kwargs
"""The shipped config's frames and sound (16 pixels, 4 kHz), which its models are trained on."""


def test_evaluating_on_other_observations_names_the_keys_and_the_fix(trained_run: Path) -> None:
    model = load_model(trained_run / "model.zip", device="cpu")
    with pytest.raises(ValueError) as caught:
        evaluate(model, CUE_MATCH, episodes=1)  # the game's defaults: 64 pixels, 16 kHz
    message = str(caught.value)
    assert "'image': (3, 16, 16) trained, (64, 64, 3) here" in message
    assert "'audio': (2, 400) trained, (2, 1600) here" in message
    assert "env_kwargs it was trained with" in message


def _adam_steps(model) -> int:
    state = model.policy.optimizer.state_dict()["state"]
    return int(max(float(entry["step"]) for entry in state.values()))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "cue"
    code = main(
        [
            "train",
            "mmagent/CueMatch-v0",
            "--total-timesteps",
            "512",
            "--run-dir",
            str(run_dir),
            *TINY,
        ]
    )
    assert code == 0
    return run_dir


def test_train_writes_a_complete_run_dir(trained_run: Path) -> None:
    for name in ("config.yaml", "model.zip", "best_model.zip", "eval.json", "evaluations.csv"):
        assert (trained_run / name).is_file(), name
    assert (trained_run / "logs" / "progress.csv").is_file()
    assert latest_checkpoint(trained_run) == checkpoint_path(trained_run, 512)
    report = json.loads((trained_run / "eval.json").read_text())
    assert report["episodes"] == 5 and report["timesteps"] == 512
    assert report["seeds"][0] >= 1_000_000  # held out from the training seeds
    assert set(report["by_instruction_kind"]) <= {"light", "sound"}


def test_the_extractor_hears_the_game_at_its_own_sample_rate(trained_run: Path) -> None:
    # CueMatch's shipped config plays its sound at 4 kHz: the log-mel front end is sized for
    # 4 kHz (a 25 ms window is 100 samples), not for the extractor's 16 kHz default (400)
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["env_kwargs"]["sample_rate"] == 4000
    assert config["policy_kwargs"]["features_extractor_kwargs"]["sample_rate"] == 4000
    model = load_model(trained_run / "model.zip", device="cpu")
    front_end = model.policy.features_extractor.encoders["audio"].front_end
    assert front_end.n_fft == 100


def test_a_sample_rate_the_config_names_is_kept() -> None:
    config = resolve_config(
        "mmagent/CueMatch-v0",
        assignments=["policy_kwargs.features_extractor_kwargs.sample_rate=16000"],
    )
    assert with_extractor_sample_rate(config) == config
    # another features extractor: nothing to tell it
    other = resolve_config(
        "mmagent/CueMatch-v0",
        assignments=[
            "policy_kwargs.features_extractor_class="
            "stable_baselines3.common.torch_layers:CombinedExtractor",
            "policy_kwargs.features_extractor_kwargs=null",
        ],
    )
    assert with_extractor_sample_rate(other) == other
    told = with_extractor_sample_rate(
        resolve_config("mmagent/CueMatch-v0", assignments=["env_kwargs.sample_rate=8000"])
    )
    assert told.policy_kwargs["features_extractor_kwargs"]["sample_rate"] == 8000


def test_eval_cli_reports_success_with_an_interval(trained_run: Path, tmp_path, capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", str(trained_run), "--episodes", "6", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    low, high = report["success_ci95"]
    assert report["episodes"] == 6 and low <= report["success_rate"] <= high
    assert sum(report["endings"].values()) == 6
    assert report["endings"].get("instructed pad", 0) == round(6 * report["success_rate"])
    out = capsys.readouterr().out
    assert "95% CI" in out and "endings: " in out


def test_sampled_evaluation_uses_validation_seeds_while_training(tmp_path, monkeypatch) -> None:
    import mmagent.train

    calls: list[dict] = []

    def recording_evaluate(*args, **kwargs):
        calls.append(kwargs)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(mmagent.train, "evaluate", recording_evaluate)
    run_dir = tmp_path / "sampled"
    args = ["train", "--total-timesteps", "256", "--run-dir", str(run_dir), *TINY]
    assert main([*args, "--set", "eval_deterministic=false"]) == 0
    *periodic, final = calls
    assert periodic and all(call["seed_base"] == VALIDATION_SEED_BASE for call in periodic)
    assert final.get("seed_base", EVAL_SEED_BASE) == EVAL_SEED_BASE
    assert not any(call["deterministic"] for call in calls)
    assert not json.loads((run_dir / "eval.json").read_text())["deterministic"]


def test_eval_cli_acts_as_the_run_was_evaluated_unless_told(trained_run: Path, tmp_path) -> None:
    run_dir = tmp_path / "sampled"
    shutil.copytree(trained_run, run_dir)
    config = run_dir / "config.yaml"
    greedy_config = config.read_text()
    assert "eval_deterministic: true" in greedy_config  # the resolved config records it
    config.write_text(
        greedy_config.replace("eval_deterministic: true", "eval_deterministic: false")
    )
    out = tmp_path / "eval.json"
    for flags, expected in (([], False), (["--deterministic"], True), (["--stochastic"], False)):
        assert main(["eval", str(run_dir), "--episodes", "2", "--json", str(out), *flags]) == 0
        assert json.loads(out.read_text())["deterministic"] is expected, flags
    assert main(["eval", str(trained_run), "--episodes", "2", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["deterministic"] is True  # the default protocol


def test_resume_continues_the_counter_and_the_optimizer(trained_run: Path) -> None:
    before = load_model(checkpoint_path(trained_run, 512))
    first_seconds = json.loads((trained_run / "eval.json").read_text())["wall_seconds"]
    assert (
        main(
            ["train", "--resume", str(trained_run), "--total-timesteps", "768", "--no-progress-bar"]
        )
        == 0
    )
    after = load_model(trained_run / "model.zip")
    assert after.num_timesteps == 768
    # the wall time adds up both parts, and the first part's CSV log is kept beside the new one
    assert json.loads((trained_run / "eval.json").read_text())["wall_seconds"] > first_seconds
    first_log = (trained_run / "logs" / "progress_until_512.csv").read_text()
    assert first_log.count("\n") > 1 and (trained_run / "logs" / "progress.csv").is_file()
    # 256 more steps = 4 rollouts of 64 samples, one minibatch each: 4 more Adam steps
    assert _adam_steps(after) == _adam_steps(before) + 4


def test_crash_mid_save_keeps_the_previous_checkpoint(trained_run: Path, monkeypatch) -> None:
    model = load_model(trained_run / "model.zip")
    target = trained_run / "checkpoints" / "crash_test.zip"
    save_atomically(model, target)
    intact = target.read_bytes()

    def dying_save(handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(model, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_atomically(model, target)
    assert target.read_bytes() == intact
    assert not [path for path in target.parent.iterdir() if path.name.endswith(".tmp")]
    load_model(target)


def test_corrupt_and_missing_checkpoints_say_so(tmp_path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match=r"broken\.zip is corrupt"):
        load_model(broken)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nothing.zip")
    with pytest.raises(CheckpointError, match=r"no model\.zip"):
        load_model(tmp_path)
    assert main(["eval", str(tmp_path / "nothing.zip")]) == 2


def test_cuda_without_a_cuda_device_is_refused_not_run_on_the_cpu(
    trained_run: Path, tmp_path, capsys, monkeypatch
) -> None:
    """SB3 alone would train on the CPU when told ``cuda`` on a machine without one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_dir = tmp_path / "x"
    tiny = ["--set", "n_timesteps=64", "--set", "n_steps=8", "--set", "batch_size=8"]
    tiny += ["--set", "final_eval_episodes=1", "--set", "progress_bar=false"]
    assert main(["train", "--device", "cuda", "--run-dir", str(run_dir), *tiny]) == 2
    assert "sees no CUDA device" in capsys.readouterr().err
    assert not run_dir.exists()
    with pytest.raises(ConfigError, match="'cuda:0' was asked for"):
        load_model(trained_run / "model.zip", device="cuda:0")
    assert main(["eval", str(trained_run), "--device", "cuda", "--episodes", "1"]) == 2
    assert "use device auto or cpu" in capsys.readouterr().err


def test_ablation_hides_the_modality_from_the_policy(trained_run: Path) -> None:
    model = load_model(trained_run / "model.zip", device="cpu")
    rng = np.random.default_rng(0)
    observation = model.observation_space.sample()
    loud = dict(
        observation, audio=rng.uniform(-1, 1, observation["audio"].shape).astype(np.float32)
    )
    quiet = dict(observation, audio=np.zeros_like(observation["audio"]))

    def logits(obs) -> torch.Tensor:
        tensor, _ = model.policy.obs_to_tensor(obs)
        with torch.no_grad():
            return model.policy.get_distribution(tensor).distribution.logits

    assert not torch.allclose(logits(loud), logits(quiet))
    from mmagent.extractors import mask_modalities

    mask_modalities(model, ["audio"])
    assert torch.allclose(logits(loud), logits(quiet))
    mask_modalities(model, [])
    report = evaluate(model, CUE_MATCH, env_kwargs=SHIPPED_KWARGS, episodes=3, ablate=["audio"])
    assert report.ablated == ("audio",)
    assert not torch.allclose(logits(loud), logits(quiet))  # evaluate() unmasks afterwards


def test_sampled_evaluation_is_reproducible_and_leaves_the_rng_alone(trained_run: Path) -> None:
    model = load_model(trained_run / "model.zip", device="cpu")
    reports = []
    for caller_seed in (1, 2):  # whatever the caller's random state, the same samples
        torch.manual_seed(caller_seed)
        state = torch.random.get_rng_state()
        reports.append(
            evaluate(model, CUE_MATCH, env_kwargs=SHIPPED_KWARGS, episodes=8, deterministic=False)
        )
        assert torch.equal(torch.random.get_rng_state(), state)
    assert reports[0] == reports[1] and not reports[0].deterministic


def test_an_env_without_endings_gets_success_failure_or_time_out() -> None:
    assert episode_ending({"is_success": True}, terminated=True) == "success"
    assert episode_ending({}, terminated=True) == "failure"
    assert episode_ending({"is_success": False}, terminated=False) == "time-out"
    assert episode_ending({"ending": "fell", "is_success": False}, terminated=True) == "fell"


def test_wilson_interval_brackets_the_rate() -> None:
    low, high = wilson_interval(95, 100)
    assert 0.88 < low < 0.95 < high < 0.99
    assert wilson_interval(0, 10)[0] == 0.0


def test_unknown_env_and_config_key_are_reported(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit, match="registered mmagent games"):
        main(["train", "mmagent/Nope-v0"])
    assert main(["train", "--set", "n_env=3", "--run-dir", str(tmp_path / "x")]) == 2
    assert "did you mean 'n_envs'" in capsys.readouterr().err


def test_an_extractor_option_the_policy_refuses_is_a_config_error(tmp_path, capsys) -> None:
    run_dir = tmp_path / "x"
    mistyped = "policy_kwargs.features_extractor_kwargs.fusion=flim"
    assert main(["train", "--set", mistyped, "--run-dir", str(run_dir), *TINY]) == 2
    error = capsys.readouterr().err
    assert "could not be built from policy_kwargs" in error
    assert "unknown fusion 'flim' (did you mean 'film'?)" in error
    assert "Traceback" not in error


def test_sigterm_saves_a_checkpoint_and_exits(tmp_path) -> None:
    run_dir = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "mmagent.cli",
        "train",
        "--total-timesteps",
        "1000000",
        "--run-dir",
        str(run_dir),
        *TINY,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    progress = run_dir / "logs" / "progress.csv"
    while time.monotonic() < deadline and not (progress.is_file() and progress.stat().st_size > 0):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert time.monotonic() - signalled < 60  # not the 1M steps asked for (about 2 s when idle)
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and f"resume with: mmagent train --resume {run_dir}" in output
    saved = load_model(checkpoint).num_timesteps
    assert saved > 0
    # the resumed run continues the counter to the new budget
    config = resume_config(run_dir, {"n_timesteps": saved + 64, "final_eval_episodes": 1})
    assert train(config, run_dir, resume=True).timesteps == saved + 64
    assert load_model(run_dir / "model.zip").num_timesteps == saved + 64


def test_training_ablation_mask_is_saved_with_the_model(tmp_path) -> None:
    run_dir = tmp_path / "no_audio"
    mask = "policy_kwargs.features_extractor_kwargs.masked_modalities=[audio]"
    code = main(
        ["train", "--total-timesteps", "64", "--run-dir", str(run_dir), *TINY, "--set", mask]
    )
    assert code == 0
    model = load_model(run_dir / "model.zip")
    (extractor,) = multimodal_extractors(model)
    assert extractor.masked_modalities == {"audio"}
    report = evaluate(model, CUE_MATCH, env_kwargs=SHIPPED_KWARGS, episodes=2, ablate=["text"])
    assert report.ablated == ("text",)
    assert extractor.masked_modalities == {"audio"}  # the trained mask outlives the ablation


def test_shared_memory_vec_env_trains_from_the_config(tmp_path) -> None:
    run_dir = tmp_path / "shared"
    args = ["train", "--total-timesteps", "64", "--run-dir", str(run_dir), *TINY]
    assert main([*args, "--set", "vec_env=shared"]) == 0
    assert load_model(run_dir / "model.zip").num_timesteps == 64


SHIPPED_CONFIGS = sorted((Path(mmagent.__file__).parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize(
    ("shipped", "trainer"),
    [
        *[pytest.param(path, "fast", id=path.stem) for path in SHIPPED_CONFIGS],
        *[
            pytest.param(path, "sb3", id=f"{path.stem}-sb3")
            for path in SHIPPED_CONFIGS
            if path.stem == "CueMatch-v0"  # the game of the report
        ],
    ],
)
def test_every_shipped_config_trains_on_two_envs(shipped: Path, trainer, tmp_path, capsys) -> None:
    """A batch_size larger than the rollout (2 envs × 16 steps) trains on the whole rollout as
    one minibatch, as SB3 does, with a one-line warning; with either trainer."""
    env_id = yaml.safe_load(shipped.read_text())["env_id"]
    run_dir = tmp_path / "run"
    tiny = ["--total-timesteps", "32", "--set", "n_steps=16", "--set", "n_epochs=1"]
    tiny += ["--set", "eval_freq=0", "--set", "checkpoint_freq=0", "--set", "final_eval_episodes=1"]
    args = ["train", env_id, "--n-envs", "2", "--device", "cpu", "--no-progress-bar"]
    assert main([*args, "--trainer", trainer, "--run-dir", str(run_dir), *tiny]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    batch_size = yaml.safe_load(shipped.read_text())["batch_size"]
    assert warnings == [
        f"warning: batch_size {batch_size} exceeds the rollout n_steps × n_envs = 16 × 2 = 32; "
        "each update uses the whole rollout (32 samples) as one minibatch"
    ]
    model = load_model(run_dir / "model.zip")
    assert model.num_timesteps == 32 and model.batch_size == 32
    assert _adam_steps(model) == 1  # one rollout, one epoch, one minibatch


@pytest.mark.parametrize("trainer", ["fast", "sb3"])
def test_a_batch_that_does_not_divide_the_rollout_trains_as_sb3_does(trainer, tmp_path) -> None:
    from tests.test_emergency_checkpoint import tiny_config

    config = tiny_config(n_envs=2, n_steps=16, batch_size=24, n_timesteps=32, trainer=trainer)
    with pytest.warns(UserWarning, match="truncated mini-batch of size 8"):
        train(config, tmp_path / "run")
    model = load_model(tmp_path / "run" / "model.zip")
    assert model.batch_size == 24
    assert _adam_steps(model) == 2  # minibatches of 24 and 8 samples


def test_step_timeout_and_start_method_are_config_keys(tmp_path) -> None:
    config = resolve_config(None, None, ["step_timeout=2.5", "start_method=spawn"], {})
    assert (config.step_timeout, config.start_method) == (2.5, "spawn")
    assert resolve_config(None, None, ["step_timeout=null"], {}).step_timeout is None
    assert TrainConfig().step_timeout == 60.0 and TrainConfig().start_method is None


def test_training_envs_keep_no_episode_history(tmp_path) -> None:
    # SB3's per-env Monitor keeps every episode's return, length and time for the whole run (the
    # soak measured the workers growing ~3.7 MiB per 100k steps); one VecMonitor keeps none.
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import VecMonitor

    from mmagent.train import build_model, make_env

    config = resolve_config(
        "mmagent/CueMatch-v0",
        flags={"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1, "progress_bar": False},
    )
    env = make_env(config)
    assert isinstance(env, VecMonitor)
    assert env.env_is_wrapped(Monitor) == [False, False]
    model = build_model(config, env)
    model.learn(64)
    assert len(model.ep_info_buffer) > 0  # episode returns still reach the logs
    env.close()
