"""Training configuration: a dataclass validated from YAML, RL-Zoo style.

Layers, each overriding the one before: the dataclass defaults → the game's YAML shipped in
``mmagent/configs/`` → a user's ``--config FILE`` → ``--set key=value`` pairs → explicit
command-line flags. Unknown keys name close matches; wrong types name the expected type.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mmagent.suggestions import did_you_mean

DEFAULT_ENV_ID = "mmagent/CueMatch-v0"
SCHEDULE_KINDS = ("lin",)


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names it and the fix."""


@dataclass
class TrainConfig:
    """Everything one training run needs; saved fully resolved as ``config.yaml`` in the run dir."""

    env_id: str = DEFAULT_ENV_ID
    """Gymnasium id of the game (``mmagent/<Game>-v<N>``, or ``module.path:Id`` to import one)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the game's constructor (difficulty, image size, audio format)."""
    policy: str = "MultiInputPolicy"
    """SB3 policy name; mmagent's multimodal extractor is plugged in through policy_kwargs."""
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """SB3 policy kwargs; ``features_extractor_kwargs`` configure the multimodal extractor."""
    n_envs: int = 8
    """Parallel game instances collecting experience."""
    n_timesteps: int = 100_000
    """Total environment steps to train for (all envs together)."""
    vec_env: str = "dummy"
    """How envs are stepped: ``dummy`` (one process), ``subproc`` (one process per env) or
    ``shared`` (one worker per core, each stepping a slice of the envs, observations in shared
    memory; see :class:`mmagent.fast.SharedMemoryVecEnv`)."""
    trainer: str = "fast"
    """``fast`` (:class:`mmagent.fast.FastPPO`: rollout and minibatches on the training device,
    few host syncs) or ``sb3`` (stock ``stable_baselines3.PPO``); both learn the same PPO."""
    bf16_update: bool = False
    """``fast`` trainer only: run the update's forward passes under bfloat16 autocast (for GPUs
    with bfloat16 arithmetic; on a CPU without it the update is an order of magnitude slower)."""
    compile_acting: bool = False
    """``fast`` trainer only: ``torch.compile`` the acting forward pass (a CUDA graph on CUDA);
    compiling costs tens of seconds at the start."""
    seed: int = 0
    """Seed of the model and of the training envs (env i starts from ``seed + i``)."""
    device: str = "auto"
    """``auto`` (GPU when present), ``cpu`` or ``cuda``."""
    learning_rate: float | str = 3e-4
    """Adam step size: a number, or a schedule ``lin_<start>`` decaying linearly to 0."""
    n_steps: int = 128
    """Steps each env collects per rollout."""
    batch_size: int = 256
    """Minibatch size of the PPO update."""
    n_epochs: int = 4
    """Passes over each rollout."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE smoothing."""
    clip_range: float | str = 0.2
    """PPO clip range: a number or a ``lin_<start>`` schedule."""
    ent_coef: float = 0.01
    """Entropy bonus weight."""
    vf_coef: float = 0.5
    """Value loss weight."""
    max_grad_norm: float = 0.5
    """Gradient clipping norm."""
    eval_freq: int = 20_000
    """Evaluate every this many env steps (0 disables periodic evaluation)."""
    eval_episodes: int = 50
    """Episodes per periodic evaluation (validation seeds, apart from the final evaluation's)."""
    final_eval_episodes: int = 100
    """Episodes of the evaluation after training (held-out seeds), written to ``eval.json``."""
    eval_deterministic: bool = True
    """Evaluate with the policy's most likely actions; ``false`` samples them (the periodic and
    the final evaluation, and ``mmagent eval`` of the run unless told otherwise). A memoryless
    greedy policy can repeat a pair of states forever (turn left, turn right); sampling breaks
    such loops, as RL Zoo samples for Atari games."""
    checkpoint_freq: int = 50_000
    """Save a checkpoint every this many env steps (0 disables periodic checkpoints)."""
    video_freq: int = 0
    """Record one evaluation episode with sound every this many env steps (0 disables)."""
    progress_bar: bool = True
    """Show SB3's progress bar."""


