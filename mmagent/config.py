"""Training configuration: a dataclass validated from YAML, RL-Zoo style.

Layers, each overriding the one before: the dataclass defaults → the game's YAML shipped in
``mmagent/configs/`` → a user's ``--config FILE`` → ``--set key=value`` pairs → explicit
command-line flags. Unknown keys name close matches; wrong types name the expected type.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import multiprocessing
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mmagent.suggestions import did_you_mean

DEFAULT_ENV_ID = "mmagent/CueMatch-v0"
SCHEDULE_KINDS = ("lin",)
SCHEDULE_KEYS = ("learning_rate", "clip_range")
"""Keys that take a number or a ``lin_<start>`` schedule (:func:`parse_schedule`)."""


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names it and the fix."""


@dataclass
class TrainConfig:
    """Everything one training run needs; saved fully resolved as ``config.yaml`` in the run dir."""

    env_id: str = DEFAULT_ENV_ID
    """Gymnasium id of the game (``mmagent/<Game>-v<N>``, or ``module.path:Id`` to import one)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the game's constructor (difficulty, image size, audio format)."""
    algo: str = "ppo"
    """``ppo`` (a memoryless policy) or ``ppo_lstm`` (sb3-contrib's ``RecurrentPPO``: an LSTM
    between the extractor and the heads, its state reset at each episode start; the policy
    becomes the LSTM twin of ``policy``: docs/recurrent.md)."""
    backend: str = "sb3"
    """``sb3`` (stable-baselines3 in this process) or ``rllib`` (Ray RLlib's PPO with the same
    extractor, on a local Ray or a cluster; needs ``pip install "mmagent[ray]"``)."""
    address: str | None = None
    """``backend: rllib`` only: the Ray cluster to join (``auto``, ``host:port``); ``null``: the
    ``RAY_ADDRESS`` environment variable when set, else a local Ray started in-process."""
    num_env_runners: int = 0
    """``backend: rllib`` only: Ray actors stepping the envs, ``n_envs / num_env_runners`` each;
    0 steps all ``n_envs`` in the training process."""
    num_gpus_per_learner: float = 0.0
    """``backend: rllib`` only: GPUs for RLlib's learner (0: it trains on the CPU)."""
    policy: str = "MultiInputPolicy"
    """SB3 policy name; mmagent's multimodal extractor is plugged in through policy_kwargs.
    With ``algo: ppo_lstm``, ``MultiInputPolicy`` means ``MultiInputLstmPolicy``."""
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
    step_timeout: float | None = 60.0
    """``shared`` vec env only: seconds a worker may take to answer one step (or reset) before
    it is reported hung and killed, ending training with an emergency checkpoint; ``null``
    waits forever. Start-up (imports, building the envs) always gets at least 300 s."""
    start_method: str | None = None
    """``shared`` and ``subproc`` vec envs: the ``multiprocessing`` start method of the worker
    processes (``forkserver``, ``spawn`` or ``fork``); ``null``: ``forkserver`` where the
    platform has it, else ``spawn``."""
    trainer: str = "fast"
    """``fast`` (:class:`mmagent.fast.FastPPO`: rollout and minibatches on the training device,
    few host syncs) or ``sb3`` (stock ``stable_baselines3.PPO``); both learn the same PPO.
    With ``algo: ppo_lstm``: ``fast`` is :class:`mmagent.fast.recurrent.PackedRecurrentPPO`
    (sb3-contrib's ``RecurrentPPO`` encoding each observation of a minibatch once, not its
    padding), ``sb3`` sb3-contrib's ``RecurrentPPO`` as it is."""
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


@dataclass(frozen=True)
class Range:
    """The interval a number must lie in; open ends exclude their bound, ``None`` is unbounded.
    Every number must be finite as well (NaN and infinity never fit)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {high}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class Choices:
    """The strings a key takes: ``values``, and ``<prefix>:<index>`` for each prefix in
    ``indexed`` (``cuda:1``). ``in`` says what is accepted and iterating lists it for people,
    so an instance also serves as argparse's ``choices=``."""

    values: tuple[str, ...]
    indexed: tuple[str, ...] = ()

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if value in self.values:
            return True
        prefix, colon, index = value.partition(":")
        return bool(colon) and prefix in self.indexed and re.fullmatch("[0-9]+", index) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self.values
        yield from (f"{prefix}:<index>" for prefix in self.indexed)

    def __str__(self) -> str:
        return ", ".join(self)


SEED_RANGE = Range(0, 2**32 - 1)
"""Seeds numpy takes (``np.random.seed`` wants 32 bits)."""

