"""Loading PPO models without unpickling anything from the model file.

An SB3 model ``.zip`` holds the weights (``policy.pth``, ``policy.optimizer.pth``,
``pytorch_variables.pth``, read here with ``torch.load(weights_only=True)``) and a JSON ``data``
entry. Most of ``data`` is plain JSON (counters, hyperparameters); what JSON cannot hold (the
spaces, the schedules, the policy class and kwargs, the last observation) SB3 stores as a
base64 cloudpickle under ``":serialized:"``, and ``PPO.load`` unpickles it: a crafted file runs
code when it is loaded. :func:`load_model_safely` never unpickles. It rebuilds those entries
from trusted sources instead:

- the observation and action spaces from the game the model plays (the ``env`` given, else the
  game named by the run's ``config.yaml`` or by the caller), checked against the plain-text
  description SB3 writes beside each pickle;
- the policy class, ``policy_kwargs`` and schedules from that plain-text description where it
  names only known classes and SB3's own schedules, else from the run's ``config.yaml``;
- runtime state (last observation, episode-info buffers, the rollout buffer class) is not
  restored: SB3 recreates it when training starts, as it does after its own ``load`` with an env.

Each pickle is also read statically (its opcodes, never executed) for the functions and classes
it would import; one naming anything beyond what a model saved by mmagent holds (``os.system``,
``pathlib.Path.write_text``...) is refused with :class:`UntrustedModelError`, which names
``--trust-model``. The refusal is a report, not the protection: nothing is unpickled either way.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickletools
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmagent.checkpoints import CheckpointError, CorruptCheckpointError, read_run_config

if TYPE_CHECKING:
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecEnv

    from mmagent.config import TrainConfig

TRUST_HINT = (
    "if you trust the file and where it came from, load it with --trust-model "
    "(trust_model=True), which unpickles it with SB3's loader and can run code from it"
)
SERIALIZED = ":serialized:"
"""The key under which SB3 stores a base64 cloudpickle in a model's ``data``."""
REBUILT_ENTRIES = frozenset(
    {
        "policy_class",
        "policy_kwargs",
        "observation_space",
        "action_space",
        "learning_rate",
        "lr_schedule",
        "clip_range",
        "clip_range_vf",
    }
)
"""Pickled entries rebuilt from trusted sources (``lr_schedule`` from ``learning_rate``)."""
RUNTIME_ENTRIES = frozenset(
    {
        "_last_obs",
        "_last_original_obs",
        "_last_episode_starts",
        "ep_info_buffer",
        "ep_success_buffer",
        "rollout_buffer_class",
    }
)
"""Pickled entries left out: SB3 recreates them when training starts (or never needs them)."""
_DATA_GLOBALS = frozenset(
    {
        "collections:OrderedDict",
        "collections:deque",
        "builtins:set",
        "builtins:frozenset",
        "numpy:dtype",
        "numpy:ndarray",
        "numpy.core.multiarray:_reconstruct",
        "numpy._core.multiarray:_reconstruct",
        "numpy.core.multiarray:scalar",
        "numpy._core.multiarray:scalar",
        "numpy.core.numeric:_frombuffer",
        "numpy._core.numeric:_frombuffer",
        "numpy.random._pickle:__generator_ctor",
        "numpy.random._pickle:__bit_generator_ctor",
        "numpy.random._pickle:__randomstate_ctor",
        "numpy.random.bit_generator:SeedSequence",
        "numpy.random.bit_generator:__pyx_unpickle_SeedSequence",
        "numpy.random._pcg64:PCG64",
        "numpy.random._pcg64:PCG64DXSM",
        "numpy.random._mt19937:MT19937",
        "numpy.random._philox:Philox",
        "numpy.random._sfc64:SFC64",
        "stable_baselines3.common.utils:FloatSchedule",
        "stable_baselines3.common.utils:ConstantSchedule",
        "stable_baselines3.common.utils:LinearSchedule",
        "stable_baselines3.common.buffers:RolloutBuffer",
        "stable_baselines3.common.buffers:DictRolloutBuffer",
        "mmagent.fast.buffer:DeviceRolloutBuffer",
    }
)
"""What the pickles of a genuine model may import besides the rebuilt objects' own classes:
numpy arrays, scalars and random generators, containers, SB3's schedules and rollout buffers."""
_OBJECT_REPR = re.compile(r"^<(class|function|built-in function|bound method) '?([\w.<>]+)'?.*>$")


