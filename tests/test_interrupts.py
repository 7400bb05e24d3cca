"""Ctrl-C and SIGTERM stop training at points where the model is whole (mmagent.interrupts):
never inside a gradient update, whose half-made state a checkpoint would keep."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import torch

from mmagent.checkpoints import latest_checkpoint, load_model
from mmagent.config import resolve_config
from mmagent.interrupts import SafeInterrupt
from mmagent.train import resume_config, train


def _send(name: str) -> None:
    os.kill(os.getpid(), getattr(signal, name))


@pytest.fixture(autouse=True)
def _sigint_not_ignored():
    """A shell starts background jobs (CI, ``cmd &``) with SIGINT ignored; Ctrl-C is tested."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_outside_an_update_stops_at_once(name: str) -> None:
    with SafeInterrupt() as interrupt, pytest.raises(KeyboardInterrupt, match=name):
        _send(name)
        for _ in range(1000):  # the handler runs between bytecodes, before this loop ends
            pass
    assert not interrupt.unsafe


def test_a_signal_during_an_update_waits_for_its_end(capsys) -> None:
    finished = False
    with (
        SafeInterrupt() as interrupt,
        pytest.raises(KeyboardInterrupt, match="SIGTERM"),
        interrupt.updating(),
    ):
        _send("SIGTERM")
        total = sum(range(1000))  # still running: the signal was noted, not raised
        finished = True
    assert finished and total == 499500 and not interrupt.unsafe
    assert "stopping when the model update under way ends" in capsys.readouterr().err


def test_a_second_signal_during_an_update_stops_at_once_marked_unsafe() -> None:
    reached_after_second = False
    with (
        SafeInterrupt() as interrupt,
        pytest.raises(KeyboardInterrupt, match="SIGINT"),
        interrupt.updating(),
    ):
        _send("SIGTERM")
        _send("SIGINT")
        reached_after_second = True
    assert not reached_after_second and interrupt.unsafe


def test_an_ignored_signal_stays_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with SafeInterrupt():
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        _send("SIGINT")  # nothing happens


def test_handlers_are_restored_and_other_threads_leave_signals_alone() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with SafeInterrupt():
        assert signal.getsignal(signal.SIGTERM) != before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before

    errors: list[BaseException] = []

    def off_the_main_thread() -> None:
        try:
            with SafeInterrupt() as interrupt, interrupt.updating():
                pass
        except BaseException as error:  # pragma: no cover - the failure being tested for
            errors.append(error)

    thread = threading.Thread(target=off_the_main_thread)
    thread.start()
    thread.join()
    assert errors == [] and signal.getsignal(signal.SIGTERM) == before[0]


def test_sigterm_inside_the_optimizer_step_checkpoints_after_the_update(
    tmp_path, monkeypatch
) -> None:
    """The signal arrives while Adam updates the weights (where SB3 writes progress.csv first and
    a SIGTERM soon after can land): the checkpoint holds the finished update, and resumes."""
    config = resolve_config(
        "mmagent/CueMatch-v0",
        None,
        ["n_steps=32", "batch_size=64", "n_epochs=1", "final_eval_episodes=2"],
        {"n_envs": 2, "n_timesteps": 100_000, "device": "cpu", "progress_bar": False},
    )
    real_step = torch.optim.Adam.step
    steps_taken = 0

    def step_then_signal(optimizer, *args, **kwargs):
        nonlocal steps_taken
        if steps_taken == 0:
            _send("SIGTERM")  # during the first update, before any weight has moved
        steps_taken += 1
        return real_step(optimizer, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step_then_signal)
    run_dir = tmp_path / "run"
    result = train(config, run_dir)
    monkeypatch.undo()

    assert result.interrupted and result.timesteps == 64  # one rollout, stopped at the next
    assert steps_taken == 1  # the update ran to its end: one minibatch of 64
    model = load_model(latest_checkpoint(run_dir), device="cpu")
    state = model.policy.optimizer.state_dict()["state"]
    assert state  # Adam stepped: every parameter with a gradient has its moments, at step 1
    assert all({"exp_avg", "exp_avg_sq"} <= set(entry) for entry in state.values())
    assert {float(entry["step"]) for entry in state.values()} == {1.0}
    resumed = train(resume_config(run_dir, {"n_timesteps": 128}), run_dir, resume=True)
    assert not resumed.interrupted and resumed.timesteps == 128


def test_a_second_sigterm_inside_the_update_stops_without_saving(
    tmp_path, monkeypatch, capsys
) -> None:
    config = resolve_config(
        "mmagent/CueMatch-v0",
        None,
        ["n_steps=32", "batch_size=64", "n_epochs=1", "checkpoint_freq=0"],
        {"n_envs": 2, "n_timesteps": 100_000, "device": "cpu", "progress_bar": False},
    )

    def step_then_signal_twice(optimizer, *args, **kwargs):
        _send("SIGTERM")
        _send("SIGTERM")
        raise AssertionError("the second signal should have stopped the step")

    monkeypatch.setattr(torch.optim.Adam, "step", step_then_signal_twice)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, run_dir)
    assert latest_checkpoint(run_dir) is None
    error = capsys.readouterr().err
    assert "stopped in the middle of a model update at 64 steps: nothing saved" in error
    assert "no checkpoint had been saved yet" in error
