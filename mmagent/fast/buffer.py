"""Rollout storage that lives on the training device, in the observations' own dtypes.

SB3's rollout buffers keep numpy arrays on the host and copy every minibatch to the device
again (``to_torch``), for each of the ``n_epochs`` passes. :class:`DeviceRolloutBuffer` keeps the
whole rollout where the policy runs: uint8 frames stay uint8, token ids stay integers, and a
minibatch is an index into tensors already on the device. Each observation crosses to the device
once, when it is written into its slot; the acting forward pass reads that same slot.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import BaseBuffer
from stable_baselines3.common.preprocessing import get_obs_shape
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

TensorDict = dict[str, torch.Tensor]

_SINGLE_KEY = "observation"  # storage key of a non-Dict observation space


def torch_dtype(dtype: np.dtype | type) -> torch.dtype:
    """The torch dtype of a numpy dtype (``uint8`` → ``torch.uint8``, ``bool`` → ``torch.bool``)."""
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


class DeviceRolloutBuffer(BaseBuffer):
    """A PPO/A2C rollout buffer held as torch tensors on ``device``.

    Drop-in for SB3's ``RolloutBuffer`` and ``DictRolloutBuffer`` (same constructor, ``add``,
    ``compute_returns_and_advantage`` and ``get``; the same GAE(λ) arithmetic, in float32), with:

    * observations stored in the space's dtype, one slot per step plus one for the observation
      after the last step, so :meth:`store_observation` doubles as the upload for acting;
    * rewards and episode starts gathered on the host (they come from the envs) and uploaded
      once per rollout, in :meth:`compute_returns_and_advantage`;
    * values and log-probabilities written as the device tensors the policy returned (no sync);
    * minibatches in SB3's order (the same ``np.random.permutation`` draw, uploaded once per
      epoch as an index tensor) and sliced on the device.

    :param buffer_size: steps per env in one rollout (PPO's ``n_steps``).
    :param observation_space: the (possibly ``Dict``) observation space.
    :param action_space: the action space.
    :param device: where the tensors live.
    :param gae_lambda: GAE λ.
    :param gamma: discount factor.
    :param n_envs: parallel envs.
    """

    observations: TensorDict
    actions: torch.Tensor
    values: torch.Tensor
    log_probs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    rewards: np.ndarray
    episode_starts: np.ndarray

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: torch.device | str = "auto",
        gae_lambda: float = 1.0,
        gamma: float = 0.99,
        n_envs: int = 1,
    ) -> None:
        super().__init__(buffer_size, observation_space, action_space, device, n_envs=n_envs)
        self.gae_lambda = gae_lambda
        self.gamma = gamma
        self.is_dict = isinstance(observation_space, spaces.Dict)
        subspaces: Mapping[str, spaces.Space] = (
            observation_space.spaces  # type: ignore[attr-defined]
            if self.is_dict
            else {_SINGLE_KEY: observation_space}
        )
        self._obs_layout = {
            key: (tuple(get_obs_shape(space)), torch_dtype(space.dtype or np.float32))
            for key, space in subspaces.items()
        }
        pin = self.device.type == "cuda"
        # One slot more than buffer_size: the observation that follows the last step.
        self.observations = {
            key: torch.zeros((buffer_size + 1, n_envs, *shape), dtype=dtype, device=self.device)
            for key, (shape, dtype) in self._obs_layout.items()
        }
        self._staging = (
            {
                key: torch.zeros((n_envs, *shape), dtype=dtype).pin_memory()
                for key, (shape, dtype) in self._obs_layout.items()
            }
            if pin
            else None
        )
        float_zeros = {"dtype": torch.float32, "device": self.device}
        self.actions = torch.zeros((buffer_size, n_envs, self.action_dim), **float_zeros)
        self.values = torch.zeros((buffer_size, n_envs), **float_zeros)
        self.log_probs = torch.zeros((buffer_size, n_envs), **float_zeros)
        self.advantages = torch.zeros((buffer_size, n_envs), **float_zeros)
        self.returns = torch.zeros((buffer_size, n_envs), **float_zeros)
        self.rewards = np.zeros((buffer_size, n_envs), dtype=np.float32)
        self.episode_starts = np.zeros((buffer_size, n_envs), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Start a new rollout (storage is reused, not reallocated)."""
        super().reset()
        self._stored_slot = -1

    def store_observation(self, obs: np.ndarray | Mapping[str, np.ndarray]) -> Any:
        """Write the observation of the current step (or, after the last step, the next one) into
        its slot on the device and return that slot as the policy's input: a ``{key: tensor}``
        dict for ``Dict`` spaces, else a tensor. Writing the same step twice overwrites it."""
        if self.pos > self.buffer_size:
            raise RuntimeError(f"rollout buffer is full ({self.buffer_size} steps and the next)")
        arrays = obs if self.is_dict else {_SINGLE_KEY: obs}
        slot: TensorDict = {}
        for key, (shape, _) in self._obs_layout.items():
            if key not in arrays:
                raise KeyError(f"observation is missing key {key!r}")
            array = np.asarray(arrays[key]).reshape((self.n_envs, *shape))  # type: ignore[index]
            target = self.observations[key][self.pos]
            if self._staging is None:
                target.copy_(torch.from_numpy(array))
            else:
                # Pinned staging lets the copy run asynchronously; the caller's next host sync
                # (reading the actions) happens before the staging buffer is written again.
                staging = self._staging[key]
                staging.numpy()[...] = array
                target.copy_(staging, non_blocking=True)
            slot[key] = target
        self._stored_slot = self.pos
        return slot if self.is_dict else slot[_SINGLE_KEY]

    def record_step(
        self,
        action: torch.Tensor | np.ndarray,
        reward: np.ndarray,
        episode_start: np.ndarray,
        value: torch.Tensor,
        log_prob: torch.Tensor,
    ) -> None:
        """Complete the current step, whose observation :meth:`store_observation` wrote."""
        if self._stored_slot != self.pos:
            raise RuntimeError("store_observation() must write this step's observation first")
        if self.pos >= self.buffer_size:
            raise RuntimeError(f"rollout buffer is full ({self.buffer_size} steps)")
        action_tensor = torch.as_tensor(action, device=self.device)
        self.actions[self.pos] = action_tensor.reshape(self.n_envs, self.action_dim)
        self.values[self.pos] = value.reshape(self.n_envs)
        self.log_probs[self.pos] = log_prob.reshape(self.n_envs)
        self.rewards[self.pos] = np.asarray(reward, dtype=np.float32).reshape(self.n_envs)
        self.episode_starts[self.pos] = np.asarray(episode_start).reshape(self.n_envs)
        self.pos += 1
        self.full = self.pos == self.buffer_size

    def add(
        self,
        obs: np.ndarray | Mapping[str, np.ndarray],
        action: torch.Tensor | np.ndarray,
        reward: np.ndarray,
        episode_start: np.ndarray,
        value: torch.Tensor,
        log_prob: torch.Tensor,
    ) -> None:
        """SB3's ``RolloutBuffer.add``: store one step from host observations."""
        self.store_observation(obs)
        self.record_step(action, reward, episode_start, value, log_prob)

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        """GAE(λ) advantages and TD(λ) returns, on the device, as SB3's ``RolloutBuffer``.

        :param last_values: value estimates of the observations after the last step.
        :param dones: whether each env's last step ended its episode.
        """
        rewards = torch.as_tensor(self.rewards).to(self.device, non_blocking=True)
        starts = torch.as_tensor(self.episode_starts).to(self.device, non_blocking=True)
        last_done = torch.as_tensor(np.asarray(dones, dtype=np.float32)).to(self.device)
        next_values = last_values.detach().reshape(self.n_envs).to(torch.float32)
        next_non_terminal = 1.0 - last_done
        running = torch.zeros(self.n_envs, dtype=torch.float32, device=self.device)
        for step in reversed(range(self.buffer_size)):
            delta = rewards[step] + self.gamma * next_values * next_non_terminal - self.values[step]
            running = delta + self.gamma * self.gae_lambda * next_non_terminal * running
            self.advantages[step] = running
            next_values = self.values[step]
            next_non_terminal = 1.0 - starts[step]
        self.returns = self.advantages + self.values

    def get(
        self, batch_size: int | None = None
    ) -> Generator[DictRolloutBufferSamples | RolloutBufferSamples, None, None]:
        """Minibatches over the whole rollout, in the order SB3's ``RolloutBuffer.get`` would
        draw (:meth:`_sb3_order`), sliced on the device."""
        if not self.full:
            raise RuntimeError("the rollout is not complete yet")
        total = self.buffer_size * self.n_envs
        batch_size = total if batch_size is None else batch_size
        flat_obs = {
            key: tensor[: self.buffer_size].reshape(total, *tensor.shape[2:])
            for key, tensor in self.observations.items()
        }
        flat = {
            "actions": self.actions.reshape(total, self.action_dim),
            "old_values": self.values.reshape(total),
            "old_log_prob": self.log_probs.reshape(total),
            "advantages": self.advantages.reshape(total),
            "returns": self.returns.reshape(total),
        }
        order = self._sb3_order().to(self.device, non_blocking=True)
        for start in range(0, total, batch_size):
            indices = order[start : start + batch_size]
            observations = {key: tensor[indices] for key, tensor in flat_obs.items()}
            rest = {name: tensor[indices] for name, tensor in flat.items()}
            if self.is_dict:
                yield DictRolloutBufferSamples(observations=observations, **rest)
            else:
                yield RolloutBufferSamples(observations=observations[_SINGLE_KEY], **rest)

    def _sb3_order(self) -> torch.Tensor:
        """The minibatch order SB3's ``RolloutBuffer.get`` draws: ``np.random.permutation`` over
        its env-major rows (``env * buffer_size + step``), mapped onto this buffer's step-major
        rows (``step * n_envs + env``). Drawn from NumPy's global generator, as SB3 draws it, so
        the minibatches are stock PPO's and torch's generator (which samples the actions) is
        left in the state stock PPO leaves it in."""
        env_major = np.random.permutation(self.buffer_size * self.n_envs)
        env, step = np.divmod(env_major, self.buffer_size)
        return torch.from_numpy(step * self.n_envs + env)

    def _get_samples(
        self, batch_inds: np.ndarray, env: VecNormalize | None = None
    ) -> DictRolloutBufferSamples | RolloutBufferSamples:
        raise NotImplementedError("DeviceRolloutBuffer draws minibatches in get()")