def config_fields() -> dict[str, dataclasses.Field]:
    """The dataclass fields of :class:`TrainConfig` by name."""
    return {item.name: item for item in dataclasses.fields(TrainConfig)}


def _type_hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _accepts(expected: Any, value: Any) -> bool:
    """Whether ``value`` fits the annotation ``expected`` (without coercion)."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(option, value) for option in typing.get_args(expected))
    if origin is dict or expected is dict:
        return isinstance(value, dict)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _type_name(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(option) for option in typing.get_args(expected))
    if origin is dict:
        return "a mapping"
    return getattr(expected, "__name__", str(expected))


def check_key(key: str, source: str) -> None:
    """Raise :class:`ConfigError` for an unknown key, suggesting the close matches."""
    names = config_fields()
    if key in names:
        return
    raise ConfigError(
        f"unknown config key {key!r} in {source}{did_you_mean(key, names)} "
        f"(valid keys: {', '.join(sorted(names))})"
    )


def _check_names(given: Mapping[str, Any], valid: list[str], where: str, source: str) -> None:
    for name in given:
        if name not in valid:
            raise ConfigError(
                f"unknown key {name!r} in {where} in {source}{did_you_mean(str(name), valid)} "
                f"(valid keys: {', '.join(sorted(valid))})"
            )


def _parameters(function: Callable[..., Any], fixed: tuple[str, ...]) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name not in fixed]


def check_policy_kwargs(value: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` for a ``policy_kwargs`` key the SB3 actor-critic policy does
    not take, or (with mmagent's extractor, i.e. no ``features_extractor_class``) a
    ``features_extractor_kwargs`` key :class:`~mmagent.extractors.MultimodalExtractor` does not
    take, suggesting the close matches; before any model is built."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from mmagent.extractors import MultimodalExtractor

    fixed = ("self", "observation_space", "action_space", "lr_schedule")
    _check_names(value, _parameters(ActorCriticPolicy.__init__, fixed), "policy_kwargs", source)
    extractor_kwargs = value.get("features_extractor_kwargs")
    if "features_extractor_class" in value or extractor_kwargs is None:
        return
    where = "policy_kwargs.features_extractor_kwargs"
    if not isinstance(extractor_kwargs, Mapping):
        raise ConfigError(
            f"{where} in {source} must be a mapping, got {type(extractor_kwargs).__name__}"
        )
    valid = _parameters(MultimodalExtractor.__init__, fixed)
    _check_names(extractor_kwargs, valid, where, source)


def check_value(key: str, value: Any, source: str) -> None:
    """Raise :class:`ConfigError` when ``value`` does not fit field ``key``'s type or range."""
    expected = _type_hints()[key]
    if not _accepts(expected, value):
        raise ConfigError(
            f"config key {key!r} in {source} must be {_type_name(expected)}, "
            f"got {type(value).__name__} {value!r}"
        )
    if isinstance(value, str) and key in ("learning_rate", "clip_range"):
        parse_schedule(value, key)
    positive = (
        "n_envs",
        "n_timesteps",
        "n_steps",
        "batch_size",
        "n_epochs",
        "eval_episodes",
        "final_eval_episodes",
    )
    if key in positive and value <= 0:
        raise ConfigError(f"config key {key!r} in {source} must be positive, got {value}")
    non_negative = ("eval_freq", "checkpoint_freq", "video_freq")
    if key in non_negative and value < 0:
        raise ConfigError(f"config key {key!r} in {source} must be 0 or more, got {value}")
    choices = {
        "vec_env": ("dummy", "subproc", "shared"),
        "device": ("auto", "cpu", "cuda"),
        "trainer": ("fast", "sb3"),
    }
    if key in choices and value not in choices[key] and not str(value).startswith("cuda:"):
        raise ConfigError(
            f"config key {key!r} in {source} must be one of {choices[key]}, got {value!r}"
        )


