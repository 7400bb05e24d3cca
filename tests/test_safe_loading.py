"""Safe model loading: nothing in a model file is unpickled unless --trust-model.

A crafted model.zip whose clip_range pickle writes a file is refused by eval, watch and resume
(and the file is not written); with --trust-model SB3's loader runs it (and the file is
written). Genuine models load to the same weights, optimizer, counters and predictions as with
SB3's own loader, and a resumed run continues exactly as it does after SB3's loader.
"""

from __future__ import annotations

import argparse
import base64
import json
import pathlib
import shutil
import warnings
import zipfile
from collections import deque
from pathlib import Path

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.checkpoints import (
    CheckpointError,
    CorruptCheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_model,
)
from mmagent.cli import main
from mmagent.fast import FastPPO
from mmagent.safe_loading import (
    ModelMismatchError,
    UntrustedModelError,
    load_model_safely,
    pickled_globals,
)
from mmagent.watch import add_watch_arguments, load_policy, run_watch

GAME = "mmagent/CueMatch-v0"
TINY = [
    "--n-envs", "1",
    "--device", "cpu",
    "--no-progress-bar",
    "--set", "env_kwargs.image_size=36",
    "--set", "env_kwargs.sample_rate=16000",  # the game's own sound (the shipped config: 4 kHz)
    "--set", "n_steps=32",
    "--set", "batch_size=32",
    "--set", "n_epochs=1",
    "--set", "eval_freq=0",
    "--set", "final_eval_episodes=1",
    "--set", "checkpoint_freq=32",
]  # fmt: skip
RUNS = {
    # the fast trainer with the shipped config: constant schedules, mmagent's extractor
    "fast": [],
    # stock SB3 with mmagent's lin_ schedules (pickled functions) and a class in policy_kwargs
    "sb3-schedules": [
        "--trainer", "sb3",
        "--set", "learning_rate=lin_1e-3",
        "--set", "clip_range=lin_0.3",
        "--set", "policy_kwargs.activation_fn=tanh",
    ],
}  # fmt: skip


class _WriteFile:
    """Unpickling this runs ``Path(target).write_text("pwned")``: a model file's payload."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.write_text, (pathlib.Path(self.target), "pwned"))


def _train(run_dir: Path, steps: int, extra: list[str]) -> Path:
    args = ["train", GAME, "--total-timesteps", str(steps), "--run-dir", str(run_dir)]
    assert main([*args, *TINY, *extra]) == 0
    return run_dir


@pytest.fixture(scope="module", params=sorted(RUNS))
def genuine_run(request, tmp_path_factory) -> Path:
    """A run directory from a tiny training run: config.yaml, model.zip, checkpoints."""
    return _train(tmp_path_factory.mktemp("runs") / request.param, 64, RUNS[request.param])


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("runs") / "fast", 64, RUNS["fast"])


def _rewrite_data(source: Path, target: Path, change) -> Path:
    """Copy the model zip ``source`` to ``target`` with ``change(data)`` applied to its data."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for item in original.infolist():
            content = original.read(item.filename)
            if item.filename == "data":
                data = json.loads(content)
                change(data)
                content = json.dumps(data).encode()
            copy.writestr(item, content)
    return target


def _crafted_run(genuine: Path, directory: Path, target: Path) -> Path:
    """A copy of ``genuine`` whose model.zip has a clip_range pickle that writes ``target``."""
    shutil.copytree(genuine, directory)
    payload = base64.b64encode(cloudpickle.dumps(_WriteFile(target))).decode()

    def plant(data: dict) -> None:
        data["clip_range"][":serialized:"] = payload  # its ':type:' text still says schedule

    model = directory / "model.zip"
    _rewrite_data(genuine / "model.zip", model, plant)
    return directory


def _observations(env_kwargs: dict, count: int = 4) -> list[dict[str, np.ndarray]]:
    env = gym.make(GAME, **env_kwargs)
    observations = [env.reset(seed=seed)[0] for seed in range(count)]
    env.close()
    return observations