class UntrustedModelError(CheckpointError):
    """Loading a model file would need unpickling (running code from the file); the message
    names the entry and ``--trust-model``."""


class ModelMismatchError(CheckpointError, ValueError):
    """The model was trained on other observation or action spaces than the game given."""


@dataclass
class ModelArchive:
    """What a model ``.zip`` holds, read without unpickling: ``data`` as parsed JSON
    (pickled entries still base64 text), the state dicts and the torch variables."""

    data: dict[str, Any]
    params: dict[str, dict[str, Any]]
    pytorch_variables: dict[str, torch.Tensor]

    def pickled(self) -> dict[str, dict[str, Any]]:
        """The entries of ``data`` SB3 stored as pickles, with their plain-text description."""
        return {
            key: value
            for key, value in self.data.items()
            if isinstance(value, dict) and SERIALIZED in value
        }


def read_model_archive(path: str | Path, device: str | torch.device = "cpu") -> ModelArchive:
    """Read a model ``.zip``: ``data`` as JSON, every ``.pth`` with ``weights_only=True``.

    :raises CorruptCheckpointError: when the file is not a zip, or lacks ``data`` or the policy.
    """
    import torch

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for required in ("data", "policy.pth"):
                if required not in names:
                    raise CorruptCheckpointError(
                        f"model file {path} has no {required!r} entry: it is not an SB3 model "
                        "or it is corrupt; use another checkpoint or retrain"
                    )
            data = json.loads(archive.read("data").decode("utf-8"))
            params: dict[str, dict[str, Any]] = {}
            variables: dict[str, torch.Tensor] = {}
            for name in names:
                if not name.endswith(".pth"):
                    continue
                with archive.open(name) as handle:
                    loaded = torch.load(
                        io.BytesIO(handle.read()), map_location=device, weights_only=True
                    )
                if name in ("pytorch_variables.pth", "tensors.pth"):
                    variables = loaded or {}
                else:
                    params[name[: -len(".pth")]] = loaded
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError, OSError) as error:
        raise CorruptCheckpointError(
            f"model file {path} is corrupt or not an SB3 PPO model "
            f"({type(error).__name__}: {error}); use another checkpoint from the run's "
            "checkpoints/ or retrain"
        ) from error
    if not isinstance(data, dict):
        raise CorruptCheckpointError(f"model file {path}: its 'data' entry is not a JSON mapping")
    return ModelArchive(data, params, variables)


def pickled_globals(payload: bytes) -> set[str]:
    """The ``module:name`` of every function or class a pickle would import, read from its
    opcodes without executing it; ``"?"`` stands for a reference this reader cannot resolve.

    :raises ValueError: when ``payload`` is not a well-formed pickle.
    """
    found: set[str] = set()
    pushed: list[Any] = []
    memo: dict[int, Any] = {}
    for opcode, argument, _ in pickletools.genops(payload):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            module, _, attribute = str(argument).partition(" ")
            found.add(f"{module}:{attribute}")
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            module, attribute = (pushed[-2], pushed[-1]) if len(pushed) >= 2 else (None, None)
            if isinstance(module, str) and isinstance(attribute, str):
                found.add(f"{module}:{attribute}")
            else:
                found.add("?")
            pushed.append(None)
        elif name in ("EXT1", "EXT2", "EXT4", "OBJ"):
            found.add("?")
            pushed.append(None)
        elif "UNICODE" in name or name.endswith("STRING"):
            pushed.append(str(argument))
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(argument)] = pushed[-1] if pushed else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(int(argument)))
        else:
            pushed.append(None)
    return found