def require_device(device: str | None) -> None:
    """Raise :class:`ConfigError` when ``device`` names CUDA and torch sees no CUDA device
    (stable-baselines3 would quietly run on the CPU instead)."""
    if device is None or not str(device).startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        build = torch.version.cuda or "none (a CPU-only build)"
        raise ConfigError(
            f"device {device!r} was asked for, but torch {torch.__version__} sees no CUDA device "
            f"(its CUDA: {build}); use device auto or cpu, or install a CUDA build of torch"
        )


def parse_schedule(
    value: float | str, key: str = "learning_rate"
) -> float | Callable[[float], float]:
    """A constant, or a ``lin_<start>`` schedule as SB3 wants it (a function of progress left)."""
    if not isinstance(value, str):
        return float(value)
    kind, _, start = value.partition("_")
    try:
        initial = float(start)
    except ValueError:
        initial = None
    if kind not in SCHEDULE_KINDS or initial is None:
        raise ConfigError(
            f"config key {key!r}: schedule {value!r} is not understood; "
            "use a number or 'lin_<start>' such as 'lin_3e-4'"
        )

    def linear(progress_remaining: float) -> float:
        return progress_remaining * initial

    return linear


def apply_overrides(config: TrainConfig, values: Mapping[str, Any], source: str) -> TrainConfig:
    """A copy of ``config`` with ``values`` validated and applied (mappings merge key by key)."""
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"{source} must hold a mapping of config keys, got {type(values).__name__}"
        )
    updated = dataclasses.replace(config)
    for key, value in values.items():
        check_key(str(key), source)
        check_value(key, value, source)
        current = getattr(updated, key)
        if isinstance(current, dict) and isinstance(value, dict):
            value = _deep_merge(current, value)
        if key == "policy_kwargs":  # merged: a features_extractor_class may come from below
            check_policy_kwargs(value, source)
        setattr(updated, key, value)
    return updated


def _deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_assignment(assignment: str) -> dict[str, Any]:
    """``"a.b.c=value"`` → ``{"a": {"b": {"c": value}}}``, the value read as YAML."""
    key, separator, raw = assignment.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"--set {assignment!r} is not key=value (e.g. --set n_envs=16)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {assignment!r}: the value is not valid YAML ({error})") from error
    parts = key.strip().split(".")
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
    return loaded


def packaged_config_name(env_id: str) -> str:
    """File name of the shipped config of ``env_id``: ``mmagent/Beacon-v0`` → ``Beacon-v0.yaml``."""
    return env_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1] + ".yaml"


def packaged_config(env_id: str) -> dict[str, Any]:
    """The shipped hyperparameters of ``env_id`` (empty when the game ships none)."""
    resource = resources.files("mmagent").joinpath("configs", packaged_config_name(env_id))
    if not resource.is_file():
        return {}
    loaded = yaml.safe_load(resource.read_text(encoding="utf-8")) or {}
    return dict(loaded)


def resolve_config(
    env_id: str | None = None,
    config_file: str | Path | None = None,
    assignments: list[str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Build a validated config from every layer (see the module docstring)."""
    user_file = read_yaml(config_file) if config_file is not None else {}
    set_values: dict[str, Any] = {}
    for assignment in assignments or []:
        set_values = _deep_merge(set_values, parse_assignment(assignment))
    chosen_id = (
        env_id
        or (flags or {}).get("env_id")
        or set_values.get("env_id")
        or user_file.get("env_id")
        or DEFAULT_ENV_ID
    )
    config = TrainConfig(env_id=chosen_id)
    config = apply_overrides(config, packaged_config(chosen_id), f"the shipped {chosen_id} config")
    config = apply_overrides(config, user_file, f"config file {config_file}")
    config = apply_overrides(config, set_values, "--set")
    given_flags = {key: value for key, value in (flags or {}).items() if value is not None}
    config = apply_overrides(config, given_flags, "the command line")
    config.env_id = chosen_id
    return config


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """A plain mapping of the config, ready for YAML."""
    return dataclasses.asdict(config)


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write ``config`` as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")


def load_config(path: str | Path) -> TrainConfig:
    """Read a saved ``config.yaml`` back (validated like any config file)."""
    values = read_yaml(path)
    return apply_overrides(TrainConfig(), values, f"config file {path}")
