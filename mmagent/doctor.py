"""``mmagent doctor``: check a new game before training on it, and say what training will cost.

:func:`diagnose` runs, on one env id (a registered id, ``module.path:EnvId`` or
``module.path:GameClass``, as everywhere else):

1. **the checkers** — Gymnasium's and stable-baselines3's ``check_env``, pass or fail with the
   message, and the warnings they give;
2. **step time** — the median time of one ``step()``; for a game on the base
   (:class:`envs.core.MultimodalGame`) broken into frame (``draw_observation``), audio
   (``sounds`` and the mix), rules (``update``) and the rest (the base's own work and wrappers);
3. **a random policy** over held-out seeds — success rate, return, length; whether the env
   reports success at all; whether every observation stays inside the observation space;
   a warning for a view that never changes or is one colour, and for audio that never sounds;
   the instruction vocabulary and any unknown words;
4. **the observation as the policy sees it** — each key's space after stable-baselines3's
   wrapping, the modality the extractor gives it and the encoder that reads it;
5. **an estimate of training speed on this machine** — a few real PPO minibatch updates of the
   configured policy (the game's shipped config, else the defaults) on a batch of this env's
   observations, plus the acting pass and the env steps of a short rollout, turned into
   env-steps/s and the wall time of 100k training steps. It is an estimate: a real run adds
   evaluations, checkpoints and logging, and other loads on the machine change it.

:func:`format_report` writes the report for a person; :meth:`DoctorReport.to_dict` for JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.game import MultimodalGame
from envs.core.text import UNKNOWN_ID, Vocabulary, split_words
from mmagent.config import TrainConfig

#: Training steps the wall-time estimate is given for.
ESTIMATE_STEPS = 100_000

#: An episode of the random policy that has not ended after this many steps is cut off (an env
#: without a time limit would otherwise never return).
MAX_EPISODE_STEPS = 10_000

#: Gymnasium's checker says this of every env made by ``gym.make``; it is not about the game.
_WRAPPED_NOTICE = "is different from the unwrapped version"


@dataclass
class CheckResult:
    """One check: its name, whether it passed, and what it found."""

    name: str
    passed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class StepTime:
    """How long one ``step()`` takes, in microseconds (medians over the measured steps)."""

    median_us: float
    steps: int
    parts_us: dict[str, float] = field(default_factory=dict)
    """For a game on the base: ``frame``, ``audio``, ``rules`` and ``other``; else empty."""
    note: str = ""


@dataclass
class RandomPolicy:
    """What uniformly random actions achieve over held-out seeds."""

    episodes: int
    seeds: tuple[int, int]
    success_rate: float | None
    """None when the env never set ``info["is_success"]`` (no success signal)."""
    mean_return: float
    mean_length: float
    cut_off: int = 0
    """Episodes that had not ended after :data:`MAX_EPISODE_STEPS` steps."""


@dataclass
class TextReport:
    """The instruction channel as the random policy met it."""

    vocabulary_size: int | None
    """Token ids (padding and unknown included), or None when no vocabulary was found."""
    instructions_seen: int
    unknown_words: dict[str, int] = field(default_factory=dict)
    unknown_tokens: int = 0
    """Token ids equal to the unknown id (1) in the observations."""


@dataclass
class KeyReport:
    """One observation key as the policy's features extractor receives it."""

    key: str
    space: str
    kind: str
    encoder: str | None = None
    shape: tuple[int, ...] | None = None
    """The canonical shape the encoder reads (image ``(C, H, W)``, audio ``(C, S)``...)."""


@dataclass
class TrainingEstimate:
    """Estimated training speed of the configured policy on this machine."""

    device: str
    trainer: str
    n_envs: int
    batch_size: int
    n_epochs: int
    env_seconds_per_step: float
    acting_seconds_per_step: float
    update_seconds_per_step: float
    env_steps_per_second: float
    seconds_for_100k: float
    minibatch_seconds: float
    n_timesteps: int = 0
    """The config's training length."""
    seconds_for_run: float = 0.0
    """Estimated wall time of ``n_timesteps`` steps."""
    note: str = ""