def load_model_safely(
    path: str | Path,
    algorithm: type[PPO] | None = None,
    *,
    env: gym.Env | VecEnv | None = None,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    spaces: tuple[gym.Space, gym.Space] | None = None,
    device: str | torch.device = "auto",
    **kwargs: Any,
) -> PPO:
    """Load the PPO model at ``path`` (a ``.zip``) without unpickling anything from it.

    The result equals ``algorithm.load(path, env=env, device=device, **kwargs)`` on a genuine
    model: same weights, optimizer state, counters and hyperparameters (the last observation
    and the episode-info buffers are not restored).

    :param algorithm: the class to build (default ``stable_baselines3.PPO``).
    :param env: the env to attach, as SB3's ``load`` takes it; the spaces come from it.
    :param env_id: without ``env`` or ``spaces``: the game whose spaces the model takes
        (default: the ``env_id`` of the run's ``config.yaml``); made, read and closed.
    :param env_kwargs: that game's constructor keywords (default: the run config's when it
        names the same game).
    :param spaces: without ``env``: the game's ``(observation_space, action_space)``.
    :param kwargs: set on the model after loading, as with SB3 (e.g. ``bf16_update``).
    :raises UntrustedModelError: when an entry could only be loaded by unpickling it.
    :raises ModelMismatchError: when the game's spaces are not those the model was trained on.
    :raises CorruptCheckpointError: when the file cannot be read as a model.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import get_device

    cls = algorithm or PPO
    path = Path(path)
    device = get_device(device)
    archive = read_model_archive(path, device)
    sources = _Sources(path, env_id, env_kwargs)
    pickled = archive.pickled()
    if env is not None:
        env = cls._wrap_env(env, int(archive.data.get("verbose", 0)))

    found: list[tuple[gym.Space, gym.Space]] = []

    def game_spaces() -> tuple[gym.Space, gym.Space]:
        if not found:
            found.append(_spaces(env, spaces, sources))
        return found[0]

    rebuilt: dict[str, Any] = {}
    failures: dict[str, CheckpointError] = {}
    builders: dict[str, Callable[[], Any]] = {
        "observation_space": lambda: game_spaces()[0],
        "action_space": lambda: game_spaces()[1],
        "policy_class": lambda: _policy_class(cls, pickled.get("policy_class"), sources),
        "policy_kwargs": lambda: _policy_kwargs(pickled["policy_kwargs"], sources),
        "learning_rate": lambda: _schedule("learning_rate", pickled["learning_rate"], sources),
        "clip_range": lambda: _schedule("clip_range", pickled["clip_range"], sources),
        "clip_range_vf": lambda: _schedule("clip_range_vf", pickled["clip_range_vf"], sources),
    }
    needed = {"observation_space", "action_space", "policy_class"} | (set(pickled) & set(builders))
    for key in sorted(needed):
        try:
            rebuilt[key] = builders[key]()
        except CheckpointError as error:
            failures[key] = error
    _refuse_code(path, pickled, rebuilt, cls)
    if failures:
        raise next(iter(failures.values()))
    _check_spaces(path, pickled, rebuilt, sources.game_name())

    unknown = sorted(set(pickled) - REBUILT_ENTRIES - RUNTIME_ENTRIES)
    if unknown:
        warnings.warn(
            f"model file {path}: pickled entries {unknown} were not loaded (mmagent does not "
            f"unpickle model files); the model keeps its defaults for them; {TRUST_HINT}",
            stacklevel=2,
        )
    model = cls(policy=rebuilt.pop("policy_class"), env=env, device=device, _init_setup_model=False)
    restorable = (set(model.__dict__) | {"n_envs"}) - set(pickled)
    plain = {
        key: value
        for key, value in archive.data.items()
        if key in restorable and key not in rebuilt
    }
    if isinstance(plain.get("policy_kwargs"), dict):
        plain["policy_kwargs"] = dict(plain["policy_kwargs"])
    state = plain | rebuilt
    if isinstance(state.get("policy_kwargs"), dict):
        state["policy_kwargs"].pop("device", None)
    if env is not None:  # as SB3's load: reset before training, as many envs as given
        state["_last_obs"] = None
        state["n_envs"] = env.num_envs
    model.__dict__.update(state)
    model.__dict__.update(kwargs)
    model._setup_model()
    _load_weights(path, model, archive, device)
    return model


class _Sources:
    """The trusted sources of what a model file only holds pickled: the run's config and game."""

    def __init__(
        self, path: Path, env_id: str | None, env_kwargs: Mapping[str, Any] | None
    ) -> None:
        self.path = path
        self.env_id = env_id
        self.env_kwargs = env_kwargs
        self._config: TrainConfig | None = None
        self._raw: dict[str, Any] | None = None

    @property
    def raw_config(self) -> dict[str, Any]:
        if self._raw is None:
            try:
                self._raw = read_run_config(self.path)
            except (ValueError, OSError) as error:
                raise CheckpointError(
                    f"the run config of {self.path} is unreadable: {error}"
                ) from error
        return self._raw

    def config(self, needed_for: str) -> TrainConfig:
        """The run's validated ``config.yaml``; without one, an error saying what it was for."""
        if self._config is None:
            if not self.raw_config:
                raise UntrustedModelError(
                    f"model file {self.path} holds {needed_for} only as a pickle, and there is "
                    f"no run config.yaml beside it (or above checkpoints/) to rebuild it from; "
                    f"put the run's config.yaml beside the model, or {TRUST_HINT}"
                )
            from mmagent.config import TrainConfig, apply_overrides

            self._config = apply_overrides(
                TrainConfig(), self.raw_config, f"the run config of {self.path}"
            )
        return self._config

    def game(self) -> tuple[str, dict[str, Any]]:
        """The game the model plays and its keywords: the caller's, else the run config's."""
        from mmagent.checkpoints import resolve_env_id

        if self.env_id is not None and self.env_kwargs is not None:
            return self.env_id, dict(self.env_kwargs)
        try:
            return resolve_env_id(self.path, self.env_id)
        except ValueError as error:
            raise UntrustedModelError(
                f"model file {self.path} holds its observation and action spaces only as "
                f"pickles: {error}; or {TRUST_HINT}"
            ) from None

    def game_name(self) -> str:
        """The game's name for messages."""
        if self.env_id is not None:
            return self.env_id
        try:
            return self.game()[0]
        except CheckpointError:
            return "the env given"


