"""Fast training path: stepping many games at once with as little overhead as possible.

* :class:`~mmagent.fast.vec_env.SharedMemoryVecEnv` — a stable-baselines3 ``VecEnv`` whose
  worker processes each step a slice of the envs and write observations straight into shared
  memory (no pickled observations per step).
* :class:`~mmagent.fast.ppo.FastPPO` — SB3's PPO with the rollout stored on the training device
  (:class:`~mmagent.fast.buffer.DeviceRolloutBuffer`) and few host syncs per step and update.

Names are imported on first use, so ``import mmagent.fast`` alone loads neither torch nor
stable-baselines3 (the worker processes start from this package).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmagent.fast.buffer import DeviceRolloutBuffer
    from mmagent.fast.ppo import FastPPO
    from mmagent.fast.vec_env import (
        SharedMemoryVecEnv,
        VecEnvClosedError,
        VecEnvWorkerAttributeError,
        VecEnvWorkerDiedError,
        VecEnvWorkerError,
        VecEnvWorkerTimeoutError,
    )

_MODULES = {"DeviceRolloutBuffer": "buffer", "FastPPO": "ppo"}

__all__ = [
    "DeviceRolloutBuffer",
    "FastPPO",
    "SharedMemoryVecEnv",
    "VecEnvClosedError",
    "VecEnvWorkerAttributeError",
    "VecEnvWorkerDiedError",
    "VecEnvWorkerError",
    "VecEnvWorkerTimeoutError",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        module = importlib.import_module(f"mmagent.fast.{_MODULES.get(name, 'vec_env')}")
        return getattr(module, name)
    raise AttributeError(f"module 'mmagent.fast' has no attribute {name!r}")
