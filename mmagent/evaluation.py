"""Evaluate a policy on held-out seeds: success rate with a 95% interval, returns, lengths,
a breakdown by instruction kind, how the episodes ended, and optional modality ablation."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from envs.core.game import default_ending
from mmagent.extractors import multimodal_extractors

#: Evaluation episodes use seeds from here on; training envs are seeded from small numbers,
#: so evaluation layouts are drawn from seeds that training never used.
EVAL_SEED_BASE = 1_000_000

#: Periodic evaluations during training (which pick ``best_model.zip``) use seeds from here on,
#: so a model chosen on them is still measured on layouts it was not chosen on.
VALIDATION_SEED_BASE = 2_000_000


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% for the default ``z``)."""
    if trials == 0:
        return 0.0, 1.0
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half_width = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials))
    half_width /= denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


@dataclass
class EvaluationReport:
    """What an evaluation measured."""

    env_id: str
    episodes: int
    success_rate: float
    success_ci95: tuple[float, float]
    mean_return: float
    mean_length: float
    seeds: tuple[int, int]
    deterministic: bool
    ablated: tuple[str, ...] = ()
    by_instruction_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    #: episodes per ``info["ending"]`` (mmagent's games), most frequent first; for other envs
    #: ``"success"``, ``"failure"`` or ``"time-out"`` (``"terminated"`` where the env reports no
    #: success)
    endings: dict[str, int] = field(default_factory=dict)
    #: whether any episode's last ``info`` held ``"is_success"``; when not, ``success_rate`` is
    #: 0 only for want of a signal, and :meth:`summary` says so instead of printing it
    success_reported: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        data = asdict(self)
        data["success_ci95"] = list(self.success_ci95)
        data["seeds"] = list(self.seeds)
        data["ablated"] = list(self.ablated)
        return data

    def summary(self) -> str:
        """One line for people."""
        low, high = self.success_ci95
        ablated = f", ablated {'+'.join(self.ablated)}" if self.ablated else ""
        kinds = "; ".join(
            f"{kind} {figures['success_rate']:.0%} (n={int(figures['episodes'])})"
            for kind, figures in sorted(self.by_instruction_kind.items())
        )
        endings = format_endings(self.endings)
        success = (
            f"success {self.success_rate:.1%} [95% CI {low:.1%}–{high:.1%}]"
            if self.success_reported
            else NO_SUCCESS_SIGNAL
        )
        return (
            f"{self.env_id}: {success} over {self.episodes} episodes "
            f"({'greedy' if self.deterministic else 'sampled'} actions){ablated}, "
            f"return {self.mean_return:.3f}, length {self.mean_length:.1f}"
            + (f"; by instruction: {kinds}" if kinds else "")
            + (f"; endings: {endings}" if endings else "")
        )


NO_SUCCESS_SIGNAL = (
    "success: not reported by the env (no info['is_success']); pass "
    "make_multimodal(..., success=...)"
)
"""What a summary says in place of the success rate when no episode reported success."""


def episode_ending(info: dict[str, Any], terminated: bool, *, unreported: str = "failure") -> str:
    """How an episode ended: the game's ``info["ending"]`` when it gives one, else
    ``"success"`` / ``"failure"`` for a terminated episode and ``"time-out"`` for a truncated
    one.

    :param unreported: the ending of a terminated episode whose ``info`` has no
        ``"is_success"`` (:func:`evaluate` says ``"terminated"``: not known to be a failure).
    """
    ending = info.get("ending")
    if isinstance(ending, str) and ending:
        return ending
    if terminated and "is_success" not in info:
        return unreported
    return default_ending(terminated, bool(info.get("is_success", False)))


def format_endings(endings: dict[str, int]) -> str:
    """``"target 93, time-out 5"``: the episodes per ending, as a report lists them."""
    return ", ".join(f"{ending} {count}" for ending, count in endings.items())


def check_observation_shapes(
    model: BaseAlgorithm, env: Any, env_id: str, env_kwargs: dict[str, Any] | None
) -> None:
    """Raise ``ValueError`` naming the keys whose shapes differ between the observations
    ``model`` was trained on and those of ``env`` (an image may be channels-last in the env and
    channels-first in the model, as SB3 transposes it), and the fix: the ``env_kwargs`` it was
    trained with."""
    from gymnasium import spaces

    # anything with predict() evaluates (a scripted policy has no space to compare)
    trained, given = getattr(model, "observation_space", None), env.observation_space
    if not (isinstance(trained, spaces.Dict) and isinstance(given, spaces.Dict)):
        return
    differences = []
    for key, space in trained.spaces.items():
        other = given.spaces.get(key)
        if other is None:
            differences.append(f"{key!r}: {space.shape} trained, missing here")
            continue
        shape, here = tuple(space.shape or ()), tuple(other.shape or ())
        transposed = (here[2], here[0], here[1]) if len(here) == 3 else here
        if shape not in (here, transposed):
            differences.append(f"{key!r}: {shape} trained, {here} here")
    if differences:
        raise ValueError(
            f"the model was trained on other observations than {env_id} with "
            f"env_kwargs={dict(env_kwargs or {})} gives ({'; '.join(differences)}); evaluate "
            "it with the env_kwargs it was trained with (a run's config.yaml holds them: "
            "mmagent eval RUN_DIR reads them)"
        )