def _spaces(
    env: VecEnv | None, spaces: tuple[gym.Space, gym.Space] | None, sources: _Sources
) -> tuple[gym.Space, gym.Space]:
    """The model's spaces: the env's (already wrapped as SB3 wraps it), else the game's as the
    model sees them (channel-last images transposed, as SB3 does before building a policy)."""
    from mmagent.watch.policies import model_view_of

    if env is not None:
        return env.observation_space, env.action_space
    if spaces is None:
        from mmagent.plugins import make_env

        env_id, env_kwargs = sources.game()
        try:
            game = make_env(env_id, **env_kwargs)
        except Exception as error:  # whatever the game raises, say which model needed it
            raise CheckpointError(
                f"cannot make game {env_id!r} with {env_kwargs} to read the spaces of "
                f"{sources.path}: {type(error).__name__}: {error}"
            ) from error
        try:
            spaces = (game.observation_space, game.action_space)
        finally:
            game.close()
    return model_view_of(spaces[0]), spaces[1]


def _known_classes() -> dict[str, Any]:
    """Classes a ``policy_kwargs`` description may name, by the text SB3 writes for them."""
    import torch
    from stable_baselines3.common import torch_layers

    from mmagent.extractors import MultimodalExtractor
    from mmagent.train import ACTIVATIONS

    classes: list[type] = [
        MultimodalExtractor,
        torch_layers.CombinedExtractor,
        torch_layers.FlattenExtractor,
        torch_layers.NatureCNN,
        *ACTIVATIONS.values(),
        torch.nn.LeakyReLU,
        torch.nn.Identity,
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.SGD,
        torch.optim.RMSprop,
    ]
    return {str(item): item for item in classes}


