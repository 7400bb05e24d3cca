"""An error that ends training after the first rollout saves a checkpoint before it propagates:
a game raising in ``step()``, a shared-memory worker raising, dying or hanging past
``step_timeout``; the run then resumes to its budget."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
import traceback
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from mmagent.checkpoints import list_checkpoints, load_model
from mmagent.config import ConfigError, TrainConfig
from mmagent.fast import VecEnvWorkerDiedError, VecEnvWorkerError, VecEnvWorkerTimeoutError
from mmagent.train import make_env, train, vec_env_options

FLAKY_GAME = "tests.test_emergency_checkpoint:FlakyGame"
#: Workers forked from this process start in a fraction of a second; a forkserver or spawned
#: worker imports this module, torch included, which takes seconds on a busy machine. The
#: workers only step FlakyGame, never torch.
QUICK_START = "fork" if "fork" in multiprocessing.get_all_start_methods() else None


class FlakyGame(gym.Env):
    """A 16×16-pixel game of 4-step episodes (action 1 succeeds) that fails at its ``fail_at``-th
    step (counted over episodes): it raises (``how="raise"``), kills its own process
    (``"die"``) or hangs for two minutes (``"hang"``)."""

    observation_space = spaces.Dict({"image": spaces.Box(0, 255, (16, 16, 3), np.uint8)})
    action_space = spaces.Discrete(2)

    def __init__(
        self, fail_at: int | None = None, how: str = "raise", render_mode: str | None = None
    ) -> None:
        self.fail_at = fail_at
        self.how = how
        self.render_mode = render_mode
        self.steps = 0
        self.elapsed = 0

    def _observation(self) -> dict[str, np.ndarray]:
        return {"image": np.full((16, 16, 3), 40 * self.elapsed, np.uint8)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.elapsed = 0
        return self._observation(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.steps += 1
        self.elapsed += 1
        if self.fail_at is not None and self.steps >= self.fail_at:
            if self.how == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            if self.how == "hang":
                time.sleep(120)
            raise RuntimeError(f"FlakyGame broke at its step {self.steps}")
        done = self.elapsed >= 4 or int(action) == 1
        info = {"is_success": int(action) == 1} if done else {}
        return self._observation(), float(int(action) == 1), done, False, info


def tiny_config(**overrides: Any) -> TrainConfig:
    """One env, rollouts of 16 steps, one minibatch per rollout, no evaluation or checkpoints
    unless asked for."""
    values: dict[str, Any] = {
        "env_id": FLAKY_GAME,
        "n_envs": 1,
        "n_timesteps": 64,
        "n_steps": 16,
        "batch_size": 16,
        "n_epochs": 1,
        "eval_freq": 0,
        "eval_episodes": 1,
        "checkpoint_freq": 0,
        "final_eval_episodes": 1,
        "progress_bar": False,
        "device": "cpu",
    }
    return TrainConfig(**(values | overrides))


def _steps(path: Path) -> int:
    return int(path.stem.removeprefix("step_"))


def test_a_game_raising_mid_training_saves_a_checkpoint_and_resume_finishes(
    tmp_path, capsys
) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(env_kwargs={"fail_at": 40})
    with pytest.raises(RuntimeError, match="FlakyGame broke at its step 40") as caught:
        train(config, run_dir)
    # the original traceback: it ends in the game's step()
    assert traceback.extract_tb(caught.value.__traceback__)[-1].name == "step"
    # rollouts of 16 steps: two were trained on before the game broke in the third
    (checkpoint,) = list_checkpoints(run_dir)
    assert _steps(checkpoint) == 32 >= 40 - 16
    model = load_model(checkpoint)
    assert model.num_timesteps == 32 and model._n_updates == 2
    error = capsys.readouterr().err
    assert f"resume with: mmagent train --resume {run_dir}\n" in error
    assert (run_dir / "config.yaml").is_file()

    fixed = dataclasses.replace(config, env_kwargs={})
    result = train(fixed, run_dir, resume=True)
    assert result.timesteps == 64 and not result.interrupted
    assert load_model(run_dir / "model.zip").num_timesteps == 64
    assert "from step_000000000032.zip at 32 steps" in capsys.readouterr().out


def test_no_checkpoint_before_the_first_update(tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="broke at its step 5"):
        train(tiny_config(env_kwargs={"fail_at": 5}), run_dir)
    assert list_checkpoints(run_dir) == []
    assert "before its first update" in capsys.readouterr().err
    assert (run_dir / "config.yaml").is_file()


def test_no_checkpoint_when_a_resumed_run_fails_before_its_first_update(tmp_path) -> None:
    run_dir = tmp_path / "run"
    train(tiny_config(n_timesteps=32), run_dir)
    before = sorted(path.name for path in list_checkpoints(run_dir))
    broken = tiny_config(n_timesteps=64, env_kwargs={"fail_at": 8})
    with pytest.raises(RuntimeError, match="broke at its step 8"):
        train(broken, run_dir, resume=True)
    assert sorted(path.name for path in list_checkpoints(run_dir)) == before


@pytest.mark.parametrize(
    ("how", "error_class", "message"),
    [
        ("raise", VecEnvWorkerError, "FlakyGame broke at its step 20"),
        ("die", VecEnvWorkerDiedError, "killed by SIGKILL"),
        ("hang", VecEnvWorkerTimeoutError, "did not answer step within 1 s"),
    ],
)
def test_a_failing_shared_memory_worker_saves_a_checkpoint(
    tmp_path, capsys, how, error_class, message
) -> None:
    run_dir = tmp_path / "run"
    config = tiny_config(
        vec_env="shared",
        n_envs=2,
        n_steps=8,
        step_timeout=1.0,
        start_method=QUICK_START,
        env_kwargs={"fail_at": 20, "how": how},
    )
    children_before = set(multiprocessing.active_children())  # another test's, if it leaked
    started = time.monotonic()
    with pytest.raises(error_class, match=message) as caught:
        train(config, run_dir)
    assert time.monotonic() - started < 60  # the hung game sleeps for 120 s
    if how == "raise":  # the worker's traceback stays in the message
        assert "Traceback" in str(caught.value) and "in step" in str(caught.value)
    # rollouts of 2 envs × 8 steps: two trained on, the game broke at 2 × 20 = 40 steps
    (checkpoint,) = list_checkpoints(run_dir)
    assert _steps(checkpoint) == 32
    assert load_model(checkpoint).num_timesteps == 32
    assert "resume with: mmagent train --resume" in capsys.readouterr().err
    assert set(multiprocessing.active_children()) <= children_before  # the workers are gone


@pytest.mark.skipif(QUICK_START is None, reason="no fork start method on this platform")
def test_step_timeout_and_start_method_reach_the_vec_env() -> None:
    config = tiny_config(vec_env="shared", n_envs=2, step_timeout=5.0, start_method=QUICK_START)
    assert vec_env_options(config) == {"step_timeout": 5.0, "start_method": QUICK_START}
    env = make_env(config)
    try:
        assert (env.step_timeout, env.start_method) == (5.0, QUICK_START)
    finally:
        env.close()
    default = tiny_config(vec_env="shared", step_timeout=None)
    assert vec_env_options(default) == {"step_timeout": None, "start_method": None}
    assert vec_env_options(tiny_config(vec_env="subproc", start_method="spawn")) == {
        "start_method": "spawn"
    }
    assert vec_env_options(tiny_config(vec_env="subproc")) == {}
    with pytest.raises(ConfigError, match="start_method 'spawn' applies to worker processes"):
        vec_env_options(tiny_config(start_method="spawn"))
    with pytest.raises(ConfigError, match="start_method 'thread' is not available"):
        vec_env_options(tiny_config(vec_env="shared", start_method="thread"))