VALUE_RULES: dict[str, Range | Choices | None] = {
    "env_id": None,
    "env_kwargs": None,  # checked against the game's constructor: check_env_kwargs
    "algo": Choices(("ppo", "ppo_lstm")),
    "backend": Choices(("sb3", "rllib")),
    "address": None,
    "num_env_runners": Range(0),
    "num_gpus_per_learner": Range(0),
    "policy": Choices(
        (
            "MultiInputPolicy",
            "MlpPolicy",
            "CnnPolicy",
            "MultiInputLstmPolicy",
            "MlpLstmPolicy",
            "CnnLstmPolicy",
        )
    ),
    "policy_kwargs": None,  # checked against the policy and the extractor: check_policy_kwargs
    "n_envs": Range(1),
    "n_timesteps": Range(1),
    "vec_env": Choices(("dummy", "subproc", "shared")),
    "step_timeout": Range(0, low_open=True),
    "start_method": Choices(tuple(multiprocessing.get_all_start_methods())),
    "trainer": Choices(("fast", "sb3")),
    "bf16_update": None,
    "compile_acting": None,
    "seed": SEED_RANGE,
    "device": Choices(("auto", "cpu", "cuda"), indexed=("cuda",)),
    "learning_rate": Range(0, low_open=True),
    "n_steps": Range(1),
    "batch_size": Range(1),
    "n_epochs": Range(1),
    "gamma": Range(0, 1, low_open=True),
    "gae_lambda": Range(0, 1),
    "clip_range": Range(0, low_open=True),
    "ent_coef": Range(0),
    "vf_coef": Range(0),
    "max_grad_norm": Range(0, low_open=True),
    "eval_freq": Range(0),
    "eval_episodes": Range(1),
    "final_eval_episodes": Range(1),
    "eval_deterministic": None,
    "checkpoint_freq": Range(0),
    "video_freq": Range(0),
    "progress_bar": None,
}
"""What each :class:`TrainConfig` key accepts beyond its annotated type: a :class:`Range` for
numbers (for :data:`SCHEDULE_KEYS`, of the number or of the schedule's start), a
:class:`Choices` for strings, ``None`` for no further rule (``None`` values of optional keys are
always accepted). :func:`check_value` applies it; the CLI's ``choices=`` come from
:func:`choices_of`."""


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)