@dataclass
class DoctorReport:
    """Everything :func:`diagnose` found about one env."""

    env_spec: str
    env_id: str
    checks: list[CheckResult] = field(default_factory=list)
    step_time: StepTime | None = None
    random_policy: RandomPolicy | None = None
    text: TextReport | None = None
    observation: list[KeyReport] = field(default_factory=list)
    estimate: TrainingEstimate | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when every check passed, 1 when one failed."""
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        data = dataclasses.asdict(self)
        data["passed"] = self.passed
        return data


def diagnose(
    env_spec: str,
    *,
    episodes: int = 20,
    steps: int = 300,
    seed: int = 0,
    config: TrainConfig | None = None,
    estimate: bool = True,
    update_steps: int = 3,
) -> DoctorReport:
    """Check the env ``env_spec`` and measure it (see the module docstring).

    :param env_spec: a registered id, ``module.path:EnvId`` or ``module.path:GameClass``.
    :param episodes: random-policy episodes, episode ``i`` reset with seed
        ``EVAL_SEED_BASE + i`` (seeds training never uses).
    :param steps: ``step()`` calls timed.
    :param seed: seed of the random actions and of the timed run's first reset.
    :param config: the training config whose env kwargs and policy are used (default: the
        game's shipped config, else :class:`~mmagent.config.TrainConfig`'s defaults).
    :param estimate: build the policy and estimate training speed (the slowest part).
    :param update_steps: PPO minibatch updates timed for the estimate (after one warm-up).
    :raises mmagent.plugins.GameRegistrationError: when ``env_spec`` names no game.
    :raises ValueError: for ``episodes``, ``steps`` or ``update_steps`` below 1.
    """
    from mmagent.config import resolve_config
    from mmagent.plugins import resolve_env_spec

    for name, value in (("episodes", episodes), ("steps", steps), ("update_steps", update_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    env_id = resolve_env_spec(env_spec)
    if config is None:
        config = resolve_config(env_spec)
    env_kwargs = dict(config.env_kwargs)
    report = DoctorReport(env_spec=env_spec, env_id=env_id)

    def make() -> gym.Env:
        return gym.make(env_id, **env_kwargs)

    try:
        with _collect_warnings() as made_warnings:
            env = make()
            env.close()
    except Exception as error:  # a user's game may raise anything
        report.checks.append(CheckResult("make the env", False, _describe(error)))
        return report
    report.checks.append(CheckResult("make the env", True, warnings=made_warnings))
    report.checks.append(_run_checker("Gymnasium check_env", _gymnasium_checker, make))
    report.checks.append(_run_checker("stable-baselines3 check_env", _sb3_checker, make))

    try:
        with _collect_warnings() as caught:
            report.step_time = measure_step_time(make, steps=steps, seed=seed)
    except Exception as error:
        report.checks.append(CheckResult("step the env", False, _describe(error)))
        return report
    report.warnings.extend(caught)

    _random_policy(report, make, episodes=episodes, seed=seed)
    if estimate and all(check.passed for check in report.checks):
        _policy_and_estimate(report, config, seed=seed, update_steps=update_steps)
    elif not estimate:
        report.observation = _modalities_only(make)
    for check in report.checks:  # a warning about the game is listed once, at the end
        check.warnings = [text for text in check.warnings if text not in report.warnings]
    return report


# ---------------------------------------------------------------------------- checkers
def _gymnasium_checker(env: gym.Env) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(env, skip_render_check=True)


def _sb3_checker(env: gym.Env) -> None:
    from stable_baselines3.common.env_checker import check_env

    check_env(env, warn=True, skip_render_check=True)


def _run_checker(
    name: str, checker: Callable[[gym.Env], None], make: Callable[[], gym.Env]
) -> CheckResult:
    env = None
    try:
        with _collect_warnings() as caught:
            env = make()
            checker(env)
    except Exception as error:
        kept = [text for text in caught if _WRAPPED_NOTICE not in text]
        return CheckResult(name, False, _describe(error), warnings=kept)
    finally:
        if env is not None:
            env.close()
    kept = [text for text in caught if _WRAPPED_NOTICE not in text]
    return CheckResult(name, True, warnings=kept)


@contextmanager
def _collect_warnings() -> Iterator[list[str]]:
    """Record the warnings given inside, each text once, in order."""
    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield texts
        finally:
            for item in caught:
                text = _plain(str(item.message))
                if text not in texts:
                    texts.append(text)


def _plain(text: str) -> str:
    """``text`` without terminal colour codes (Gymnasium's logger colours its warnings)."""
    for code in ("\x1b[33m", "\x1b[0m", "\x1b[31m"):
        text = text.replace(code, "")
    return text.removeprefix("WARN: ").strip()


def _describe(error: BaseException) -> str:
    """``Type: message`` and where in the user's code it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    library = ("site-packages", "/mmagent/", "/envs/core/")
    for frame in reversed(frames):
        if not any(part in frame.filename for part in library):
            where = f" (at {frame.filename}:{frame.lineno}, in {frame.name})"
            break
    return f"{type(error).__name__}: {error}{where}"


# ---------------------------------------------------------------------------- step time
def measure_step_time(make: Callable[[], gym.Env], *, steps: int, seed: int = 0) -> StepTime:
    """Median ``step()`` time over ``steps`` random-action steps of a fresh env (resets, which
    a new episode needs, are not timed); broken into parts for a game on the base."""
    env = make()
    try:
        game = env.unwrapped
        clock: Counter[str] = Counter()
        parts = isinstance(game, MultimodalGame)
        if parts:
            _time_game_parts(game, clock)
        env.action_space.seed(seed)
        env.reset(seed=seed)
        totals: list[float] = []
        per_part: dict[str, list[float]] = {"frame": [], "audio": [], "rules": [], "other": []}
        for _ in range(steps):
            action = env.action_space.sample()
            clock.clear()
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            total = time.perf_counter() - start
            totals.append(total)
            if parts:
                for name in ("frame", "audio", "rules"):
                    per_part[name].append(clock[name])
                per_part["other"].append(total - sum(clock.values()))
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    median = statistics.median(totals) * 1e6
    if not parts:
        return StepTime(
            median, steps, note="total only: the parts are known for games on the base only"
        )
    return StepTime(
        median,
        steps,
        {name: statistics.median(values) * 1e6 for name, values in per_part.items()},
        note="frame: draw_observation; audio: sounds and the mix; rules: update; other: the "
        "base's own work (pixel copy, tokens, info) and wrappers",
    )


def _time_game_parts(game: MultimodalGame, clock: Counter[str]) -> None:
    """Make the game's hooks add their time to ``clock`` (instance attributes shadow them)."""

    def timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                clock[part] += time.perf_counter() - start

        return call

    game.update = timed("rules", game.update)  # type: ignore[method-assign]
    game.draw_observation = timed("frame", game.draw_observation)  # type: ignore[method-assign]
    game.sounds = timed("audio", game.sounds)  # type: ignore[method-assign]
    game.listener = timed("audio", game.listener)  # type: ignore[method-assign]
    game.mixer.mix = timed("audio", game.mixer.mix)  # type: ignore[method-assign]


# ---------------------------------------------------------------------------- random policy
def _random_policy(
    report: DoctorReport, make: Callable[[], gym.Env], *, episodes: int, seed: int
) -> None:
    from mmagent.evaluation import EVAL_SEED_BASE

    env = make()
    kinds = _kinds(env.observation_space)
    vocabulary = _find_vocabulary(env)
    text = TextReport(
        vocabulary_size=vocabulary.size if vocabulary is not None else _text_vocabulary(env),
        instructions_seen=0,
    )
    unknown: Counter[str] = Counter()
    instructions: set[str] = set()
    frames = _FrameWatch()
    sounds = _SoundWatch()
    outside: str | None = None
    outcomes: list[tuple[bool | None, float, int]] = []
    cut_off = 0
    rng_actions = env.action_space
    rng_actions.seed(seed)

    def observe(observation: Any, info: Mapping[str, Any]) -> None:
        nonlocal outside
        if outside is None:
            outside = _outside_space(env.observation_space, observation)
        if not isinstance(observation, Mapping):
            return
        for key, kind in kinds.items():
            value = np.asarray(observation.get(key))
            if kind == "image":
                frames.add(key, value)
            elif kind == "audio":
                sounds.add(key, value)
            elif kind == "text":
                text.unknown_tokens += int(np.count_nonzero(value == UNKNOWN_ID))
        sentence = info.get("instruction")
        if isinstance(sentence, str) and sentence not in instructions:
            instructions.add(sentence)
            if vocabulary is not None:
                unknown.update(word for word in split_words(sentence) if word not in vocabulary)

    try:
        with _collect_warnings() as caught:
            for episode in range(episodes):
                observation, info = env.reset(seed=EVAL_SEED_BASE + episode)
                observe(observation, info)
                total, length, success = 0.0, 0, None
                while True:
                    observation, reward, terminated, truncated, info = env.step(
                        rng_actions.sample()
                    )
                    observe(observation, info)
                    total += float(reward)
                    length += 1
                    if terminated or truncated:
                        if "is_success" in info:
                            success = bool(info["is_success"])
                        break
                    if length >= MAX_EPISODE_STEPS:
                        cut_off += 1
                        break
                outcomes.append((success, total, length))
    except Exception as error:
        report.checks.append(CheckResult("random-policy episodes", False, _describe(error)))
        return
    finally:
        env.close()
    report.warnings.extend(text for text in caught if text not in report.warnings)
    report.warnings = [
        text for text in report.warnings if "is not within the observation space" not in text
    ]  # Gymnasium's passive checker: reported as the check below, naming the key
    signalled = [outcome[0] for outcome in outcomes if outcome[0] is not None]
    report.random_policy = RandomPolicy(
        episodes=episodes,
        seeds=(EVAL_SEED_BASE, EVAL_SEED_BASE + episodes - 1),
        success_rate=sum(signalled) / len(signalled) if signalled else None,
        mean_return=float(np.mean([outcome[1] for outcome in outcomes])),
        mean_length=float(np.mean([outcome[2] for outcome in outcomes])),
        cut_off=cut_off,
    )
    report.checks.append(
        CheckResult(
            "observations inside the observation space",
            outside is None,
            outside or "",
        )
    )
    text.instructions_seen = len(instructions)
    text.unknown_words = dict(unknown.most_common())
    if "text" in kinds.values() or instructions:
        report.text = text
    report.warnings.extend(frames.warnings() + sounds.warnings())
    if not signalled:
        report.warnings.append(
            "no episode set info['is_success']: success rates (mmagent eval, training's "
            "evaluations) cannot be measured; set it when an episode ends (a game on the base "
            "does it from StepOutcome.success; make_multimodal takes success=)"
        )
    if cut_off:
        report.warnings.append(
            f"{cut_off} of {episodes} random-policy episodes had not ended after "
            f"{MAX_EPISODE_STEPS} steps; give the env a time limit (max_steps for a game on "
            "the base, gymnasium.wrappers.TimeLimit in a factory)"
        )
    if text.unknown_words:
        words = ", ".join(sorted(text.unknown_words))
        report.warnings.append(
            f"instructions use words outside the vocabulary ({words}); they become the "
            "unknown id 1 and the agent cannot tell them apart: add them to instructions() or "
            "the vocabulary"
        )


class _FrameWatch:
    """Whether every image seen was the same, or all one colour."""

    def __init__(self) -> None:
        self.first: dict[str, np.ndarray] = {}
        self.changed: set[str] = set()
        self.coloured: set[str] = set()
        self.count: Counter[str] = Counter()

    def add(self, key: str, frame: np.ndarray) -> None:
        self.count[key] += 1
        if key not in self.first:
            self.first[key] = frame.copy()
        elif key not in self.changed and not np.array_equal(frame, self.first[key]):
            self.changed.add(key)
        if key not in self.coloured and frame.size and not (frame == frame.flat[0]).all():
            self.coloured.add(key)

    def warnings(self) -> list[str]:
        found = []
        for key, count in self.count.items():
            if key not in self.coloured:
                found.append(
                    f"constant frame: every {key!r} frame of {count} was one colour; the agent "
                    "sees nothing (a game on the base must draw on the surface "
                    "draw_observation is given, not return a frame)"
                )
            elif key not in self.changed:
                found.append(
                    f"constant frame: all {count} {key!r} frames were identical; the view "
                    "does not show what changes"
                )
        return found


class _SoundWatch:
    """Whether any audio block seen varied (a constant block is silence at any offset)."""

    def __init__(self) -> None:
        self.heard: set[str] = set()
        self.count: Counter[str] = Counter()

    def add(self, key: str, block: np.ndarray) -> None:
        self.count[key] += 1
        if key not in self.heard and block.size and np.ptp(block.astype(np.float64)) > 1e-6:
            self.heard.add(key)

    def warnings(self) -> list[str]:
        return [
            f"silent audio: all {count} {key!r} blocks were silent; the agent hears nothing"
            for key, count in self.count.items()
            if key not in self.heard
        ]


def _kinds(space: spaces.Space) -> dict[str, str]:
    """``{key: modality kind}`` as the extractor detects them; ``{}`` if it cannot."""
    from mmagent.extractors import resolve_modalities

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return resolve_modalities(space)
    except (ValueError, KeyError, TypeError):
        return {}


def _find_vocabulary(env: gym.Env) -> Vocabulary | None:
    """The instruction vocabulary of a game on the base or of mmagent's text wrappers."""
    current: Any = env
    while current is not None:
        vocabulary = getattr(current, "vocabulary", None)
        if isinstance(vocabulary, Vocabulary):
            return vocabulary
        current = getattr(current, "env", None)
    return None


def _text_vocabulary(env: gym.Env) -> int | None:
    space = env.observation_space
    if isinstance(space, spaces.Dict) and isinstance(space.spaces.get("text"), spaces.Box):
        return int(np.max(space["text"].high)) + 1
    return None


def _outside_space(space: spaces.Space, observation: Any) -> str | None:
    """Why ``observation`` is not in ``space`` (naming the key), or None when it is."""
    if space.contains(observation):
        return None
    if isinstance(space, spaces.Dict) and isinstance(observation, Mapping):
        for key, subspace in space.spaces.items():
            if key not in observation:
                return f"the observation has no key {key!r} of the observation space"
            if not subspace.contains(observation[key]):
                value = _value_summary(observation[key])
                return f"observation {key!r}: {value} is not in {subspace}"
        extra = sorted(set(observation) - set(space.spaces))
        return f"the observation has keys the observation space lacks: {extra}"
    return f"the observation {_value_summary(observation)} is not in {space}"


def _value_summary(value: Any) -> str:
    array = np.asarray(value)
    if array.dtype == object or array.size == 0:
        return repr(value)[:80]
    return (
        f"shape {array.shape} {array.dtype} in [{array.min()}, {array.max()}]"
        if np.issubdtype(array.dtype, np.number)
        else f"shape {array.shape} {array.dtype}"
    )


# ---------------------------------------------------------------------------- policy, estimate
def _modalities_only(make: Callable[[], gym.Env]) -> list[KeyReport]:
    env = make()
    try:
        space = env.observation_space
        return [KeyReport(key, str(space[key]), kind) for key, kind in _kinds(space).items()]
    finally:
        env.close()


def _policy_and_estimate(
    report: DoctorReport, config: TrainConfig, *, seed: int, update_steps: int
) -> None:
    from mmagent.extractors import MultimodalExtractor
    from mmagent.train import build_model, make_env

    config = dataclasses.replace(config, seed=seed, progress_bar=False)
    vec_env = None
    try:
        with _collect_warnings() as caught:
            vec_env = make_env(config)
            model = build_model(config, vec_env)
    except Exception as error:
        if vec_env is not None:
            vec_env.close()
        report.observation = _modalities_only(
            lambda: gym.make(report.env_id, **dict(config.env_kwargs))
        )
        report.checks.append(CheckResult("build the policy", False, _describe(error)))
        return
    report.checks.append(CheckResult("build the policy", True, warnings=[text for text in caught]))
    extractor = model.policy.features_extractor
    space = model.observation_space
    if isinstance(extractor, MultimodalExtractor):
        report.observation = [
            KeyReport(
                key,
                str(space[key]),
                spec.kind,
                extractor.encoder_names[key],
                tuple(int(size) for size in spec.shape),
            )
            for key, spec in extractor.specs.items()
        ]
    else:
        report.observation = [
            KeyReport(key, str(space[key]), kind, type(extractor).__name__)
            for key, kind in _kinds(space).items()
        ]
    try:
        report.estimate = _estimate(model, config, update_steps=update_steps)
    except Exception as error:
        report.checks.append(CheckResult("estimate training speed", False, _describe(error)))
    finally:
        vec_env.close()


def _estimate(model: Any, config: TrainConfig, *, update_steps: int) -> TrainingEstimate:
    """Time a short rollout (acting pass and env steps) and a few PPO minibatch updates."""
    import torch
    from stable_baselines3.common.utils import obs_as_tensor

    policy = model.policy
    vec_env = model.env
    n_envs = vec_env.num_envs
    batch_size = config.batch_size
    rollout_steps = max(4, math.ceil(batch_size / n_envs))
    observations: list[Any] = []
    actions: list[np.ndarray] = []
    acting, stepping = [], []
    observation = vec_env.reset()
    for _ in range(rollout_steps):
        start = time.perf_counter()
        with torch.no_grad():
            action, _, _ = policy(obs_as_tensor(observation, model.device))
        action = action.cpu().numpy()
        middle = time.perf_counter()
        observations.append(observation)
        actions.append(action)
        observation, _, _, _ = vec_env.step(_clip_actions(model, action))
        stepping.append(time.perf_counter() - middle)
        acting.append(middle - start)

    batch = _batch(observations, batch_size)
    batch_actions = torch.as_tensor(np.concatenate(actions)[:batch_size]).to(model.device)
    while batch_actions.shape[0] < batch_size:
        batch_actions = torch.cat([batch_actions, batch_actions])[:batch_size]
    batch_obs = obs_as_tensor(batch, model.device)
    policy.set_training_mode(True)
    durations = []
    for index in range(update_steps + 1):
        start = time.perf_counter()
        _ppo_minibatch_update(model, batch_obs, batch_actions)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        if index:  # the first is a warm-up
            durations.append(time.perf_counter() - start)
    policy.set_training_mode(False)

    minibatch = statistics.median(durations)
    env_per_step = statistics.median(stepping[1:] or stepping) / n_envs
    acting_per_step = statistics.median(acting[1:] or acting) / n_envs
    update_per_step = config.n_epochs * minibatch / batch_size
    per_step = env_per_step + acting_per_step + update_per_step
    return TrainingEstimate(
        device=str(model.device),
        trainer=config.trainer,
        n_envs=n_envs,
        batch_size=batch_size,
        n_epochs=config.n_epochs,
        env_seconds_per_step=env_per_step,
        acting_seconds_per_step=acting_per_step,
        update_seconds_per_step=update_per_step,
        env_steps_per_second=1.0 / per_step,
        seconds_for_100k=ESTIMATE_STEPS * per_step,
        minibatch_seconds=minibatch,
        n_timesteps=config.n_timesteps,
        seconds_for_run=config.n_timesteps * per_step,
        note=f"estimate: {rollout_steps} rollout steps of {n_envs} envs ({config.vec_env} vec "
        f"env) and {update_steps} PPO minibatch updates of {batch_size} observations, "
        f"{config.n_epochs} epochs per rollout; a real run adds evaluations "
        f"({config.eval_episodes} episodes every {config.eval_freq} steps, "
        f"{config.final_eval_episodes} at the end), checkpoints and logging",
    )


def _clip_actions(model: Any, action: np.ndarray) -> np.ndarray:
    space = model.action_space
    if isinstance(space, spaces.Box):
        return np.clip(action, space.low, space.high)
    return action


def _batch(observations: Sequence[Any], size: int) -> Any:
    """The first ``size`` observations of a list of vec-env batches (repeated if too few)."""

    def take(parts: list[np.ndarray]) -> np.ndarray:
        joined = np.concatenate(parts)
        repeats = math.ceil(size / joined.shape[0])
        return np.concatenate([joined] * repeats)[:size]

    if isinstance(observations[0], Mapping):
        return {key: take([batch[key] for batch in observations]) for key in observations[0]}
    return take(list(observations))


def _ppo_minibatch_update(model: Any, observations: Any, actions: Any) -> None:
    """One minibatch step of PPO's loss (clipped surrogate, value and entropy terms)."""
    import torch

    policy = model.policy
    values, log_prob, entropy = policy.evaluate_actions(observations, actions)
    values = values.flatten()
    advantages = torch.randn_like(log_prob)
    returns = torch.randn_like(values)
    ratio = torch.exp(log_prob - log_prob.detach())
    clip = 0.2
    surrogate = torch.min(
        advantages * ratio, advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    ).mean()
    entropy_term = entropy.mean() if entropy is not None else -log_prob.mean()
    loss = -surrogate + model.vf_coef * torch.nn.functional.mse_loss(returns, values)
    loss = loss - model.ent_coef * entropy_term
    policy.optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
    policy.optimizer.step()


# ---------------------------------------------------------------------------- printing
def format_report(report: DoctorReport) -> str:
    """The report as text for a terminal."""
    lines = [
        f"mmagent doctor {report.env_spec}"
        + _if(report.env_id != report.env_spec, f" ({report.env_id})")
    ]
    lines.append("")
    lines.append("checks:")
    for check in report.checks:
        mark = "pass" if check.passed else "FAIL"
        lines.append(f"  [{mark}] {check.name}" + _if(check.message, f": {check.message}"))
        for text in check.warnings:
            lines.append(f"         warning: {text}")
    if report.step_time is not None:
        timing = report.step_time
        lines.append("")
        lines.append(f"step time: {timing.median_us:.0f} µs median over {timing.steps} steps")
        if timing.parts_us:
            parts = ", ".join(f"{name} {value:.0f} µs" for name, value in timing.parts_us.items())
            lines.append(f"  {parts}")
        lines.append(f"  ({timing.note})")
    if report.random_policy is not None:
        policy = report.random_policy
        success = (
            "not reported (no info['is_success'])"
            if policy.success_rate is None
            else f"{policy.success_rate:.0%}"
        )
        lines.append("")
        lines.append(
            f"random policy, {policy.episodes} episodes (seeds {policy.seeds[0]}.."
            f"{policy.seeds[1]}): success {success}, mean return {policy.mean_return:.3g}, "
            f"mean length {policy.mean_length:.1f}"
        )
    if report.text is not None:
        text = report.text
        size = "unknown" if text.vocabulary_size is None else f"{text.vocabulary_size} token ids"
        unknown = ", ".join(f"{word} ×{count}" for word, count in text.unknown_words.items())
        lines.append(
            f"instructions: {text.instructions_seen} distinct seen, vocabulary {size}, "
            f"unknown words: {unknown or 'none'} (unknown-id tokens seen: {text.unknown_tokens})"
        )
    if report.observation:
        lines.append("")
        lines.append("observation as the policy sees it:")
        for key in report.observation:
            encoder = _if(key.encoder, f" → {key.encoder} encoder")
            shape = _if(key.shape is not None, f" reads {key.shape}")
            lines.append(f"  {key.key}: {key.space} → {key.kind}{encoder}{shape}")
    if report.estimate is not None:
        estimate = report.estimate
        lines.append("")
        lines.append(
            f"training estimate on {estimate.device} ({estimate.trainer} trainer, "
            f"{estimate.n_envs} envs, batch {estimate.batch_size}): "
            f"~{estimate.env_steps_per_second:,.0f} env-steps/s, "
            f"~{_duration(estimate.seconds_for_100k)} for {ESTIMATE_STEPS:,} steps"
            + _if(
                estimate.n_timesteps != ESTIMATE_STEPS,
                f" (~{_duration(estimate.seconds_for_run)} for the config's "
                f"{estimate.n_timesteps:,})",
            )
        )
        lines.append(
            f"  per step: env {estimate.env_seconds_per_step * 1e6:.0f} µs, acting "
            f"{estimate.acting_seconds_per_step * 1e6:.0f} µs, update "
            f"{estimate.update_seconds_per_step * 1e6:.0f} µs "
            f"(one minibatch update {estimate.minibatch_seconds * 1e3:.0f} ms)"
        )
        lines.append(f"  ({estimate.note})")
    if report.warnings:
        lines.append("")
        lines.append("warnings:")
        lines.extend(f"  - {text}" for text in report.warnings)
    lines.append("")
    failed = [check.name for check in report.checks if not check.passed]
    lines.append("all checks passed" if not failed else f"failed: {', '.join(failed)}")
    return "\n".join(lines)


def _if(condition: Any, text: str) -> str:
    return text if condition else ""


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ---------------------------------------------------------------------------- command line
def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``mmagent doctor`` (the handler is :func:`run_doctor_command`)."""
    parser.add_argument(
        "env_id", help="a registered id, module.path:EnvId or module.path:GameClass"
    )
    parser.add_argument(
        "--episodes",
        type=_positive_int,
        default=20,
        help="random-policy episodes on held-out seeds (default 20)",
    )
    parser.add_argument(
        "--steps", type=_positive_int, default=300, help="steps timed (default 300)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the random actions (default 0)"
    )
    parser.add_argument("--config", help="YAML config whose env_kwargs and policy are used")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, as for mmagent train",
    )
    parser.add_argument(
        "--no-estimate",
        dest="estimate",
        action="store_false",
        help="skip building the policy and the training-speed estimate",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report to this JSON file")
    parser.set_defaults(handler=run_doctor_command)


def run_doctor_command(args: argparse.Namespace) -> int:
    """Run ``mmagent doctor``: 0 when every check passes, 1 when one fails, 2 for an id that
    names no game (a config error is turned into 2 by the caller)."""
    from mmagent.config import resolve_config
    from mmagent.plugins import GameRegistrationError

    try:
        config = resolve_config(args.env_id, args.config, args.set)
        report = diagnose(
            args.env_id,
            episodes=args.episodes,
            steps=args.steps,
            seed=args.seed,
            config=config,
            estimate=args.estimate,
        )
    except GameRegistrationError as error:
        print(f"mmagent doctor: error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        print(f"written: {args.json}")
    return report.exit_code


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
