"""``mmagent doctor``: a sound game passes with figures, a broken one fails naming its mistake."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pygame
from gymnasium import spaces

from envs.core import MultimodalGame, SoundEvent, StepOutcome, tone
from mmagent.cli import main
from mmagent.config import resolve_config
from mmagent.doctor import diagnose, format_report

TINY = ["n_envs=2", "n_steps=16", "batch_size=32", "n_epochs=1"]


class Hum(MultimodalGame):
    """Press "go" at the right moment: a small sound game that works."""

    action_names: ClassVar[tuple[str, ...]] = ("wait", "go")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            image_size=40, sample_rate=4_000, max_steps=8, instruction_length=4, **kwargs
        )
        self.beep = tone(440.0, 0.05, self.sample_rate, amplitude=0.5)

    def instructions(self) -> Sequence[str]:
        return ["go on the beep"]

    def new_episode(self) -> None:
        self.beep_at = int(self.np_random.integers(1, 5))

    def instruction(self) -> str:
        return "go on the beep"

    def update(self, action: int) -> StepOutcome:
        if action == 1:
            won = self.elapsed_steps + 1 == self.beep_at
            return StepOutcome(reward=float(won), terminated=True, success=won)
        return StepOutcome()

    def sounds(self) -> list[SoundEvent]:
        return [SoundEvent(self.beep)] if self.elapsed_steps == self.beep_at else []

    def draw_observation(self, surface: pygame.Surface) -> None:
        surface.fill((20, 20, 30))
        pygame.draw.circle(surface, (240, 200, 60), (20, 20), 4 + self.elapsed_steps)


class ReturnsFrame(Hum):
    """The mistake: returns the frame instead of drawing it."""

    def draw_observation(self, surface: pygame.Surface) -> Any:
        return np.full((40, 40, 3), 200, np.uint8)


class DrawsNothingSaysNothing(Hum):
    """Runs, but shows nothing, is silent and says a word outside its vocabulary."""

    def instruction(self) -> str:
        return "go on the whistle"

    def sounds(self) -> list[SoundEvent]:
        return []

    def draw_observation(self, surface: pygame.Surface) -> None:
        surface.fill((0, 0, 0))


class WrongSpace(gym.Env):
    """Declares a 3-vector but returns a 4-vector."""

    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action: Any) -> Any:
        return np.zeros(4, np.float32), 0.0, True, False, {}


def test_doctor_on_a_built_in_game_passes_with_figures(tmp_path, capsys) -> None:
    report_file = tmp_path / "doctor.json"
    args = ["doctor", "mmagent/CueMatch-v0", "--episodes", "3", "--steps", "20"]
    args += [item for setting in TINY for item in ("--set", setting)]
    assert main([*args, "--json", str(report_file)]) == 0
    printed = capsys.readouterr().out
    assert "[pass] Gymnasium check_env" in printed
    assert "[pass] stable-baselines3 check_env" in printed
    assert "all checks passed" in printed
    report = json.loads(report_file.read_text())
    assert report["passed"] is True
    timing = report["step_time"]
    assert timing["steps"] == 20 and timing["median_us"] > 0
    assert set(timing["parts_us"]) == {"frame", "audio", "rules", "other"}
    assert all(value > 0 for key, value in timing["parts_us"].items() if key != "other")
    policy = report["random_policy"]
    assert policy["episodes"] == 3 and 0.0 <= policy["success_rate"] <= 1.0
    assert policy["seeds"] == [1_000_000, 1_000_002]
    assert report["text"]["vocabulary_size"] == 17 and report["text"]["unknown_words"] == {}
    keys = {item["key"]: item for item in report["observation"]}
    assert keys["image"]["kind"] == "image" and keys["image"]["shape"] == [3, 16, 16]
    assert keys["audio"]["encoder"] == "logmel" and keys["text"]["kind"] == "text"
    estimate = report["estimate"]
    assert estimate["n_envs"] == 2 and estimate["batch_size"] == 32
    assert estimate["env_steps_per_second"] > 0
    assert np.isclose(estimate["seconds_for_100k"] * estimate["env_steps_per_second"], 100_000)
    assert "estimate" in estimate["note"]


def test_a_game_class_spec_is_diagnosed_and_unconventional_audio_is_reported() -> None:
    spec = "tests.test_doctor:Hum"
    report = diagnose(spec, episodes=4, steps=10, config=resolve_config(spec, assignments=TINY))
    assert report.passed, format_report(report)
    assert report.env_id == "custom/Hum-v0"
    sb3 = next(check for check in report.checks if check.name.startswith("stable-baselines3"))
    assert any("unconventional shape" in text for text in sb3.warnings)
    assert report.random_policy is not None and report.random_policy.mean_length >= 1
    assert not [text for text in report.warnings if "constant frame" in text or "silent" in text]


def test_a_returned_frame_fails_naming_draw_observation(capsys) -> None:
    code = main(["doctor", "tests.test_doctor:ReturnsFrame", "--episodes", "1", "--steps", "5"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "[FAIL] Gymnasium check_env: GameDefinitionError: ReturnsFrame.draw_observation()" in (
        printed
    )
    assert "must draw on the pygame.Surface it is given" in printed
    assert "failed:" in printed


def test_spaces_that_do_not_match_the_observations_fail() -> None:
    report = diagnose("tests.test_doctor:WrongSpace", episodes=1, steps=5, estimate=False)
    assert report.exit_code == 1
    failed = {check.name: check.message for check in report.checks if not check.passed}
    assert "Gymnasium check_env" in failed and "stable-baselines3 check_env" in failed
    assert "observations inside the observation space" in failed
    assert "shape (4,)" in failed["observations inside the observation space"]
    assert report.step_time is not None and report.step_time.parts_us == {}
    assert "total only" in report.step_time.note


def test_blank_view_silence_and_unknown_words_are_warned() -> None:
    report = diagnose(
        "tests.test_doctor:DrawsNothingSaysNothing", episodes=6, steps=20, estimate=False
    )
    assert report.passed  # it runs; these are warnings
    text = "\n".join(report.warnings)
    assert "constant frame: every 'image' frame" in text
    assert "DrawsNothingSaysNothing.draw_observation() drew 16 views" in text
    assert "silent audio: all" in text
    assert "whistle" in text
    assert report.text is not None and report.text.unknown_words == {"whistle": 1}
    assert report.text.unknown_tokens > 0
    assert {item.key: item.kind for item in report.observation} == {
        "image": "image",
        "text": "text",
        "audio": "audio",
    }


def test_an_unknown_id_is_a_user_error(capsys) -> None:
    assert main(["doctor", "mmagent/NoSuchGame-v0"]) == 2
    assert "unknown env id 'mmagent/NoSuchGame-v0'" in capsys.readouterr().err


def test_a_bad_config_key_is_a_user_error(capsys) -> None:
    assert main(["doctor", "mmagent/CueMatch-v0", "--set", "n_envz=3"]) == 2
    assert "unknown config key 'n_envz'" in capsys.readouterr().err
