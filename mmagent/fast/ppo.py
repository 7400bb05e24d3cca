"""``FastPPO``: SB3's PPO with a device-resident rollout and as few host syncs as the algorithm
allows.

What changes against ``stable_baselines3.PPO`` (the loss, the optimiser, save/load, callbacks
and logging are the same):

* the rollout lives on the training device in native dtypes (:class:`DeviceRolloutBuffer`): each
  observation is uploaded once, through pinned memory on a GPU, into the slot the acting forward
  pass reads; minibatches are index slices on the device, not per-minibatch host copies (in the
  order SB3 draws, from the same NumPy generator, so the same seed trains the same weights);
* acting needs one device→host copy per step (the actions the envs must get); values and
  log-probabilities stay on the device, and the values of time-limit-truncated episodes'
  terminal observations are computed in one batch;
* the update keeps its statistics on the device and reads them once per update, not five times
  per minibatch; only ``target_kl`` early stopping needs a per-minibatch read, and only when set;
* torch.distributions' argument checks are off while acting and updating: each check is a
  Python ``if`` on a device tensor, a host sync per distribution built and per log-prob taken
  (the policy's own outputs are valid by construction).

Two options, off by default, trade exactness or start-up time for speed where the device
rewards it (``scripts/bench_train.py`` measures both as recipes; docs/performance.md has the
figures):

* ``bf16_update``: the update's forward passes run under bfloat16 autocast (the weights, the
  gradients and the optimiser stay float32; the losses are computed in float32);
* ``compile_acting``: the acting forward pass is ``torch.compile``'d, on CUDA in the
  ``reduce-overhead`` mode, which replays it as a CUDA graph.

Every branch of SB3's PPO (``target_kl``, ``clip_range_vf``, ``normalize_advantage``, Box,
MultiDiscrete and MultiBinary actions, gSDE) is held equal to stock PPO from the same seed by
``tests/fast/test_sb3_equality.py``, against the stable-baselines3 minor line pyproject.toml pins.

A model saved by ``FastPPO`` loads with ``PPO.load`` and the other way round; the two options
belong to the trainer, not to the model, so they are not saved (pass them to ``load``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv
from torch.distributions import Distribution
from torch.nn import functional

from mmagent.fast.buffer import DeviceRolloutBuffer


@contextmanager
def distribution_checks_off() -> Iterator[None]:
    """Turn torch.distributions' default argument validation off, restoring it afterwards."""
    previous = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(previous)


