"""Numpy arrays in named shared memory, and the worker process that fills them.

:class:`SharedArray` is one ``(n_envs, *shape)`` block that the main process creates and each
worker attaches to by name. :func:`run_worker` is the entry point of a
:class:`~mmagent.fast.vec_env.SharedMemoryVecEnv` worker: it builds its slice of the envs,
then answers commands from its pipe, writing observations, rewards and dones into the shared
blocks and sending back only the small ``info`` dicts.

This module imports neither torch nor stable-baselines3, so a worker pins the math libraries
to one thread (``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``) before its envs import them, and
a worker loads them only if its envs (or the main script, which ``spawn`` and ``forkserver``
workers re-import) need them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

#: Set to ``"1"`` in every worker: env processes share the cores, one thread each.
SINGLE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

ObservationKey = str | int | None


@dataclass(frozen=True)
class SharedArraySpec:
    """What another process needs to attach to a :class:`SharedArray` (picklable)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedArray:
    """A numpy array whose memory is a named shared-memory block other processes can map.

    Create it with :meth:`create` in the owning process and :meth:`attach` to its
    :attr:`spec` elsewhere. :meth:`release` unmaps it and, in the owner, frees the block.
    """

    def __init__(self, block: shared_memory.SharedMemory, spec: SharedArraySpec, owner: bool):
        self._block: shared_memory.SharedMemory | None = block
        self.spec = spec
        self.owner = owner
        self._array: np.ndarray | None = np.ndarray(
            spec.shape, dtype=np.dtype(spec.dtype), buffer=block.buf
        )

    @classmethod
    def create(cls, shape: Sequence[int], dtype: np.dtype | type | str) -> SharedArray:
        """A new zero-filled shared array of ``shape`` and ``dtype``."""
        dtype = np.dtype(dtype)
        if dtype.hasobject or dtype.itemsize == 0:
            raise TypeError(
                f"dtype {dtype} cannot live in shared memory; use a fixed-size numeric dtype"
            )
        shape = tuple(int(size) for size in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        block = shared_memory.SharedMemory(create=True, size=max(1, nbytes))
        shared = cls(block, SharedArraySpec(block.name, shape, dtype.str), owner=True)
        shared.array.fill(0)
        return shared

    @classmethod
    def attach(cls, spec: SharedArraySpec) -> SharedArray:
        """Map the shared array another process created (only the owner tracks the block)."""
        return cls(_attach_untracked(spec.name), spec, owner=False)

    @property
    def array(self) -> np.ndarray:
        """The numpy view of the block; writes are seen by every process that maps it."""
        if self._array is None:
            raise RuntimeError(f"shared array {self.spec.name} was released")
        return self._array

    def release(self) -> None:
        """Unmap the block (and, in the owner, free it). Safe to call twice."""
        self._array = None
        block, self._block = self._block, None
        if block is None:
            return
        # BufferError: a view is still alive somewhere; the mapping then ends with the process
        with contextlib.suppress(BufferError):
            block.close()
        if self.owner:
            with contextlib.suppress(FileNotFoundError):
                block.unlink()


def _attach_untracked(name: str) -> shared_memory.SharedMemory:
    """Map the block ``name`` without registering it with a resource tracker.

    Before Python 3.13 every attach registers the block; a worker that does not share the
    owner's tracker (``fork`` start method) then gets its own, which "cleans up" (unlinks) the
    owner's blocks with leak warnings when the worker exits. The owner's registration is what
    frees the blocks if the main process dies.
    """
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # workers attach single-threaded
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


@dataclass(frozen=True)
class WorkerFailure:
    """An exception raised inside a worker, sent to the main process instead of a result."""

    env_index: int | None
    env_description: str
    exception_type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class WorkerReady:
    """A worker's first message: its envs are built; their spaces and descriptions."""

    observation_space: Any
    action_space: Any
    env_descriptions: list[str]
    stack_file: str | None


def _as_gymnasium_env(env: Any) -> Any:
    import gymnasium

    if isinstance(env, gymnasium.Env):
        return env
    from stable_baselines3.common.vec_env.patch_gym import _patch_env  # old gym envs only

    return _patch_env(env)


def _is_wrapped(env: Any, wrapper_class: type) -> bool:
    """Whether ``wrapper_class`` is among the wrappers of ``env`` (SB3's ``is_wrapped``)."""
    import gymnasium

    current = env
    while isinstance(current, gymnasium.Wrapper):
        if isinstance(current, wrapper_class):
            return True
        current = current.env
    return False


def _limit_torch_threads() -> None:
    """One torch thread, in case torch was imported before OMP_NUM_THREADS was set."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)


class _Worker:
    """The envs of one worker process and the handlers of the commands it answers."""

    def __init__(self, env_indices: list[int]) -> None:
        self.env_indices = env_indices
        self.envs: list[Any] = []
        self.descriptions: list[str] = []
        self.current_position: int | None = None
        self.observations: dict[ObservationKey, np.ndarray] = {}
        self.terminal_observations: dict[ObservationKey, np.ndarray] = {}
        self.actions: np.ndarray | None = None
        self.rewards: np.ndarray | None = None
        self.dones: np.ndarray | None = None
        self.shared: list[SharedArray] = []

    # ------------------------------------------------------------------ set-up
    def build_envs(self, env_fn_payloads: list[bytes]) -> None:
        import cloudpickle

        for position, payload in enumerate(env_fn_payloads):
            self.current_position = position
            env_fn: Callable[[], Any] = cloudpickle.loads(payload)
            env = _as_gymnasium_env(env_fn())
            if any(env.unwrapped is built.unwrapped for built in self.envs):
                raise ValueError(
                    f"env_fns[{self.env_indices[position]}] returned an env instance another "
                    "env_fn already returned; each env_fn must build a new env (gym.make(...))"
                )
            self.envs.append(env)
            self.descriptions.append(str(env))
            for name in ("observation_space", "action_space"):
                space, expected = getattr(env, name), getattr(self.envs[0], name)
                if space != expected:
                    raise ValueError(
                        f"env {self.env_indices[position]} has {name} {space}, but env "
                        f"{self.env_indices[0]} has {expected}; all envs of a vec env must share "
                        "their spaces (build them with the same env_kwargs)"
                    )
        self.current_position = None

    def attach(self, specs: dict[str, Any]) -> None:
        def attach_one(spec: SharedArraySpec) -> np.ndarray:
            shared = SharedArray.attach(spec)
            self.shared.append(shared)
            return shared.array

        self.observations = {key: attach_one(spec) for key, spec in specs["observations"].items()}
        self.terminal_observations = {
            key: attach_one(spec) for key, spec in specs["terminal_observations"].items()
        }
        self.actions = None if specs["actions"] is None else attach_one(specs["actions"])
        self.rewards = attach_one(specs["rewards"])
        self.dones = attach_one(specs["dones"])

    def release(self) -> None:
        self.observations = {}
        self.terminal_observations = {}
        self.actions = self.rewards = self.dones = None
        for shared in self.shared:
            shared.release()
        self.shared = []

    # ------------------------------------------------------------------ commands
    def step(self, pipe_actions: list[Any] | None) -> tuple[list[dict], dict[int, dict]]:
        assert self.rewards is not None and self.dones is not None
        infos: list[dict] = []
        reset_infos: dict[int, dict] = {}
        for position, env_index in enumerate(self.env_indices):
            self.current_position = position
            if pipe_actions is not None:
                action = pipe_actions[position]
            else:
                assert self.actions is not None
                action = self.actions[env_index]
                if isinstance(action, np.ndarray):  # the env may keep it: not a view
                    action = action.copy()
            env = self.envs[position]
            observation, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            # the same conversion to the SB3 VecEnv API as DummyVecEnv
            info["TimeLimit.truncated"] = truncated and not terminated
            self.rewards[env_index] = reward
            self.dones[env_index] = done
            if done:
                self._write(self.terminal_observations, env_index, observation)
                observation, reset_infos[env_index] = env.reset()
            self._write(self.observations, env_index, observation)
            infos.append(info)
        self.current_position = None
        return infos, reset_infos

    def reset(self, seeds_and_options: list[tuple[int | None, dict]]) -> list[dict]:
        reset_infos = []
        for position, (seed, options) in enumerate(seeds_and_options):
            self.current_position = position
            maybe_options = {"options": options} if options else {}
            observation, reset_info = self.envs[position].reset(seed=seed, **maybe_options)
            self._write(self.observations, self.env_indices[position], observation)
            reset_infos.append(reset_info)
        self.current_position = None
        return reset_infos

    def render(self, _: Any) -> list[Any]:
        return [self._at(position).render() for position in range(len(self.envs))]

    def env_method(self, data: tuple[list[int], str, tuple, dict]) -> list[Any]:
        positions, name, args, kwargs = data
        return [self._at(p).get_wrapper_attr(name)(*args, **kwargs) for p in positions]

    def get_attr(self, data: tuple[list[int], str]) -> list[Any]:
        positions, name = data
        return [self._at(p).get_wrapper_attr(name) for p in positions]

    def set_attr(self, data: tuple[list[int], str, Any]) -> None:
        positions, name, value = data
        for position in positions:
            setattr(self._at(position), name, value)

    def is_wrapped(self, data: tuple[list[int], type]) -> list[bool]:
        positions, wrapper_class = data
        return [_is_wrapped(self._at(p), wrapper_class) for p in positions]

    def close_envs(self) -> None:
        for position in range(len(self.envs)):
            self._at(position).close()
        self.current_position = None

    # ------------------------------------------------------------------ helpers
    def _at(self, position: int) -> Any:
        self.current_position = position
        return self.envs[position]

    @staticmethod
    def _write(arrays: dict[ObservationKey, np.ndarray], env_index: int, observation: Any) -> None:
        for key, array in arrays.items():
            array[env_index] = observation if key is None else observation[key]

    def failure(self, error: BaseException) -> WorkerFailure:
        """Describe ``error``, naming the env that was being called when it was raised."""
        position = self.current_position
        self.current_position = None
        if position is None:
            env_index, description = None, ""
        else:
            env_index = self.env_indices[position]
            description = self.descriptions[position] if position < len(self.descriptions) else ""
        return WorkerFailure(
            env_index=env_index,
            env_description=description,
            exception_type=type(error).__name__,
            message=str(error),
            traceback=traceback.format_exc(),
        )


_COMMANDS: dict[str, Callable[[_Worker, Any], Any]] = {
    "step": _Worker.step,
    "reset": _Worker.reset,
    "render": _Worker.render,
    "env_method": _Worker.env_method,
    "get_attr": _Worker.get_attr,
    "set_attr": _Worker.set_attr,
    "is_wrapped": _Worker.is_wrapped,
    "attach": _Worker.attach,
}


def _open_stack_file() -> tuple[Any, str] | tuple[None, None]:
    """A file the worker's Python stack is dumped into on a crash or on ``SIGUSR1`` (a hang)."""
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (kept open for faulthandler)
            prefix="mmagent-worker-", suffix=".stack", delete=False
        )
    except OSError:
        return None, None
    faulthandler.enable(file=handle, all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=handle, all_threads=True)
    return handle, handle.name


