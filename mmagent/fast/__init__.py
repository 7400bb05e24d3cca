"""Fast training path: stepping many games at once with as little overhead as possible.

* :class:`~mmagent.fast.vec_env.SharedMemoryVecEnv` — a stable-baselines3 ``VecEnv`` whose
  worker processes each step a slice of the envs and write observations straight into shared
  memory (no pickled observations per step).

Names are imported on first use, so ``import mmagent.fast`` alone loads neither torch nor
stable-baselines3 (the worker processes start from this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmagent.fast.vec_env import (
        SharedMemoryVecEnv,
        VecEnvClosedError,
        VecEnvWorkerAttributeError,
        VecEnvWorkerDiedError,
        VecEnvWorkerError,
        VecEnvWorkerTimeoutError,
    )

__all__ = [
    "SharedMemoryVecEnv",
    "VecEnvClosedError",
    "VecEnvWorkerAttributeError",
    "VecEnvWorkerDiedError",
    "VecEnvWorkerError",
    "VecEnvWorkerTimeoutError",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mmagent.fast import vec_env

        return getattr(vec_env, name)
    raise AttributeError(f"module 'mmagent.fast' has no attribute {name!r}")