def evaluate(
    model: BaseAlgorithm,
    env_id: str,
    *,
    env_kwargs: dict[str, Any] | None = None,
    episodes: int = 100,
    seed_base: int = EVAL_SEED_BASE,
    deterministic: bool = True,
    ablate: Iterable[str] = (),
) -> EvaluationReport:
    """Run ``episodes`` episodes, episode ``i`` reset with seed ``seed_base + i``.

    A recurrent model (``algo: ppo_lstm``) carries its LSTM state through each episode and
    starts every episode from a zero state.

    :param deterministic: greedy actions; ``False`` samples them from a torch generator seeded
        with ``seed_base``, so a sampled evaluation is reproducible too (the caller's random
        state is put back afterwards).
    :param ablate: modalities (observation keys or kinds such as ``"audio"``) the model's
        multimodal extractor masks for this evaluation: their input is not read at all.
    :raises ValueError: for ``episodes`` below 1, a ``seed_base`` below 0, or observations
        of other shapes than the model was trained on (:func:`check_observation_shapes`).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be 1 or more, got {episodes!r}")
    if seed_base < 0:
        raise ValueError(f"seed_base must be 0 or more, got {seed_base!r}")
    ablated = tuple(ablate)
    from mmagent.plugins import make_env

    env = make_env(env_id, **(env_kwargs or {}))
    try:
        check_observation_shapes(model, env, env_id, env_kwargs)
    except ValueError:
        env.close()
        raise
    masks = ExitStack()
    if not deterministic:
        device = model.device
        masks.enter_context(
            torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])
        )
        torch.manual_seed(seed_base)
    if ablated:
        # Add to any mask the model was trained with, and put it back afterwards.
        for extractor in multimodal_extractors(model):
            masks.enter_context(extractor.masking(set(ablated) | extractor.masked_modalities))
    outcomes: list[tuple[bool, float, int, str | None]] = []
    endings: Counter[str] = Counter()
    success_reported = False
    try:
        for episode in range(episodes):
            observation, info = env.reset(seed=seed_base + episode)
            kind = info.get("instruction_kind")
            total, length = 0.0, 0
            # a recurrent policy's LSTM state: carried from step to step, zeroed at each
            # episode start (feed-forward policies ignore both and return None)
            state: Any = None
            episode_start = np.ones((1,), dtype=bool)
            while True:
                action, state = model.predict(
                    observation,
                    state=state,
                    episode_start=episode_start,
                    deterministic=deterministic,
                )
                episode_start = np.zeros((1,), dtype=bool)
                observation, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                length += 1
                if terminated or truncated:
                    break
            outcomes.append((bool(info.get("is_success", False)), total, length, kind))
            success_reported = success_reported or "is_success" in info
            endings[episode_ending(info, terminated, unreported="terminated")] += 1
    finally:
        masks.close()
        env.close()

    successes = sum(outcome[0] for outcome in outcomes)
    by_kind: dict[str, list[tuple[bool, float, int, str | None]]] = defaultdict(list)
    for outcome in outcomes:
        if outcome[3] is not None:
            by_kind[outcome[3]].append(outcome)
    return EvaluationReport(
        env_id=env_id,
        episodes=episodes,
        success_rate=successes / episodes,
        success_ci95=wilson_interval(successes, episodes),
        mean_return=float(np.mean([outcome[1] for outcome in outcomes])),
        mean_length=float(np.mean([outcome[2] for outcome in outcomes])),
        seeds=(seed_base, seed_base + episodes - 1),
        deterministic=deterministic,
        ablated=ablated,
        by_instruction_kind={
            kind: {
                "episodes": float(len(items)),
                "success_rate": sum(item[0] for item in items) / len(items),
                "mean_return": float(np.mean([item[1] for item in items])),
            }
            for kind, items in by_kind.items()
        },
        endings=dict(endings.most_common()),
        success_reported=success_reported,
    )