def run_worker(
    connection: Connection, env_indices: list[int], env_fn_payloads: list[bytes]
) -> None:
    """Entry point of a worker process: build the envs of ``env_indices``, then serve commands.

    Every reply is ``("ok", result)`` or ``("error", WorkerFailure)``. The worker ignores
    SIGINT (Ctrl-C in a terminal reaches the whole process group; the main process decides
    when to close) and ends on ``close`` or when the main process's end of the pipe closes.
    """
    for variable in SINGLE_THREAD_VARIABLES:
        os.environ[variable] = "1"
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    stack_handle, stack_file = _open_stack_file()
    worker = _Worker(env_indices)
    try:
        try:
            worker.build_envs(env_fn_payloads)
            _limit_torch_threads()
            space_source = worker.envs[0]
            connection.send(
                (
                    "ok",
                    WorkerReady(
                        space_source.observation_space,
                        space_source.action_space,
                        worker.descriptions,
                        stack_file,
                    ),
                )
            )
        except Exception as error:
            connection.send(("error", worker.failure(error)))
            return
        while True:
            try:
                command, data = connection.recv()
            except (EOFError, OSError):  # the main process is gone
                break
            if command == "close":
                with contextlib.suppress(Exception):  # ending anyway; nobody awaits an answer
                    worker.close_envs()
                break
            try:
                result = _COMMANDS[command](worker, data)
            except Exception as error:
                reply: tuple[str, Any] = ("error", worker.failure(error))
            else:
                reply = ("ok", result)
            try:
                connection.send(reply)
            except (EOFError, OSError):
                break
            except Exception as error:  # the result could not be pickled; nothing was sent
                connection.send(("error", worker.failure(error)))
    finally:
        worker.release()
        connection.close()
        if stack_handle is not None:
            faulthandler.disable()
            if hasattr(signal, "SIGUSR1"):
                faulthandler.unregister(signal.SIGUSR1)
            stack_handle.close()
            with contextlib.suppress(OSError):
                os.unlink(stack_file)