class FastPPO(PPO):
    """PPO whose rollout storage and minibatching stay on the training device.

    Takes every ``stable_baselines3.PPO`` argument. The rollout buffer is a
    :class:`DeviceRolloutBuffer` unless ``rollout_buffer_class`` names a custom class (then SB3's
    own collection and update loops run, and the two options below have no effect); SB3's stock
    ``RolloutBuffer``/``DictRolloutBuffer``, as recorded in a model saved by stock PPO, are
    replaced.

    :param bf16_update: run the update's forward passes under bfloat16 autocast. For GPUs with
        bfloat16 arithmetic; on a CPU without it the update is an order of magnitude slower.
    :param compile_acting: ``torch.compile`` the acting forward pass (``reduce-overhead`` mode,
        a CUDA graph, on CUDA). Compiling costs tens of seconds at the first rollout.
    """

    def __init__(
        self, *args: Any, bf16_update: bool = False, compile_acting: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("rollout_buffer_class", DeviceRolloutBuffer)
        self.bf16_update = bf16_update
        self.compile_acting = compile_acting
        self._compiled_acting: Callable[..., Any] | None = None
        super().__init__(*args, **kwargs)

    def _setup_model(self) -> None:
        if self.rollout_buffer_class in (None, RolloutBuffer, DictRolloutBuffer):
            self.rollout_buffer_class = DeviceRolloutBuffer
        super()._setup_model()

    def _excluded_save_params(self) -> list[str]:
        # The buffer class is a property of the trainer, not of the model: a FastPPO zip loads
        # into stock PPO with SB3's own buffer, and a stock zip into FastPPO with the fast one.
        return [
            *super()._excluded_save_params(),
            "rollout_buffer_class",
            "bf16_update",
            "compile_acting",
            "_compiled_acting",
        ]

    # -- acting -------------------------------------------------------------------------------

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """Fill ``rollout_buffer`` with ``n_rollout_steps`` steps of every env (see the module
        docstring for what differs from SB3); callbacks see the same locals as in SB3."""
        if not isinstance(rollout_buffer, DeviceRolloutBuffer):
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        with distribution_checks_off():
            return self._collect(env, callback, rollout_buffer, n_rollout_steps)

    def _collect(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: DeviceRolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        if self.use_sde:
            self.policy.reset_noise(env.num_envs)
        callback.on_rollout_start()

        n_steps = 0
        act = self._acting_forward()
        obs_tensor = rollout_buffer.store_observation(self._last_obs)  # type: ignore[arg-type]
        while n_steps < n_rollout_steps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)
            with torch.no_grad():
                actions, values, log_probs = act(obs_tensor)
            actions_on_device = actions
            actions = actions.cpu().numpy()  # the step's one device→host copy
            clipped_actions = self._env_actions(actions)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs

            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1

            rewards = self._bootstrap_truncated(rewards, dones, infos)
            rollout_buffer.record_step(
                actions_on_device,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
            )
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            obs_tensor = rollout_buffer.store_observation(new_obs)  # type: ignore[arg-type]

        with torch.no_grad():
            values = self.policy.predict_values(obs_tensor)
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _acting_forward(self) -> Callable[..., Any]:
        """The acting forward pass: the policy itself, or (``compile_acting``) its compiled
        ``forward``, compiled at the first rollout that needs it."""
        if not self.compile_acting:
            return self.policy
        if self._compiled_acting is None:
            self._compiled_acting = self._compile_acting()
        return self._compiled_acting

    def _compile_acting(self) -> Callable[..., Any]:
        if self.device.type != "cuda":
            return torch.compile(self.policy.forward)
        compiled = torch.compile(self.policy.forward, mode="reduce-overhead")

        def act(observations: Any) -> Any:
            # A CUDA graph's outputs are overwritten by its next replay: mark each call as a
            # new step (the buffer has copied the previous step's outputs by then).
            torch.compiler.cudagraph_mark_step_begin()
            return compiled(observations)

        return act

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the envs are given: Box actions unsquashed or clipped to bounds, as SB3 does."""
        if not isinstance(self.action_space, spaces.Box):
            return actions
        if self.policy.squash_output:
            return self.policy.unscale_action(actions)
        return np.clip(actions, self.action_space.low, self.action_space.high)

    def _bootstrap_truncated(
        self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]
    ) -> np.ndarray:
        """Add ``gamma * V(terminal observation)`` to the reward of every episode the time limit
        cut off (SB3's timeout bootstrapping), with one batched value pass."""
        truncated = [
            index
            for index, done in enumerate(dones)
            if done
            and infos[index].get("terminal_observation") is not None
            and infos[index].get("TimeLimit.truncated", False)
        ]
        if not truncated:
            return rewards
        terminal = [infos[index]["terminal_observation"] for index in truncated]
        if isinstance(terminal[0], dict):
            batch: Any = {key: np.stack([obs[key] for obs in terminal]) for key in terminal[0]}
        else:
            batch = np.stack(terminal)
        obs_tensor, _ = self.policy.obs_to_tensor(batch)
        with torch.no_grad():
            terminal_values = self.policy.predict_values(obs_tensor)  # type: ignore[arg-type]
        rewards = np.array(rewards, dtype=np.float32)
        rewards[truncated] += self.gamma * terminal_values.flatten().cpu().numpy()
        return rewards

    # -- learning -----------------------------------------------------------------------------

    def train(self) -> None:
        """One PPO update over the rollout: the clipped surrogate, value and entropy losses of
        SB3's PPO, with statistics accumulated on the device and logged once."""
        if not isinstance(self.rollout_buffer, DeviceRolloutBuffer):
            super().train()
            return
        with distribution_checks_off():
            self._update()

    def _update(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        clip_range_vf = (
            None
            if self.clip_range_vf is None
            else self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        )
        sums = torch.zeros(4, device=self.device)  # pg, value, entropy, clip fraction
        minibatches = 0
        last_epoch_kl = torch.zeros((), device=self.device)
        last_epoch_minibatches = 0
        loss = torch.zeros((), device=self.device)
        stopped_early = False
        for epoch in range(self.n_epochs):
            last_epoch_kl = torch.zeros((), device=self.device)
            last_epoch_minibatches = 0
            for batch in self.rollout_buffer.get(self.batch_size):
                actions = batch.actions
                if isinstance(self.action_space, spaces.Discrete):
                    actions = actions.long().flatten()
                with torch.autocast(
                    self.device.type, dtype=torch.bfloat16, enabled=self.bf16_update
                ):
                    values, log_prob, entropy = self.policy.evaluate_actions(
                        batch.observations,  # type: ignore[arg-type]
                        actions,
                    )
                values, log_prob = values.float().flatten(), log_prob.float()
                entropy = None if entropy is None else entropy.float()
                advantages = batch.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                log_ratio = log_prob - batch.old_log_prob
                ratio = torch.exp(log_ratio)
                policy_loss = -torch.min(
                    advantages * ratio,
                    advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range),
                ).mean()
                if clip_range_vf is None:
                    values_pred = values
                else:
                    values_pred = batch.old_values + torch.clamp(
                        values - batch.old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = functional.mse_loss(batch.returns, values_pred)
                entropy_loss = -torch.mean(-log_prob if entropy is None else entropy)
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss

                with torch.no_grad():
                    approx_kl = torch.mean((ratio - 1) - log_ratio)
                    clip_fraction = torch.mean((torch.abs(ratio - 1) > clip_range).float())
                    sums += torch.stack(
                        [policy_loss, value_loss, entropy_loss, clip_fraction]
                    ).detach()
                minibatches += 1
                last_epoch_kl += approx_kl
                last_epoch_minibatches += 1
                # The one per-minibatch read, compared as SB3 compares it (a float32 NumPy
                # array against the float threshold), so both stop at the same minibatch.
                if self.target_kl is not None and (
                    (approx_kl_div := approx_kl.cpu().numpy()) > 1.5 * self.target_kl
                ):
                    stopped_early = True
                    if self.verbose >= 1:
                        print(
                            f"Early stopping at step {epoch} due to reaching max kl: "
                            f"{approx_kl_div:.2f}"
                        )
                    break

                self.policy.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if stopped_early:
                break
        self._log_update(sums / max(minibatches, 1), last_epoch_kl, last_epoch_minibatches, loss)
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def _log_update(
        self,
        means: torch.Tensor,
        last_epoch_kl: torch.Tensor,
        last_epoch_minibatches: int,
        loss: torch.Tensor,
    ) -> None:
        """Log the update's statistics (SB3's ``train/*`` keys) with a single device read."""
        buffer = self.rollout_buffer
        returns, values = buffer.returns.flatten(), buffer.values.flatten()
        returns_variance = torch.var(returns, correction=0)
        explained = torch.where(
            returns_variance == 0,
            torch.tensor(float("nan"), device=self.device),
            1 - torch.var(returns - values, correction=0) / returns_variance,
        )
        kl = last_epoch_kl / max(last_epoch_minibatches, 1)
        figures = torch.cat([means, torch.stack([kl, loss.detach(), explained])]).tolist()
        pg_loss, value_loss, entropy_loss, clip_fraction, kl_mean, last_loss, explained_var = (
            figures
        )
        self.logger.record("train/entropy_loss", entropy_loss)
        self.logger.record("train/policy_gradient_loss", pg_loss)
        self.logger.record("train/value_loss", value_loss)
        self.logger.record("train/approx_kl", kl_mean)
        self.logger.record("train/clip_fraction", clip_fraction)
        self.logger.record("train/loss", last_loss)
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", torch.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