def _assert_same_model(ours: PPO, theirs: PPO) -> None:
    assert type(ours) is type(theirs) and type(ours.policy) is type(theirs.policy)
    mine, sb3 = ours.policy.state_dict(), theirs.policy.state_dict()
    assert mine.keys() == sb3.keys()
    for name in mine:
        assert torch.equal(mine[name], sb3[name]), name
    assert str(ours.policy.optimizer.state_dict()) == str(theirs.policy.optimizer.state_dict())
    for name in ("num_timesteps", "_n_updates", "n_steps", "batch_size", "n_epochs", "gamma"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space
    for progress in (1.0, 0.5, 0.1):
        assert ours.clip_range(progress) == theirs.clip_range(progress)
        assert ours.lr_schedule(progress) == theirs.lr_schedule(progress)


# -- genuine models -----------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [PPO, FastPPO])
def test_genuine_model_loads_safely_as_sb3_loads_it(genuine_run: Path, algorithm) -> None:
    for path in (genuine_run / "model.zip", latest_checkpoint(genuine_run)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours = load_model(path, algorithm, device="cpu")
        # no pickled entry of a genuine model is left out
        assert not [item for item in caught if "were not loaded" in str(item.message)]
        theirs = load_model(path, algorithm, device="cpu", trust_model=True)
        _assert_same_model(ours, theirs)
        assert ours.num_timesteps == 64
        for observation in _observations({"image_size": 36}):
            for deterministic in (True, False):
                torch.manual_seed(0)
                mine, _ = ours.predict(observation, deterministic=deterministic)
                torch.manual_seed(0)
                sb3, _ = theirs.predict(observation, deterministic=deterministic)
                assert mine == sb3
            tensor, _ = ours.policy.obs_to_tensor(observation)
            assert torch.equal(
                ours.policy.predict_values(tensor), theirs.policy.predict_values(tensor)
            )


def test_lin_schedules_come_from_the_run_config(genuine_run: Path) -> None:
    model = load_model(genuine_run / "model.zip", device="cpu")
    if genuine_run.name == "sb3-schedules":
        assert model.lr_schedule(0.5) == pytest.approx(5e-4)
        assert model.clip_range(0.5) == pytest.approx(0.15)
        assert model.policy_kwargs["activation_fn"] is torch.nn.Tanh
    else:
        assert model.clip_range(0.5) == pytest.approx(0.2)


def test_a_model_without_its_run_config_needs_the_game(fast_run: Path, tmp_path: Path) -> None:
    alone = tmp_path / "model.zip"
    shutil.copy(fast_run / "model.zip", alone)
    with pytest.raises(UntrustedModelError, match="--trust-model") as error:
        load_model(alone, device="cpu")
    assert "--env" in str(error.value)
    ours = load_model(alone, device="cpu", env_id=GAME, env_kwargs={"image_size": 36})
    _assert_same_model(ours, load_model(alone, device="cpu", trust_model=True))
    with pytest.raises(ModelMismatchError, match=r"observation space.*\n.*model:.*36, 36"):
        load_model(alone, device="cpu", env_id=GAME, env_kwargs={})  # 64x64 frames


def test_corrupt_files_are_still_named_corrupt(fast_run: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes((fast_run / "model.zip").read_bytes()[:2000])
    not_zip = tmp_path / "text.zip"
    not_zip.write_text("not a model")
    for broken in (truncated, not_zip):
        with pytest.raises(CorruptCheckpointError, match="corrupt"):
            load_model(broken, device="cpu")


def test_unknown_pickled_entries_are_left_out_with_a_warning(
    fast_run: Path, tmp_path: Path
) -> None:
    extra = base64.b64encode(cloudpickle.dumps(deque([1.0, 2.0]))).decode()

    def add(data: dict) -> None:
        data["custom_buffer"] = {":type:": "<class 'collections.deque'>", ":serialized:": extra}

    path = _rewrite_data(fast_run / "model.zip", tmp_path / "model.zip", add)
    shutil.copy(fast_run / "config.yaml", tmp_path / "config.yaml")
    with pytest.warns(UserWarning, match=r"custom_buffer.*--trust-model"):
        model = load_model_safely(path, device="cpu")
    assert not hasattr(model, "custom_buffer")
    assert load_model(path, device="cpu", trust_model=True).custom_buffer == deque([1.0, 2.0])


# -- crafted models -----------------------------------------------------------------------------


def test_static_reading_of_a_pickle_names_what_it_would_call(tmp_path: Path) -> None:
    target = tmp_path / "never.txt"
    assert "pathlib:Path.write_text" in pickled_globals(cloudpickle.dumps(_WriteFile(target)))
    assert not target.exists()
    from stable_baselines3.common.utils import FloatSchedule

    assert pickled_globals(cloudpickle.dumps(FloatSchedule(0.2))) == {
        "stable_baselines3.common.utils:FloatSchedule",
        "stable_baselines3.common.utils:ConstantSchedule",
    }


def test_eval_refuses_a_crafted_model_and_runs_it_only_with_trust_model(
    fast_run: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    target = tmp_path / "pwned.txt"
    crafted = _crafted_run(fast_run, tmp_path / "crafted", target)
    assert main(["eval", str(crafted), "--episodes", "1"]) == 2
    error = capsys.readouterr().err
    assert "--trust-model" in error and "'clip_range'" in error
    assert "pathlib:Path.write_text" in error
    assert not target.exists()
    with pytest.raises(UntrustedModelError, match="clip_range"):
        load_model(crafted / "model.zip")
    assert not target.exists()

    # the flag really switches loaders: SB3's unpickles the payload, which writes the file
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(crafted), "--episodes", "1", "--trust-model"]) == 0
    assert target.read_text() == "pwned"


def test_watch_refuses_a_crafted_model(fast_run: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "pwned.txt"
    crafted = _crafted_run(fast_run, tmp_path / "crafted", target)
    video = tmp_path / "watched.gif"
    args = _watch_args(str(crafted), "--record", str(video), "--max-steps", "2")
    assert run_watch(args) == 2
    assert "--trust-model" in capsys.readouterr().err
    assert not target.exists() and not video.exists()
    with pytest.raises(CheckpointError, match="--trust-model"):
        load_policy(crafted, gym.make(GAME, image_size=36))
    assert not target.exists()


def test_resume_refuses_a_crafted_checkpoint(fast_run: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "pwned.txt"
    run = tmp_path / "run"
    shutil.copytree(fast_run, run)
    payload = base64.b64encode(cloudpickle.dumps(_WriteFile(target))).decode()
    for checkpoint in (run / "checkpoints").iterdir():
        honest = checkpoint.with_name("honest.zip")
        checkpoint.rename(honest)
        _rewrite_data(
            honest, checkpoint, lambda data: data["clip_range"].update({":serialized:": payload})
        )
        honest.unlink()
    code = main(["train", "--resume", str(run), "--total-timesteps", "96", "--no-progress-bar"])
    assert code == 2
    assert "--trust-model" in capsys.readouterr().err
    assert not target.exists()


# -- resume and watch with genuine models -------------------------------------------------------


def test_resume_with_the_safe_loader_continues_as_with_sb3s(fast_run: Path, tmp_path: Path) -> None:
    runs = {}
    for name, flags in (("safe", []), ("trusted", ["--trust-model"])):
        run = tmp_path / name
        shutil.copytree(fast_run, run)
        (run / "model.zip").unlink()
        args = ["train", "--resume", str(run), "--total-timesteps", "128", "--no-progress-bar"]
        assert main([*args, *flags]) == 0
        runs[name] = load_model(run / "model.zip", FastPPO, device="cpu")
    safe, trusted = runs["safe"], runs["trusted"]
    assert safe.num_timesteps == trusted.num_timesteps == 128
    assert safe._n_updates == 4  # two updates before the checkpoint, two after
    before = load_model(checkpoint_path(fast_run, 64), FastPPO, device="cpu")
    changed = any(
        not torch.equal(value, before.policy.state_dict()[name])
        for name, value in safe.policy.state_dict().items()
    )
    assert changed  # it trained on after resuming
    _assert_same_model(safe, trusted)  # and exactly as after SB3's loader


def test_trust_model_without_resume_is_a_user_error(tmp_path: Path, capsys) -> None:
    assert main(["train", GAME, "--trust-model", "--run-dir", str(tmp_path / "x"), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def _watch_args(*argv: str) -> argparse.Namespace:
    return add_watch_arguments(argparse.ArgumentParser(prog="mmagent watch")).parse_args(argv)


def test_watch_records_a_genuine_model(fast_run: Path, tmp_path: Path, capsys) -> None:
    video = tmp_path / "watched.gif"
    args = _watch_args(str(fast_run), "--record", str(video), "--max-steps", "3", "--deterministic")
    assert run_watch(args) == 0
    assert video.is_file() and video.stat().st_size > 100
    assert "recorded 1 episode(s)" in capsys.readouterr().out
    env = gym.make(GAME, image_size=36)
    policy = load_policy(fast_run, env, deterministic=True)
    observation = _observations({"image_size": 36}, 1)[0]
    trusted = load_model(fast_run / "model.zip", device="cpu", trust_model=True)
    assert policy.act(observation)[0] == int(trusted.predict(observation, deterministic=True)[0])


def test_help_documents_trust_model(capsys) -> None:
    for command in ("eval", "train", "watch"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--trust-model" in text and "runs any code" in text