def _description(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The plain-text items SB3 writes beside a pickle (its first-level attributes)."""
    return {key: value for key, value in entry.items() if not key.startswith(":")}


def _policy_class(cls: type[PPO], entry: Mapping[str, Any] | None, sources: _Sources) -> type:
    """The policy class: the one of ``cls``'s aliases whose module and docstring the file's
    description names (or those of its twin, for recurrent policies:
    :func:`mmagent.fast.recurrent.policy_twins`), else the run config's ``policy``."""
    described = _description(entry or {})
    aliases = dict(cls.policy_aliases)
    twins = _recurrent_policy_twins(cls)
    for policy in aliases.values():
        for candidate in twins(policy):
            if described.get("__module__") == candidate.__module__ and (
                described.get("__doc__") == candidate.__doc__
            ):
                return policy
    name = sources.config("the policy class").policy
    if name not in aliases:
        raise UntrustedModelError(
            f"the run config of {sources.path} names policy {name!r}; the safe loader rebuilds "
            f"only {sorted(aliases)}; {TRUST_HINT}"
        )
    return aliases[name]


def _recurrent_policy_twins(cls: type[PPO]) -> Callable[[type], tuple[type, ...]]:
    """For a recurrent ``cls``, the policy classes whose files its policies load (sb3-contrib's
    and mmagent's packed twins); for any other, the policy alone."""
    from sb3_contrib import RecurrentPPO

    if not issubclass(cls, RecurrentPPO):
        return lambda policy: (policy,)
    from mmagent.fast.recurrent import policy_twins

    return policy_twins


def _policy_kwargs(entry: Mapping[str, Any], sources: _Sources) -> dict[str, Any]:
    """``policy_kwargs`` from the file's description: JSON values as they are, classes SB3
    wrote as text resolved among known ones or matched against the run config's."""
    known = _known_classes()
    configured: dict[str, Any] | None = None
    kwargs: dict[str, Any] = {}
    for key, value in _description(entry).items():
        if not isinstance(value, str):
            kwargs[key] = value
            continue
        if value in known:
            kwargs[key] = known[value]
            continue
        if configured is None:
            try:
                from mmagent.train import build_policy_kwargs

                configured = build_policy_kwargs(sources.config(f"policy_kwargs.{key}"))
            except CheckpointError:
                configured = {}
        if key in configured and str(configured[key]) == value:
            kwargs[key] = configured[key]
        elif _OBJECT_REPR.match(value) or value[:1] in "{[(":
            raise UntrustedModelError(
                f"model file {sources.path}: policy_kwargs.{key} is {value}, which only "
                "unpickling would load and the run's config.yaml does not name; name it in the "
                f"config.yaml's policy_kwargs, or {TRUST_HINT}"
            )
        else:
            kwargs[key] = value
    return kwargs


_CONSTANT = re.compile(r"^ConstantSchedule\(val=([^)]+)\)$")
_LINEAR = re.compile(r"^LinearSchedule\(start=([^,]+), end=([^,]+), end_fraction=([^)]+)\)$")


def _schedule(key: str, entry: Mapping[str, Any], sources: _Sources) -> Any:
    """A schedule from SB3's description of it (its constant or linear schedules), else the
    run config's value of ``key`` (mmagent's ``lin_<start>`` schedules are functions)."""
    from stable_baselines3.common.utils import LinearSchedule

    described = _description(entry)
    text = described.get("value_schedule")
    if "val" in described:
        text = f"ConstantSchedule(val={described['val']})"
    elif {"start", "end", "end_fraction"} <= set(described):
        text = (
            f"LinearSchedule(start={described['start']}, end={described['end']}, "
            f"end_fraction={described['end_fraction']})"
        )
    try:
        if isinstance(text, str) and (match := _CONSTANT.match(text)):
            return float(match.group(1))
        if isinstance(text, str) and (match := _LINEAR.match(text)):
            return LinearSchedule(*(float(group) for group in match.groups()))
    except ValueError:
        pass
    from mmagent.config import parse_schedule

    config = sources.config(key)
    if not hasattr(config, key):
        raise UntrustedModelError(
            f"model file {sources.path} holds {key} as a pickled function, and the run config "
            f"has no {key} to rebuild it from; {TRUST_HINT}"
        )
    return parse_schedule(getattr(config, key), key)


_FUNCTION_GLOBALS = frozenset(
    f"cloudpickle.cloudpickle:{name}"
    for name in (
        "_builtin_type",
        "_function_setstate",
        "_make_cell",
        "_make_empty_cell",
        "_make_function",
    )
)
"""What cloudpickle's pickle of a function defined in a function (a ``lin_`` schedule) imports."""
_SCHEDULE_ENTRIES = ("learning_rate", "lr_schedule", "clip_range", "clip_range_vf")


def _type_globals(types: list[type]) -> set[str]:
    return {f"{item.__module__}:{item.__qualname__}" for item in types}


def _fallback_globals(key: str, cls: type[PPO]) -> set[str]:
    """What entry ``key`` may import when it could not be rebuilt (so its own classes are
    unknown): any Gymnasium space, any of ``cls``'s policies, a known class, a schedule."""
    if key in ("observation_space", "action_space"):
        from gymnasium import spaces

        names = [getattr(spaces, name) for name in spaces.__all__]
        return _type_globals(
            [item for item in names if isinstance(item, type) and issubclass(item, spaces.Space)]
        )
    if key == "policy_class":
        return _type_globals(list(cls.policy_aliases.values()))
    if key == "policy_kwargs":
        return _type_globals(list(_known_classes().values()))
    if key in _SCHEDULE_ENTRIES:
        return set(_FUNCTION_GLOBALS)
    return set()


def _expected_pickle_globals(key: str, rebuilt: Mapping[str, Any], cls: type[PPO]) -> set[str]:
    """What a pickle of entry ``key`` may import: the globals of our own pickle of the rebuilt
    value (pickling what we built is safe) plus numpy, containers and SB3's schedules."""
    import cloudpickle
    from stable_baselines3.common.utils import FloatSchedule

    source = "learning_rate" if key == "lr_schedule" else key
    if source in _SCHEDULE_ENTRIES and source in rebuilt:
        value: Any = FloatSchedule(rebuilt[source])
    elif key == "policy_class" and key in rebuilt:
        value = _recurrent_policy_twins(cls)(rebuilt[key])  # a file of either twin
    elif key in rebuilt:
        value = rebuilt[key]
    else:
        return set(_DATA_GLOBALS) | _fallback_globals(key, cls)
    return set(_DATA_GLOBALS) | pickled_globals(cloudpickle.dumps(value))


def _refuse_code(
    path: Path,
    pickled: Mapping[str, Mapping[str, Any]],
    rebuilt: Mapping[str, Any],
    cls: type[PPO],
) -> None:
    """Raise :class:`UntrustedModelError` when a pickled entry would import anything beyond
    what that entry holds in a genuine model (read statically; nothing is unpickled)."""
    for key, entry in pickled.items():
        try:
            payload = base64.b64decode(str(entry[SERIALIZED]).encode(), validate=True)
            imported = pickled_globals(payload)
        except (ValueError, binascii.Error) as error:
            raise CorruptCheckpointError(
                f"model file {path}: entry {key!r} is not a readable pickle ({error}); "
                "use another checkpoint or retrain"
            ) from error
        unexpected = sorted(imported - _expected_pickle_globals(key, rebuilt, cls))
        if unexpected:
            shown = ", ".join(
                "an unresolvable reference" if name == "?" else name for name in unexpected
            )
            raise UntrustedModelError(
                f"model file {path}: entry {key!r} is a pickle that would import and may call "
                f"{shown}, which no model saved by mmagent holds; it was not loaded (the file "
                f"may be crafted to run code); {TRUST_HINT}"
            )


def _space_description(space: gym.Space) -> dict[str, Any]:
    """The plain-text entry SB3 would write for a pickle of ``space`` (its type and
    first-level attributes), without the pickle."""
    from stable_baselines3.common.save_util import data_to_json

    entry = json.loads(data_to_json({"space": space}))["space"]
    return {key: value for key, value in entry.items() if key != SERIALIZED}


def _space_text(described: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    kind = str(entry.get(":type:", "")).rsplit(".", 1)[-1].rstrip("'>") or "space"
    if "spaces" in described:
        return f"{kind}({described['spaces']})"
    if "n" in described:
        start = described.get("start")
        return f"{kind}({described['n']}" + (f", start={start})" if start not in ("0", 0) else ")")
    fields = {key: value for key, value in described.items() if key in ("_shape", "dtype", "nvec")}
    return f"{kind}({fields})"


def _check_spaces(
    path: Path, pickled: Mapping[str, Mapping[str, Any]], rebuilt: Mapping[str, Any], game: str
) -> None:
    """Raise :class:`ModelMismatchError` when the file's description of a space differs from
    the game's space (items present in both compared; the random generator ignored)."""
    for key in ("observation_space", "action_space"):
        if key not in pickled:
            continue
        stored = {key: value for key, value in pickled[key].items() if key != SERIALIZED}
        current = _space_description(rebuilt[key])
        differing = [
            name
            for name in stored.keys() & current.keys()
            if name != "_np_random" and stored[name] != current[name]
        ]
        if differing:
            model_text = _space_text(_description(stored), stored)
            env_text = str(rebuilt[key])
            if key == "action_space":
                raise ModelMismatchError(
                    f"{path}: the model was trained on another action space than {game}'s: "
                    f"model {model_text}, env {env_text}; pass the game it was trained on with "
                    "--env (or env_id=...)"
                )
            raise ModelMismatchError(
                f"{path}: the model was trained on another observation space than {game}'s:\n"
                f"  model: {model_text}\n  env:   {env_text}\n"
                "pass the game it was trained on with --env (or env_id=...), with the same "
                "env_kwargs (image size, audio format, instruction length)"
            )


def _load_weights(path: Path, model: PPO, archive: ModelArchive, device: Any) -> None:
    from stable_baselines3.common.save_util import recursive_setattr

    try:
        model.set_parameters(archive.params, exact_match=True, device=device)
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(
            f"the weights in {path} do not fit the policy rebuilt from the file's description "
            f"and the run's config.yaml ({type(error).__name__}: {error}); if config.yaml was "
            f"edited after training, restore it; {TRUST_HINT}"
        ) from error
    for name, value in archive.pytorch_variables.items():
        if value is not None:
            recursive_setattr(model, f"{name}.data", value.data)
    if model.use_sde:
        model.policy.reset_noise()
