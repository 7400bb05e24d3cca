"""SharedMemoryVecEnv: the same observations, rewards and infos as DummyVecEnv, errors that
name the failing env with its traceback, no hang when a worker dies or hangs, PPO on top."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import RecordEpisodeStatistics, TimeLimit
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.fast import (
    SharedMemoryVecEnv,
    VecEnvClosedError,
    VecEnvWorkerAttributeError,
    VecEnvWorkerDiedError,
    VecEnvWorkerError,
    VecEnvWorkerTimeoutError,
)

N_ENVS = 4
N_WORKERS = 2
#: CueMatch cut to 4-step episodes by Gymnasium's TimeLimit: many ends, by the rules (any press)
#: and by the time limit, and a press on the 4th step ends both ways at once (terminated and
#: truncated, which SB3 reports as ``TimeLimit.truncated=False``).
SHORT_CUE_MATCH = functools.partial(
    gym.make, "mmagent/CueMatch-v0", max_steps=5, max_episode_steps=4, render_mode="rgb_array"
)


class StepBombEnv(gym.Env):
    """A tiny Dict-observation env whose third ``step`` raises (``explode``) or takes ``pause``
    seconds; the image and text count the steps of the episode."""

    observation_space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (4, 4, 3), np.uint8),
            "text": spaces.Box(0, 9, (3,), np.int64),
        }
    )
    action_space = spaces.Discrete(2)

    def __init__(self, explode: bool = False, pause: float = 0.0) -> None:
        self.explode = explode
        self.pause = pause
        self.steps = 0

    def _observation(self) -> dict[str, np.ndarray]:
        return {
            "image": np.full((4, 4, 3), self.steps, np.uint8),
            "text": np.full(3, self.steps % 10, np.int64),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return self._observation(), {}

    def thread_settings(self) -> tuple[str | None, str | None, int]:
        """What this env's process runs math libraries with: OMP/MKL variables, torch threads."""
        import torch

        return (
            os.environ.get("OMP_NUM_THREADS"),
            os.environ.get("MKL_NUM_THREADS"),
            (torch.get_num_threads()),
        )

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.steps += 1
        if self.steps == 3 and self.explode:
            raise RuntimeError("boom at step 3")
        if self.steps == 3 and self.pause:
            time.sleep(self.pause)
        return self._observation(), 0.0, False, self.steps >= 10, {}


