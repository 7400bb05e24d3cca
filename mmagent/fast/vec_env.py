"""``SharedMemoryVecEnv``: many games stepped in worker processes, observations in shared memory.

stable-baselines3's ``SubprocVecEnv`` runs one process per env and pickles every observation
through a pipe on every step; ``DummyVecEnv`` steps every env in the main process. Here each
worker process owns a *slice* of the envs and writes their observations straight into
shared-memory arrays, one block per observation key, shaped ``(n_envs, *space.shape)`` in the
space's dtype (uint8 frames stay uint8, int64 tokens stay int64). Actions go down through a
shared array too; per step a worker sends only a tiny wake-up message down and its envs'
small ``info`` dicts back, batched in one message.

Semantics are those of ``DummyVecEnv``: autoreset with ``info["terminal_observation"]`` and
``info["TimeLimit.truncated"]``, env ``i`` reset with ``seed + i`` after ``seed(seed)``, options
through ``set_options``, ``reset_infos``, ``get_attr``/``set_attr``/``env_method``/
``env_is_wrapped``, ``render``/``get_images``. So PPO, callbacks, ``VecMonitor`` and
evaluation work unchanged.

Failures never hang: an exception in an env comes back with the worker's traceback as
:class:`VecEnvWorkerError` naming the env; a worker that dies (a segfault, ``SIGKILL``) raises
:class:`VecEnvWorkerDiedError` with its exit code; a worker that does not answer within
``step_timeout`` seconds raises :class:`VecEnvWorkerTimeoutError` with the Python stack where
it was stuck. After any of these the vec env is closed.

Start method: ``forkserver`` where the platform has it, else ``spawn``; never plain ``fork``
by default, because forking a process that already runs torch's thread pools (or holds a CUDA
context) can deadlock or break the child. ``forkserver`` forks workers from a small
single-threaded server process. Measured on 2 cores (a script importing torch, 2 workers):
start-up 3.2-4.3 s with ``forkserver``, 3.3-4.1 s with ``spawn``, 0.1-0.2 s with ``fork``;
the same env-steps/s once running. Start-up is the workers importing the main script:
multiprocessing re-imports ``__main__`` in ``spawn`` and ``forkserver`` workers, so scripts need
the usual ``if __name__ == "__main__":`` guard, and a main script that imports torch costs each
worker a torch import (~1.5 s, ~170 MB). Env factories are sent with cloudpickle: lambdas,
closures and ``functools.partial(gym.make, ...)`` all work. ``start_method="fork"`` is there
for quick starts from a parent that has not run torch yet.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NoReturn

import cloudpickle
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)
from stable_baselines3.common.vec_env.util import dict_to_obs, obs_space_info

from mmagent.fast.shared_arrays import (
    SINGLE_THREAD_VARIABLES,
    ObservationKey,
    SharedArray,
    WorkerFailure,
    WorkerReady,
    run_worker,
)

#: Workers get at least this long to import their modules and build their envs.
START_TIMEOUT_S = 300.0
#: ``close()`` waits this long for workers to close their envs before terminating them.
CLOSE_GRACE_S = 5.0
#: After a failure the other workers get this long to close their envs.
FAILURE_GRACE_S = 1.0
#: How long a hung worker gets to write its Python stack (``SIGUSR1``) before it is killed.
STACK_DUMP_WAIT_S = 1.0

_STEP_MESSAGE = pickle.dumps(("step", None))


class VecEnvWorkerError(RuntimeError):
    """An env raised an exception inside a worker process.

    The message names the env (index and ``str(env)``), the worker and the command, and holds
    the worker's formatted traceback (also in :attr:`remote_traceback`).
    """

    def __init__(
        self,
        message: str,
        *,
        worker_index: int,
        env_indices: Sequence[int],
        env_index: int | None = None,
        remote_traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.worker_index = worker_index
        self.env_indices = list(env_indices)
        self.env_index = env_index
        self.remote_traceback = remote_traceback


class VecEnvWorkerAttributeError(VecEnvWorkerError, AttributeError):
    """``get_attr``/``env_method`` named an attribute an env does not have (``has_attr`` and
    SB3's own ``AttributeError`` fallbacks keep working)."""


class VecEnvWorkerDiedError(VecEnvWorkerError):
    """A worker process ended without answering (killed by a signal, a crash in native code)."""

    def __init__(self, message: str, *, exit_code: int | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.exit_code = exit_code


class VecEnvWorkerTimeoutError(VecEnvWorkerError):
    """A worker did not answer within ``step_timeout`` seconds (an env is hung)."""


class VecEnvClosedError(RuntimeError):
    """The vec env was used after ``close()`` or after a worker failure closed it."""


def default_start_method() -> str:
    """``forkserver`` where available (Linux, macOS), else ``spawn`` (see the module docstring)."""
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def default_n_workers(n_envs: int) -> int:
    """``min(n_envs, usable CPU cores)``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_envs, cores))


@contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Set ``OMP_NUM_THREADS=1``/``MKL_NUM_THREADS=1`` while workers start, so a spawned worker
    (or a newly started forkserver) has them before it imports numpy or torch."""
    saved = {name: os.environ.get(name) for name in SINGLE_THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(SINGLE_THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _release(
    processes: list[Any],
    connections: list[Connection],
    shared_arrays: list[SharedArray],
    stack_files: list[str | None],
    grace_seconds: float,
) -> None:
    """Close the workers (terminate those that do not finish within ``grace_seconds``), the
    pipes and the shared memory. Also runs when a vec env is garbage-collected unclosed."""
    for connection, process in zip(connections, processes, strict=False):
        if process.is_alive():
            with suppress(OSError, ValueError):
                connection.send(("close", None))
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
    for connection in connections:
        connection.close()
    for shared in shared_arrays:
        shared.release()
    for path in stack_files:
        if path:
            Path(path).unlink(missing_ok=True)


def _exit_description(exit_code: int | None) -> str:
    if exit_code is None:
        return "closed its pipe but is still running"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"was killed by {name} (exit code {exit_code})"
    return f"exited with code {exit_code}"


class SharedMemoryVecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` stepping slices of the envs in worker processes, with
    observations, actions, rewards and dones in shared memory.

    :param env_fns: one picklable callable per env, each returning a new Gymnasium env; env ``i``
        is built by ``env_fns[i]`` inside its worker.
    :param n_workers: worker processes; envs are split into contiguous, near-equal slices.
        Default ``min(n_envs, usable CPU cores)``.
    :param start_method: ``multiprocessing`` start method; default :func:`default_start_method`.
    :param step_timeout: seconds a worker may take to answer one command (a step of all its
        envs, a reset...) before it is reported hung and killed; ``None`` waits forever.
        Start-up (imports and env construction) gets at least :data:`START_TIMEOUT_S`.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        n_workers: int | None = None,
        start_method: str | None = None,
        step_timeout: float | None = 60.0,
    ) -> None:
        env_fns = list(env_fns)
        if not env_fns:
            raise ValueError("env_fns is empty; pass one callable returning an env per env")
        for index, env_fn in enumerate(env_fns):
            if not callable(env_fn):
                raise TypeError(
                    f"env_fns[{index}] is {env_fn!r}, not a callable returning an env; pass "
                    "e.g. functools.partial(gym.make, 'mmagent/Beacon-v0')"
                )
        n_envs = len(env_fns)
        if n_workers is None:
            n_workers = default_n_workers(n_envs)
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
        if n_workers > n_envs:
            raise ValueError(
                f"n_workers={n_workers} exceeds the {n_envs} envs; a worker needs at least "
                f"one env: pass n_workers <= {n_envs} (or None)"
            )
        if start_method is None:
            start_method = default_start_method()
        if start_method not in mp.get_all_start_methods():
            raise ValueError(
                f"start_method {start_method!r} is not available here; use one of "
                f"{mp.get_all_start_methods()}"
            )
        if step_timeout is not None and (
            isinstance(step_timeout, bool)
            or not isinstance(step_timeout, (int, float))
            or step_timeout <= 0
        ):
            raise ValueError(
                f"step_timeout must be a positive number or None, got {step_timeout!r}"
            )

        self.n_workers = n_workers
        self.start_method = start_method
        self.step_timeout = None if step_timeout is None else float(step_timeout)
        self.num_envs = n_envs
        #: ``env_slices[w]``: the env indices worker ``w`` steps, in order.
        self.env_slices: list[list[int]] = [
            [int(index) for index in part] for part in np.array_split(np.arange(n_envs), n_workers)
        ]
        self._locations = [
            (worker, position)
            for worker, indices in enumerate(self.env_slices)
            for position in range(len(indices))
        ]
        self.closed = False
        self._closed_reason = ""
        self._waiting = False
        #: per worker, answers to interrupted commands still to be read and dropped
        self._unread = [0] * n_workers
        self._processes: list[Any] = []
        self._connections: list[Connection] = []
        self._shared_arrays: list[SharedArray] = []
        self._stack_files: list[str | None] = [None] * n_workers
        self._env_descriptions: list[str] = [""] * n_envs
        self._observations: dict[ObservationKey, np.ndarray] = {}
        self._terminal_observations: dict[ObservationKey, np.ndarray] = {}
        self._actions: np.ndarray | None = None
        self._rewards = np.zeros(0, dtype=np.float32)
        self._dones = np.zeros(0, dtype=bool)
        self._finalizer = weakref.finalize(
            self,
            _release,
            self._processes,
            self._connections,
            self._shared_arrays,
            self._stack_files,
            FAILURE_GRACE_S,
        )
        try:
            self._start_workers(env_fns, mp.get_context(start_method))
            observation_space, action_space = self._check_spaces(self._await_ready())
            self._allocate_shared_arrays(observation_space, action_space)
            super().__init__(n_envs, observation_space, action_space)
        except BaseException:
            self._shutdown(0.0, "its construction failed")
            raise

    # ------------------------------------------------------------------ set-up
    def _start_workers(self, env_fns: list[Callable[[], gym.Env]], context: Any) -> None:
        payloads = []
        for index, env_fn in enumerate(env_fns):
            try:
                payloads.append(cloudpickle.dumps(env_fn))
            except Exception as error:
                raise TypeError(
                    f"env_fns[{index}] ({env_fn!r}) cannot be pickled for its worker process: "
                    f"{error}. Build envs from picklable factories, e.g. "
                    "functools.partial(gym.make, env_id, **kwargs)"
                ) from error
        with _single_threaded_children():
            for worker, indices in enumerate(self.env_slices):
                connection, worker_connection = context.Pipe()
                process = context.Process(
                    target=run_worker,
                    args=(worker_connection, indices, [payloads[i] for i in indices]),
                    name=f"SharedMemoryVecEnv-worker-{worker}",
                    # daemon: ended at interpreter exit; if the main process is killed instead,
                    # its end of the pipe closes and the worker exits on its own
                    daemon=True,
                )
                process.start()
                worker_connection.close()
                self._processes.append(process)
                self._connections.append(connection)

    def _await_ready(self) -> dict[int, WorkerReady]:
        timeout = None if self.step_timeout is None else max(self.step_timeout, START_TIMEOUT_S)
        ready: dict[int, WorkerReady] = self._gather(
            range(self.n_workers), "start (building envs)", timeout, fatal=True
        )
        for worker, report in ready.items():
            self._stack_files[worker] = report.stack_file
            for index, description in zip(
                self.env_slices[worker], report.env_descriptions, strict=True
            ):
                self._env_descriptions[index] = description
        return ready

    def _check_spaces(self, ready: dict[int, WorkerReady]) -> tuple[spaces.Space, spaces.Space]:
        first = ready[0]
        for worker, report in ready.items():
            for name in ("observation_space", "action_space"):
                space, expected = getattr(report, name), getattr(first, name)
                if space != expected:
                    index = self.env_slices[worker][0]
                    raise ValueError(
                        f"env {index} ({self._env_descriptions[index]}) has {name} {space}, but "
                        f"env 0 has {expected}; all envs of a vec env must share their spaces "
                        "(build them with the same env_kwargs)"
                    )
        return first.observation_space, first.action_space

    def _allocate_shared_arrays(
        self, observation_space: spaces.Space, action_space: spaces.Space
    ) -> None:
        keys, shapes, dtypes = obs_space_info(observation_space)
        for key in keys:
            shape, dtype = shapes[key], dtypes[key]
            if shape is None or dtype is None or np.dtype(dtype).hasobject:
                raise TypeError(
                    f"observation key {key!r} has shape {shape} and dtype {dtype}, not a fixed "
                    "shape and a numeric dtype; SharedMemoryVecEnv shares only "
                    "array spaces (Box, Discrete, MultiDiscrete, MultiBinary). Map it to one "
                    "(mmagent.plugins) or use SubprocVecEnv"
                )
        n_envs = self.num_envs

        def create(shape: tuple[int, ...], dtype: Any) -> SharedArray:
            shared = SharedArray.create((n_envs, *shape), dtype)
            self._shared_arrays.append(shared)
            return shared

        observation_blocks = {key: create(shapes[key], dtypes[key]) for key in keys}
        terminal_blocks = {key: create(shapes[key], dtypes[key]) for key in keys}
        shares_actions = (
            action_space.shape is not None
            and action_space.dtype is not None
            and np.dtype(action_space.dtype).kind in "biuf"
        )
        action_block = create(action_space.shape, action_space.dtype) if shares_actions else None
        reward_block = create((), np.float32)
        done_block = create((), bool)
        self._observations = {key: block.array for key, block in observation_blocks.items()}
        self._terminal_observations = {key: block.array for key, block in terminal_blocks.items()}
        self._actions = None if action_block is None else action_block.array
        self._rewards = reward_block.array
        self._dones = done_block.array
        specs = {
            "observations": {key: block.spec for key, block in observation_blocks.items()},
            "terminal_observations": {key: block.spec for key, block in terminal_blocks.items()},
            "actions": None if action_block is None else action_block.spec,
            "rewards": reward_block.spec,
            "dones": done_block.spec,
        }
        for connection in self._connections:
            connection.send(("attach", specs))
        self._gather(range(self.n_workers), "attach (shared memory)", self.step_timeout, fatal=True)

    @property
    def worker_pids(self) -> list[int | None]:
        """The process id of each worker (``env_slices[w]`` are the envs of worker ``w``)."""
        return [process.pid for process in self._processes]

    # ------------------------------------------------------------------ stepping
    def step_async(self, actions: np.ndarray) -> None:
        self._ensure_open("step_async")
        if self._waiting:
            raise RuntimeError("step_async() called twice; call step_wait() in between")
        if any(self._unread):  # a worker may still run an interrupted step: let it finish
            self._gather(
                range(self.n_workers),
                "an interrupted command",
                self.step_timeout,
                fatal=True,
                drain_only=True,
            )
        if self._actions is None:
            for worker, indices in enumerate(self.env_slices):
                self._send(worker, ("step", [actions[index] for index in indices]))
        else:
            self._write_actions(actions)
            for worker in range(self.n_workers):
                self._send_bytes(worker, _STEP_MESSAGE)
        self._waiting = True

    def step_wait(self) -> VecEnvStepReturn:
        self._ensure_open("step_wait")
        if not self._waiting:
            raise RuntimeError("step_wait() without step_async(); call step_async(actions) first")
        self._waiting = False
        replies = self._gather(range(self.n_workers), "step", self.step_timeout, fatal=True)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for worker, (worker_infos, reset_infos) in replies.items():
            for index, info in zip(self.env_slices[worker], worker_infos, strict=True):
                infos[index] = info
            for index, reset_info in reset_infos.items():
                self.reset_infos[index] = reset_info
        dones = self._dones.copy()
        for index in np.flatnonzero(dones):
            infos[index]["terminal_observation"] = self._terminal_observation(int(index))
        return self._observation_copy(), self._rewards.copy(), dones, infos

    def reset(self) -> VecEnvObs:
        self._ensure_open("reset")
        if self._waiting:  # a step is in flight: drop its answers, reset over it
            self._waiting = False
            for worker in range(self.n_workers):
                self._unread[worker] += 1
        for worker, indices in enumerate(self.env_slices):
            self._send(
                worker, ("reset", [(self._seeds[index], self._options[index]) for index in indices])
            )
        replies = self._gather(range(self.n_workers), "reset", self.step_timeout, fatal=True)
        for worker, reset_infos in replies.items():
            for index, reset_info in zip(self.env_slices[worker], reset_infos, strict=True):
                self.reset_infos[index] = reset_info
        # seeds and options are used once, as in DummyVecEnv
        self._reset_seeds()
        self._reset_options()
        return self._observation_copy()

    def _write_actions(self, actions: Any) -> None:
        assert self._actions is not None
        target = self._actions
        array = np.asarray(actions)
        if array.shape != target.shape:
            if array.size != target.size or array.shape[:1] != target.shape[:1]:
                raise ValueError(
                    f"step got actions of shape {array.shape}; expected {target.shape} "
                    f"({self.num_envs} envs × action shape {self.action_space.shape})"
                )
            array = array.reshape(target.shape)
        if not np.can_cast(array.dtype, target.dtype, casting="same_kind"):
            converted = array.astype(target.dtype)
            if not np.array_equal(converted, array):
                raise ValueError(
                    f"actions of dtype {array.dtype} do not fit the {self.action_space} "
                    f"action space ({target.dtype}) without changing them: {array!r}"
                )
            array = converted
        np.copyto(target, array, casting="unsafe")

    def _observation_copy(self) -> VecEnvObs:
        return dict_to_obs(
            self.observation_space,
            {key: array.copy() for key, array in self._observations.items()},
        )

    def _terminal_observation(self, index: int) -> Any:
        return dict_to_obs(
            self.observation_space,
            {key: array[index].copy() for key, array in self._terminal_observations.items()},
        )

    # ------------------------------------------------------------------ per-env calls
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Return attribute from vectorized environment (see base class)."""
        return self._call_envs("get_attr", indices, lambda positions: (positions, attr_name))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set attribute inside vectorized environments (see base class)."""
        self._call_envs("set_attr", indices, lambda positions: (positions, attr_name, value))

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call instance methods of vectorized environments."""
        return self._call_envs(
            "env_method",
            indices,
            lambda positions: (positions, method_name, method_args, method_kwargs),
        )

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Check if worker environments are wrapped with a given wrapper."""
        return self._call_envs("is_wrapped", indices, lambda positions: (positions, wrapper_class))

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Each env's ``render()`` frame (``render_mode="rgb_array"``), in env order."""
        if self.render_mode != "rgb_array":
            warnings.warn(
                f"The render mode is {self.render_mode}, but this method assumes it is "
                "`rgb_array` to obtain images.",
                stacklevel=2,
            )
            return [None for _ in range(self.num_envs)]
        self._ensure_open("get_images")
        self._ensure_idle("get_images")
        for worker in range(self.n_workers):
            self._send(worker, ("render", None))
        replies = self._gather(range(self.n_workers), "render", self.step_timeout, fatal=False)
        return [frame for worker in range(self.n_workers) for frame in replies[worker]]

    def _call_envs(
        self, command: str, indices: VecEnvIndices, payload: Callable[[list[int]], Any]
    ) -> Any:
        """Run ``command`` on the envs at ``indices``; their results, in the order asked."""
        self._ensure_open(command)
        self._ensure_idle(command)
        positions_by_worker: dict[int, list[int]] = {}
        order: list[tuple[int, int]] = []
        for index in self._get_indices(indices):
            if not 0 <= index < self.num_envs:
                raise IndexError(f"env index {index} is out of range for {self.num_envs} envs")
            worker, position = self._locations[index]
            positions = positions_by_worker.setdefault(worker, [])
            order.append((worker, len(positions)))
            positions.append(position)
        for worker, positions in positions_by_worker.items():
            self._send(worker, (command, payload(positions)))
        replies = self._gather(positions_by_worker, command, self.step_timeout, fatal=False)
        if command == "set_attr":
            return None
        return [replies[worker][slot] for worker, slot in order]

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Close every env in its worker, end the workers and free the shared memory."""
        self._shutdown(CLOSE_GRACE_S, "close() was called")

    def _shutdown(self, grace_seconds: float, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._closed_reason = reason
        self._waiting = False
        # drop this process's views before unmapping the blocks
        self._observations = {}
        self._terminal_observations = {}
        self._actions = None
        self._rewards = np.zeros(0, dtype=np.float32)
        self._dones = np.zeros(0, dtype=bool)
        self._finalizer.detach()
        _release(
            self._processes,
            self._connections,
            self._shared_arrays,
            self._stack_files,
            grace_seconds,
        )

    # ------------------------------------------------------------------ the pipes
    def _ensure_open(self, what: str) -> None:
        if self.closed:
            raise VecEnvClosedError(
                f"{what}() on a closed SharedMemoryVecEnv ({self._closed_reason}); build a new one"
            )

    def _ensure_idle(self, what: str) -> None:
        if self._waiting:
            raise RuntimeError(f"{what}() while a step is in flight; call step_wait() first")

    def _send(self, worker: int, message: Any) -> None:
        # a worker that is gone is reported by _gather, with its exit code
        with suppress(OSError, ValueError):
            self._connections[worker].send(message)

    def _send_bytes(self, worker: int, message: bytes) -> None:
        with suppress(OSError, ValueError):
            self._connections[worker].send_bytes(message)

    def _gather(
        self,
        workers: Any,
        command: str,
        timeout: float | None,
        *,
        fatal: bool,
        drain_only: bool = False,
    ) -> dict[int, Any]:
        """Each worker's answer to ``command``. Every worker is heard before an env's error is
        raised (the pipes stay in step); after ``fatal`` errors, deaths and time-outs the vec
        env is closed first. With ``drain_only``, just read and drop the answers to interrupted
        commands (see ``_unread``)."""
        if drain_only:
            workers = [worker for worker in workers if self._unread[worker]]
        pending = {self._connections[worker]: worker for worker in workers}
        replies: dict[int, Any] = {}
        failures: list[tuple[int, WorkerFailure]] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while pending:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                sentinels = [self._processes[worker].sentinel for worker in pending.values()]
                ready = wait([*pending, *sentinels], timeout=remaining)
                if not ready:
                    self._raise_timeout(sorted(pending.values()), command, timeout)
                for item in ready:
                    if not isinstance(item, Connection) or item not in pending:
                        continue
                    worker = pending[item]
                    try:
                        status, payload = item.recv()
                    except (EOFError, OSError):
                        self._raise_died(worker, command)
                    if self._unread[worker]:  # the answer to an interrupted earlier command
                        self._unread[worker] -= 1
                        if status != "ok":
                            failures.append((worker, payload))
                        if drain_only and not self._unread[worker]:
                            del pending[item]
                        continue
                    del pending[item]
                    if status == "ok":
                        replies[worker] = payload
                    else:
                        failures.append((worker, payload))
                for connection, worker in list(pending.items()):
                    if not self._processes[worker].is_alive() and not connection.poll():
                        self._raise_died(worker, command)
        except BaseException:  # e.g. Ctrl-C: skip the answers still on their way next time
            if not drain_only:
                for worker in pending.values():
                    self._unread[worker] += 1
            raise
        if failures:
            error = self._worker_error(*failures[0], command)
            if fatal:
                self._shutdown(FAILURE_GRACE_S, f"{command} failed: {error.args[0][:200]}")
            raise error
        return replies

    def _describe_worker(self, worker: int) -> str:
        indices = self.env_slices[worker]
        pid = self._processes[worker].pid
        envs = ", ".join(
            f"{index}: {self._env_descriptions[index] or '(not built yet)'}" for index in indices
        )
        return f"worker {worker} (pid {pid}; envs {envs})"

    def _worker_error(self, worker: int, failure: WorkerFailure, command: str) -> VecEnvWorkerError:
        where = (
            f"env {failure.env_index} ({failure.env_description or 'not built yet'}) in "
            if failure.env_index is not None
            else ""
        )
        message = (
            f"{where}SharedMemoryVecEnv worker {worker} raised {failure.exception_type} "
            f"during {command}: {failure.message}\n\n"
            f"Worker traceback (most recent call last is the env's):\n{failure.traceback}"
        )
        error_class = (
            VecEnvWorkerAttributeError
            if failure.exception_type == "AttributeError" and command in ("get_attr", "env_method")
            else VecEnvWorkerError
        )
        return error_class(
            message,
            worker_index=worker,
            env_indices=self.env_slices[worker],
            env_index=failure.env_index,
            remote_traceback=failure.traceback,
        )

    def _read_stack(self, worker: int) -> str:
        path = self._stack_files[worker]
        if not path:
            return ""
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return ""

    def _raise_died(self, worker: int, command: str) -> NoReturn:
        process = self._processes[worker]
        process.join(1.0)
        exit_code = process.exitcode
        description = self._describe_worker(worker)
        stack = self._read_stack(worker)
        self._shutdown(FAILURE_GRACE_S, f"{description} died")
        message = (
            f"SharedMemoryVecEnv {description} {_exit_description(exit_code)} during {command}, "
            "without answering. SIGKILL usually means the out-of-memory killer (or someone) "
            "killed it; SIGSEGV/SIGABRT point at native code in the env. The vec env is closed; "
            "build a new one."
        )
        if stack:
            message += f"\n\nWorker stack when it crashed:\n{stack}"
        raise VecEnvWorkerDiedError(
            message,
            exit_code=exit_code,
            worker_index=worker,
            env_indices=self.env_slices[worker],
            remote_traceback=stack,
        )

    def _raise_timeout(self, workers: list[int], command: str, timeout: float | None) -> NoReturn:
        if hasattr(signal, "SIGUSR1"):  # ask hung workers to dump their Python stacks
            for worker in workers:
                process = self._processes[worker]
                if process.is_alive() and self._stack_files[worker] and process.pid:
                    with suppress(OSError):
                        os.kill(process.pid, signal.SIGUSR1)
            deadline = time.monotonic() + STACK_DUMP_WAIT_S
            while time.monotonic() < deadline and not all(
                self._read_stack(worker) for worker in workers if self._stack_files[worker]
            ):
                time.sleep(0.05)
        stacks = {worker: self._read_stack(worker) for worker in workers}
        descriptions = "; ".join(self._describe_worker(worker) for worker in workers)
        self._shutdown(0.0, f"{command} timed out")
        message = (
            f"SharedMemoryVecEnv {descriptions} did not answer {command} within {timeout:g} s "
            "and was killed. An env is probably hung (a blocking call, a deadlock, an endless "
            "loop); if it is only slow, raise step_timeout (SharedMemoryVecEnv(step_timeout=...), "
            "or the config key step_timeout of mmagent train; None/null waits forever)."
        )
        for worker, stack in stacks.items():
            if stack:
                message += f"\n\nWorker {worker} stack where it was stuck:\n{stack}"
        raise VecEnvWorkerTimeoutError(
            message,
            worker_index=workers[0],
            env_indices=[index for worker in workers for index in self.env_slices[worker]],
            remote_traceback="\n\n".join(stacks.values()),
        )