def choices_of(key: str) -> Choices:
    """The :class:`Choices` of config key ``key`` (for a CLI flag's ``choices=``)."""
    rule = VALUE_RULES[key]
    if not isinstance(rule, Choices):
        raise KeyError(f"config key {key!r} has no choices")
    return rule


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
    if expected is type(None):
        return "null"
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
    not take (a recurrent policy's LSTM keys are accepted here; :func:`resolve_config` refuses
    them with ``algo: ppo``), or (with mmagent's extractor, i.e. no ``features_extractor_class``) a
    ``features_extractor_kwargs`` key :class:`~mmagent.extractors.MultimodalExtractor` does not
    take, suggesting the close matches; before any model is built."""
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    from mmagent.extractors import MultimodalExtractor

    fixed = ("self", "observation_space", "action_space", "lr_schedule")
    valid_policy_keys = _parameters(RecurrentActorCriticPolicy.__init__, fixed)
    _check_names(value, valid_policy_keys, "policy_kwargs", source)
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


def game_keywords(env_id: str) -> list[str] | None:
    """The keyword arguments :func:`mmagent.plugins.make_env` takes for ``env_id`` (the game's
    constructor keywords, a :class:`~envs.core.game.MultimodalGame` subclass's including its
    base classes', and ``gym.make``'s own), or ``None`` when they cannot be listed: a
    constructor or factory taking ``**kwargs`` that go elsewhere than mmagent's game base.

    :raises ConfigError: when ``env_id`` names no game (the resolver's message).
    """
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    from mmagent.plugins import GameRegistrationError, resolve_env_spec

    try:
        resolved = resolve_env_spec(env_id)
    except GameRegistrationError as error:
        raise ConfigError(str(error)) from error
    # "module.path:EnvId" is returned as given once the module registered EnvId
    spec = gym.registry.get(resolved) or gym.registry[resolved.rpartition(":")[2]]
    entry_point = spec.entry_point
    try:
        creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    except (ImportError, AttributeError):  # a broken registration: gym.make will say so
        return None
    names = _constructor_keywords(creator)
    if names is None:
        return None
    make_keywords = _parameters(gym.make, ("id", "kwargs"))
    return sorted(names | set(make_keywords))


def _constructor_keywords(creator: Callable[..., Any]) -> set[str] | None:
    from envs.core.game import MultimodalGame

    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    # a MultimodalGame subclass hands its **kwargs on to its base: collect up to a fixed one
    chain = (
        [klass.__dict__["__init__"] for klass in creator.__mro__ if "__init__" in klass.__dict__]
        if isinstance(creator, type) and issubclass(creator, MultimodalGame)
        else [creator]
    )
    names: set[str] = set()
    for function in chain:
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return None
        names |= {item.name for item in parameters if item.kind in keyword_kinds} - {"self"}
        if not any(item.kind is inspect.Parameter.VAR_KEYWORD for item in parameters):
            return names
        if function is MultimodalGame.__init__:
            break
    return None


def check_env_kwargs(env_id: str, env_kwargs: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` for an ``env_kwargs`` key the game of ``env_id`` does not take
    (see :func:`game_keywords`), suggesting the close matches; nothing is checked when there
    are no keys or the game's keywords cannot be listed."""
    if not env_kwargs:
        return
    valid = game_keywords(env_id)
    if valid is not None:
        _check_names(env_kwargs, valid, f"env_kwargs (keywords of {env_id})", source)


def check_env_kwargs_values(env_id: str, env_kwargs: Mapping[str, Any], source: str) -> None:
    """Make the game of ``env_id`` once with ``env_kwargs`` and close it; raise
    :class:`ConfigError` naming ``env_kwargs`` when the game refuses them with a ``ValueError``
    or ``TypeError`` (``n_pads must be an int from 2 to 9``). Nothing is made when there are no
    ``env_kwargs``: a game that fails then is not refusing the user's values."""
    if not env_kwargs:
        return
    check_env_kwargs(env_id, env_kwargs, source)
    from mmagent.plugins import make_env

    try:
        env = make_env(env_id, **env_kwargs)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"env_kwargs {dict(env_kwargs)} in {source} are refused by {env_id}: "
            f"{type(error).__name__}: {error}"
        ) from error
    env.close()


def check_value(key: str, value: Any, source: str) -> None:
    """Raise :class:`ConfigError` when ``value`` does not fit field ``key``'s type, or the range
    or choices :data:`VALUE_RULES` gives it."""
    expected = _type_hints()[key]
    if not _accepts(expected, value):
        raise ConfigError(
            f"config key {key!r} in {source} must be {_type_name(expected)}, "
            f"got {type(value).__name__} {value!r}{_yaml_number_hint(expected, value)}"
        )
    rule = VALUE_RULES.get(key)
    if value is None or rule is None:
        return
    if isinstance(rule, Choices):
        if value not in rule:
            raise ConfigError(
                f"config key {key!r} in {source} must be one of {rule}, got {value!r}"
                f"{did_you_mean(str(value), rule.values)}"
            )
        return
    if isinstance(value, str):  # a schedule of a SCHEDULE_KEYS key: its start must fit
        start = _schedule_start(value, key)
        if start not in rule:
            raise ConfigError(
                f"config key {key!r} in {source}: the start of schedule {value!r} must be "
                f"{_finite(start)}{rule}, got {start!r}"
            )
        return
    if value not in rule:
        raise ConfigError(
            f"config key {key!r} in {source} must be {_finite(value)}{rule}, got {value!r}"
        )


def _finite(value: float) -> str:
    """``"a finite number "`` for NaN and infinities, whose trouble is not their size."""
    return "" if math.isfinite(value) else "a finite number "


def _yaml_number_hint(expected: Any, value: Any) -> str:
    """A hint for YAML 1.1's ``1e-3``, which PyYAML reads as a string, not a number."""
    if not isinstance(value, str) or not _accepts(expected, 1.5):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (YAML reads 1e-3 as a string: write it with a dot, 1.0e-3)"


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


def _schedule_start(value: str, key: str) -> float:
    """The start of schedule ``value`` (``lin_3e-4`` → ``3e-4``); ConfigError when it is not
    one."""
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
    return initial


def parse_schedule(
    value: float | str, key: str = "learning_rate"
) -> float | Callable[[float], float]:
    """A constant, or a ``lin_<start>`` schedule as SB3 wants it (a function of progress left)."""
    if not isinstance(value, str):
        return float(value)
    initial = _schedule_start(value, key)

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
        raise ConfigError(
            f"--set {assignment!r}: the value is not valid YAML ({yaml_problem(error)})"
        ) from error
    parts = key.strip().split(".")
    nested: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        nested = {part: nested}
    return nested


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML parser's error in one line: ``line 2, column 1: expected ',' or ']'...``."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or " ".join(str(error).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping, with errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} {'is a directory' if path.is_dir() else 'does not exist'}"
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {yaml_problem(error)}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path} is not UTF-8 text ({error})") from error
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
    given_flags = {key: value for key, value in (flags or {}).items() if value is not None}
    config = TrainConfig(env_id=chosen_id)
    user_policy_kwargs: set[str] = set()  # policy_kwargs keys a layer above the shipped one set
    for layer, (values, source) in enumerate(
        (
            (packaged_config(chosen_id), f"the shipped {chosen_id} config"),
            (user_file, f"config file {config_file}"),
            (set_values, "--set"),
            (given_flags, "the command line"),
        )
    ):
        config = apply_overrides(config, values, source)
        if layer > 0 and isinstance(values.get("policy_kwargs"), dict):
            user_policy_kwargs |= set(values["policy_kwargs"])
        env_kwargs = values.get("env_kwargs")
        if isinstance(env_kwargs, Mapping):
            check_env_kwargs(chosen_id, env_kwargs, source)
    config.env_id = chosen_id
    from mmagent.recurrent import drop_shipped_lstm_options, resolve_algorithm

    config = drop_shipped_lstm_options(config, user_policy_kwargs)
    return resolve_algorithm(config)


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