def _children_gone(vec_env: SharedMemoryVecEnv, within: float = 5.0) -> bool:
    """Whether every worker process has ended (and been reaped) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for pid in vec_env.worker_pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _biased_actions(rng: np.random.Generator, n_actions: int) -> np.ndarray:
    """Mostly "wait" (action 0), so some episodes hit the time limit and others end by a press."""
    presses = rng.integers(1, n_actions, size=N_ENVS)
    return np.where(rng.random(N_ENVS) < 0.8, 0, presses).astype(np.int64)


def _assert_observations_equal(actual: dict, expected: dict, context: str) -> None:
    assert actual.keys() == expected.keys(), context
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, f"{context}: {key} dtype"
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=f"{context}: {key}")


@pytest.fixture(scope="module")
def shared_cue_match() -> Iterator[SharedMemoryVecEnv]:
    vec_env = SharedMemoryVecEnv([SHORT_CUE_MATCH] * N_ENVS, n_workers=N_WORKERS)
    yield vec_env
    vec_env.close()


def test_same_observations_rewards_and_dones_as_dummy_vec_env(shared_cue_match) -> None:
    dummy = DummyVecEnv([SHORT_CUE_MATCH] * N_ENVS)
    shared_cue_match.seed(7)
    dummy.seed(7)
    _assert_observations_equal(shared_cue_match.reset(), dummy.reset(), "reset")
    assert shared_cue_match.reset_infos == dummy.reset_infos
    rng = np.random.default_rng(0)
    episodes_ended = 0
    for step in range(60):
        actions = _biased_actions(rng, shared_cue_match.action_space.n)
        observations, rewards, dones, _ = shared_cue_match.step(actions)
        expected_observations, expected_rewards, expected_dones, _ = dummy.step(actions)
        _assert_observations_equal(observations, expected_observations, f"step {step}")
        assert rewards.dtype == expected_rewards.dtype == np.float32
        np.testing.assert_array_equal(rewards, expected_rewards)
        np.testing.assert_array_equal(dones, expected_dones)
        episodes_ended += int(dones.sum())
    assert episodes_ended >= 20  # the comparison crossed many episode ends
    assert observations["image"].dtype == np.uint8
    assert observations["text"].dtype == np.int64
    dummy.close()


def test_autoreset_infos_match_dummy_vec_env(shared_cue_match) -> None:
    dummy = DummyVecEnv([SHORT_CUE_MATCH] * N_ENVS)
    shared_cue_match.seed(11)
    dummy.seed(11)
    shared_cue_match.reset()
    dummy.reset()
    rng = np.random.default_rng(1)
    seen = {"terminated": 0, "truncated": 0, "terminated at the limit": 0}
    episode_steps = np.zeros(N_ENVS, dtype=int)
    for step in range(60):
        actions = _biased_actions(rng, shared_cue_match.action_space.n)
        observations, _, dones, infos = shared_cue_match.step(actions)
        expected_observations, _, _, expected_infos = dummy.step(actions)
        episode_steps += 1
        # after an end, both return the next episode's first observation
        _assert_observations_equal(observations, expected_observations, f"step {step}")
        assert isinstance(infos, list) and len(infos) == N_ENVS
        for index, (info, expected) in enumerate(zip(infos, expected_infos, strict=True)):
            context = f"step {step}, env {index}"
            assert list(info) == list(expected), context
            assert info["TimeLimit.truncated"] == expected["TimeLimit.truncated"], context
            for key in expected.keys() - {"terminal_observation"}:
                assert info[key] == expected[key], f"{context}: info[{key!r}]"
            if dones[index]:
                terminal = info["terminal_observation"]
                _assert_observations_equal(terminal, expected["terminal_observation"], context)
                kind = "truncated" if info["TimeLimit.truncated"] else "terminated"
                if kind == "terminated" and episode_steps[index] == 4:
                    kind = "terminated at the limit"
                seen[kind] += 1
                episode_steps[index] = 0
            else:
                assert "terminal_observation" not in info, context
        assert shared_cue_match.reset_infos == dummy.reset_infos, f"step {step}"
    assert all(count > 0 for count in seen.values()), seen
    dummy.close()


def test_reset_over_a_step_in_flight_keeps_the_pipes_in_step(shared_cue_match) -> None:
    dummy = DummyVecEnv([SHORT_CUE_MATCH] * N_ENVS)
    actions = np.zeros(N_ENVS, dtype=np.int64)
    shared_cue_match.step_async(actions)  # its answers are never collected
    shared_cue_match.seed(21)
    dummy.seed(21)
    _assert_observations_equal(shared_cue_match.reset(), dummy.reset(), "reset")
    for step in range(3):
        observations, _, _, _ = shared_cue_match.step(actions)
        _assert_observations_equal(observations, dummy.step(actions)[0], f"step {step}")
    dummy.close()


@pytest.mark.parametrize(
    "start_method",
    [method for method in ("spawn", "fork") if method in multiprocessing.get_all_start_methods()],
)
def test_other_start_methods_step_the_same(start_method) -> None:
    vec_env = SharedMemoryVecEnv([SHORT_CUE_MATCH] * 2, n_workers=2, start_method=start_method)
    dummy = DummyVecEnv([SHORT_CUE_MATCH] * 2)
    try:
        vec_env.seed(9)
        dummy.seed(9)
        _assert_observations_equal(vec_env.reset(), dummy.reset(), "reset")
        rng = np.random.default_rng(2)
        for step in range(12):
            actions = rng.integers(0, vec_env.action_space.n, size=2)
            observations, rewards, dones, _ = vec_env.step(actions)
            expected = dummy.step(actions)
            _assert_observations_equal(observations, expected[0], f"step {step}")
            np.testing.assert_array_equal(rewards, expected[1])
            np.testing.assert_array_equal(dones, expected[2])
    finally:
        vec_env.close()
        dummy.close()
    assert _children_gone(vec_env)


def test_terminal_observation_is_a_copy_per_env(shared_cue_match) -> None:
    shared_cue_match.seed(3)
    shared_cue_match.reset()
    presses = np.full(N_ENVS, 1, dtype=np.int64)  # a press ends every episode
    _, _, dones, infos = shared_cue_match.step(presses)
    assert dones.all()
    first = infos[0]["terminal_observation"]["image"]
    before = first.copy()
    shared_cue_match.step(presses)  # the workers overwrite the shared terminal block
    np.testing.assert_array_equal(first, before)
    assert not np.shares_memory(first, infos[1]["terminal_observation"]["image"])


def test_per_env_calls_reach_the_right_envs(shared_cue_match) -> None:
    shared_cue_match.set_attr("probe", "b", indices=[1, 3])
    shared_cue_match.set_attr("probe", "a", indices=[0, 2])
    assert shared_cue_match.get_attr("probe") == ["a", "b", "a", "b"]
    assert shared_cue_match.get_attr("probe", indices=[3, 0]) == ["b", "a"]
    assert shared_cue_match.env_method("get_wrapper_attr", "n_pads", indices=2) == [5]
    assert shared_cue_match.env_is_wrapped(TimeLimit) == [True] * N_ENVS
    assert shared_cue_match.env_is_wrapped(RecordEpisodeStatistics) == [False] * N_ENVS
    assert not shared_cue_match.has_attr("no_such_attribute")
    with pytest.raises(VecEnvWorkerAttributeError, match="no_such_attribute"):
        shared_cue_match.get_attr("no_such_attribute", indices=[1])
    assert shared_cue_match.get_attr("max_steps") == [5] * N_ENVS  # pipes still in step


def test_render_tiles_every_env(shared_cue_match) -> None:
    dummy = DummyVecEnv([SHORT_CUE_MATCH] * N_ENVS)
    shared_cue_match.seed(5)
    dummy.seed(5)
    shared_cue_match.reset()
    dummy.reset()
    images = shared_cue_match.get_images()
    expected = dummy.get_images()
    assert len(images) == N_ENVS
    for image, expected_image in zip(images, expected, strict=True):
        np.testing.assert_array_equal(image, expected_image)
    np.testing.assert_array_equal(shared_cue_match.render(), dummy.render())
    dummy.close()


def test_workers_run_math_libraries_on_one_thread(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    vec_env = SharedMemoryVecEnv([StepBombEnv] * 2, n_workers=2)
    try:
        assert vec_env.env_method("thread_settings") == [("1", "1", 1)] * 2
    finally:
        vec_env.close()
    assert os.environ["OMP_NUM_THREADS"] == "2"  # the main process is left as it was
    assert "MKL_NUM_THREADS" not in os.environ


def test_env_error_is_raised_with_its_traceback_and_env_index() -> None:
    env_fns = [functools.partial(StepBombEnv, explode=index == 2) for index in range(N_ENVS)]
    vec_env = SharedMemoryVecEnv(env_fns, n_workers=N_WORKERS)
    vec_env.reset()
    actions = np.zeros(N_ENVS, dtype=np.int64)
    vec_env.step(actions)
    vec_env.step(actions)
    with pytest.raises(VecEnvWorkerError) as caught:
        vec_env.step(actions)
    message = str(caught.value)
    assert "boom at step 3" in message
    assert "env 2 (" in message and "StepBombEnv" in message
    assert "RuntimeError" in message and "Traceback" in message
    assert 'raise RuntimeError("boom at step 3")' in caught.value.remote_traceback
    assert caught.value.env_index == 2 and caught.value.worker_index == 1
    with pytest.raises(VecEnvClosedError):
        vec_env.step(actions)
    assert _children_gone(vec_env)
    vec_env.close()  # a second close is harmless


def test_env_construction_error_names_the_env() -> None:
    def broken_env() -> gym.Env:
        raise ValueError("no such level: 'moon'")

    env_fns = [SHORT_CUE_MATCH, broken_env]
    with pytest.raises(VecEnvWorkerError, match=r"no such level: 'moon'") as caught:
        SharedMemoryVecEnv(env_fns, n_workers=2)
    assert caught.value.env_index == 1
    assert "start" in str(caught.value)


@pytest.mark.timeout(30)
def test_killed_worker_raises_instead_of_hanging() -> None:
    vec_env = SharedMemoryVecEnv([SHORT_CUE_MATCH] * N_ENVS, n_workers=N_WORKERS)
    vec_env.reset()
    actions = np.zeros(N_ENVS, dtype=np.int64)
    vec_env.step(actions)
    os.kill(vec_env.worker_pids[1], signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(VecEnvWorkerDiedError) as caught:
        vec_env.step(actions)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "worker 1" in message and "SIGKILL" in message
    assert "envs 2:" in message and "3:" in message
    assert caught.value.exit_code == -signal.SIGKILL
    assert caught.value.env_indices == [2, 3]
    assert _children_gone(vec_env)


@pytest.mark.timeout(30)
def test_hung_worker_times_out_with_its_stack() -> None:
    env_fns = [functools.partial(StepBombEnv, pause=600.0 * (index == 0)) for index in range(2)]
    vec_env = SharedMemoryVecEnv(env_fns, n_workers=2, step_timeout=2.0)
    vec_env.reset()
    actions = np.zeros(2, dtype=np.int64)
    vec_env.step(actions)
    vec_env.step(actions)
    started = time.monotonic()
    with pytest.raises(VecEnvWorkerTimeoutError) as caught:
        vec_env.step(actions)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "worker 0" in message and "within 2 s" in message
    assert "in step" in message  # faulthandler's dump of where the worker was stuck
    assert _children_gone(vec_env)


@pytest.mark.timeout(30)
def test_a_step_interrupted_by_ctrl_c_does_not_desynchronise_the_pipes() -> None:
    vec_env = SharedMemoryVecEnv([functools.partial(StepBombEnv, pause=1.5)] * 2, n_workers=2)
    vec_env.reset()
    actions = np.zeros(2, dtype=np.int64)
    vec_env.step(actions)
    vec_env.step(actions)
    # a shell starts background jobs with SIGINT ignored (CI, `cmd &`); Ctrl-C is what is tested
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            vec_env.step(actions)  # the third step pauses; Ctrl-C arrives meanwhile
        observations, _, _, _ = vec_env.step(actions)  # the interrupted step's answers are dropped
        assert observations["image"][:, 0, 0, 0].tolist() == [4, 4]  # the 4th step of each env
        assert vec_env.get_attr("steps") == [4, 4]
    finally:
        signal.signal(signal.SIGINT, previous)
        vec_env.close()
    assert _children_gone(vec_env)


def test_ppo_learns_on_it_and_close_leaves_no_children() -> None:
    vec_env = SharedMemoryVecEnv([SHORT_CUE_MATCH] * 2, n_workers=2)
    assert isinstance(vec_env, VecEnv)
    monitored = VecMonitor(vec_env)
    model = PPO("MultiInputPolicy", monitored, n_steps=16, batch_size=32, n_epochs=1, device="cpu")
    model.learn(64)
    assert model.num_timesteps == 64
    assert len(model.ep_info_buffer) > 0  # VecMonitor saw episodes end through it
    monitored.close()
    assert vec_env.closed
    assert _children_gone(vec_env)


def test_bad_arguments_fail_before_starting_workers() -> None:
    with pytest.raises(ValueError, match="n_workers=5 exceeds the 4 envs"):
        SharedMemoryVecEnv([SHORT_CUE_MATCH] * 4, n_workers=5)
    with pytest.raises(ValueError, match="start_method 'teleport'"):
        SharedMemoryVecEnv([SHORT_CUE_MATCH], start_method="teleport")
    with pytest.raises(TypeError, match=r"env_fns\[1\] is 'mmagent/CueMatch-v0'"):
        SharedMemoryVecEnv([SHORT_CUE_MATCH, "mmagent/CueMatch-v0"])  # type: ignore[list-item]
    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"env_fns\[0\] .* cannot be pickled"):
        SharedMemoryVecEnv([lambda: (lock, gym.make("mmagent/CueMatch-v0"))[1]])


def test_bench_script_compares_the_three_vec_envs(tmp_path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_vec_env.py"
    out = tmp_path / "bench.json"
    arguments = ["--games", "mmagent/CueMatch-v0", "--n-envs", "2", "--steps", "64"]
    completed = subprocess.run(
        [sys.executable, str(script), *arguments, "--repeats", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(out.read_text())["results"]
    assert [row["vec_env"] for row in rows] == ["dummy", "subproc", "shared"]
    for row in rows:
        assert row["env_steps_per_second"] > 0 and row["vs_dummy"] > 0
        assert row["vec_env"] in completed.stdout
    assert rows[0]["vs_dummy"] == 1.0
