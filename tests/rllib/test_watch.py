"""``mmagent watch RUN_DIR`` on an RLlib run: the module acts with the HUD's action
probabilities and value, and ``--record`` writes a video with its audio track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from mmagent.cli import main
from mmagent.watch.loading import load_policy
from mmagent.watch.viewer import make_env


@pytest.mark.filterwarnings("ignore")
def test_record_an_rllib_run_with_its_sound(tiny_rllib_run: Path, tmp_path, capsys) -> None:
    av = pytest.importorskip("av")
    video = tmp_path / "out.mp4"
    assert main(["watch", str(tiny_rllib_run), "--record", str(video), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "recorded 1 episode(s)" in out and str(video) in out
    steps = int(out.split("episode(s), ")[1].split(" steps")[0])
    with av.open(str(video)) as container:
        kinds = sorted(stream.type for stream in container.streams)
        assert kinds == ["audio", "video"]
        frames = list(container.decode(video=0))
    assert len(frames) == steps + 1  # the reset observation and one per step


@pytest.mark.filterwarnings("ignore")
def test_the_module_policy_reports_probabilities_and_value(tiny_rllib_run: Path) -> None:
    env = make_env("mmagent/CueMatch-v0", {"image_size": 16, "sample_rate": 8000})
    try:
        policy = load_policy(tiny_rllib_run, env, deterministic=True)
        observation, _ = env.reset(seed=0)
        action, info = policy.act(observation)
    finally:
        env.close()
    assert isinstance(action, int) and 0 <= action < env.action_space.n
    assert info.action_probs is not None and info.action_probs.shape == (env.action_space.n,)
    assert info.action_probs.sum() == pytest.approx(1.0)
    assert action == int(np.argmax(info.action_probs))  # deterministic: the likeliest
    assert info.value is not None and np.isfinite(info.value)


@pytest.mark.filterwarnings("ignore")
def test_watching_on_another_game_is_refused(tiny_rllib_run: Path, tmp_path, capsys) -> None:
    video = tmp_path / "never.mp4"
    arguments = ["watch", str(tiny_rllib_run), "--env", "mmagent/Beacon-v0"]
    assert main([*arguments, "--record", str(video)]) == 2
    error = capsys.readouterr().err
    assert "was trained on mmagent/CueMatch-v0 with another observation space" in error
    assert not video.exists()
