"""Recurrent PPO whose update encodes each sample once: sb3-contrib's ``RecurrentPPO`` with
minibatches that carry only their real observations.

sb3-contrib cuts each minibatch into sequences (at episode starts and where the env changes),
pads them to the longest and hands the policy ``n_seq * max_length`` observations, so the
feature extractor reads the padding too: on a game whose episodes are short beside a long one,
many times the minibatch's own samples. :class:`PackedRecurrentPPO` trains the same PPO on the
same minibatches with two changes that leave every output as it was:

* :class:`PackedRecurrentDictRolloutBuffer` gives the policy the minibatch's real observations
  only (:class:`PackedObservations`, in sequence order, with each one's place in the padded
  layout); the policy encodes them and scatters the features into that layout, where the LSTM
  reads them. Everything else in a minibatch (actions, advantages, the mask) is padded as
  sb3-contrib pads it, so its loss is computed as before.
* The LSTM reads a whole padded minibatch in one call instead of one call per time step: its
  sequences are cut at episode starts, so a state is reset only at a sequence's first step,
  which zeroing the initial state does (``_process_sequence``).

``trainer: fast`` (the default) with ``algo: ppo_lstm`` trains with it; ``trainer: sb3`` with
sb3-contrib's own loop. Either class loads the other's files.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer
from sb3_contrib.common.recurrent.policies import (
    RecurrentActorCriticCnnPolicy,
    RecurrentActorCriticPolicy,
    RecurrentMultiInputActorCriticPolicy,
)
from sb3_contrib.common.recurrent.type_aliases import RecurrentDictRolloutBufferSamples, RNNStates
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn


class PackedObservations(dict):
    """A minibatch's real observations (no padding), in sequence order, keyed as the
    observation space, with where each sits in the padded ``(n_seq, max_length)`` layout.

    :param observations: one tensor per key, ``n_real`` samples each.
    :param positions: ``(n_real,)`` indices into the flattened padded layout.
    :param padded_size: ``n_seq * max_length``.
    """

    def __init__(
        self, observations: dict[str, th.Tensor], positions: th.Tensor, padded_size: int
    ) -> None:
        super().__init__(observations)
        self.positions = positions
        self.padded_size = padded_size

    def unpack(self, features: th.Tensor) -> th.Tensor:
        """``features`` of the real samples laid out as the padded minibatch (zeros between
        the sequences' ends and ``max_length``); gradients flow back to ``features``."""
        padded = features.new_zeros((self.padded_size, *features.shape[1:]))
        return padded.index_copy(0, self.positions, features)


class PackedRecurrentDictRolloutBuffer(RecurrentDictRolloutBuffer):
    """sb3-contrib's recurrent rollout buffer for Dict observations whose minibatches hold
    :class:`PackedObservations`; the rest of a minibatch is padded as sb3-contrib pads it."""

    def _get_samples(
        self,
        batch_inds: np.ndarray,
        env_change: np.ndarray,
        env: VecNormalize | None = None,
    ) -> RecurrentDictRolloutBufferSamples:
        batch_size = len(batch_inds)
        starts = np.logical_or(self.episode_starts[batch_inds], env_change[batch_inds]).flatten()
        starts[0] = True  # a minibatch's first sample always starts a sequence
        self.seq_start_indices = np.flatnonzero(starts)
        lengths = np.diff(np.append(self.seq_start_indices, batch_size))
        n_seq, max_length = len(lengths), int(lengths.max())
        padded_size = n_seq * max_length
        sequence = np.repeat(np.arange(n_seq), lengths)
        step_in_sequence = np.arange(batch_size) - np.repeat(self.seq_start_indices, lengths)
        positions = self.to_torch(sequence * max_length + step_in_sequence).long()

        def padded(values: np.ndarray, flat: bool) -> th.Tensor:
            real = th.as_tensor(values, device=self.device)
            if flat:
                real = real.flatten()
            out = real.new_zeros((padded_size, *real.shape[1:]))
            return out.index_copy(0, positions, real)

        def sequence_starts(states: np.ndarray) -> th.Tensor:
            # (batch, n_layers, dim) -> (n_layers, n_seq, dim): the state each sequence starts from
            return self.to_torch(states[batch_inds][self.seq_start_indices].swapaxes(0, 1))

        real = {
            key: th.as_tensor(obs[batch_inds], device=self.device)
            for key, obs in self.observations.items()
        }
        return RecurrentDictRolloutBufferSamples(
            observations=PackedObservations(real, positions, padded_size),
            actions=padded(self.actions[batch_inds], flat=False),
            old_values=padded(self.values[batch_inds], flat=True),
            old_log_prob=padded(self.log_probs[batch_inds], flat=True),
            advantages=padded(self.advantages[batch_inds], flat=True),
            returns=padded(self.returns[batch_inds], flat=True),
            lstm_states=RNNStates(
                (sequence_starts(self.hidden_states_pi), sequence_starts(self.cell_states_pi)),
                (sequence_starts(self.hidden_states_vf), sequence_starts(self.cell_states_vf)),
            ),
            episode_starts=padded(self.episode_starts[batch_inds], flat=True),
            mask=padded(np.ones(batch_size, dtype=np.float32), flat=True),
        )


class PackedLstmPolicyMixin:
    """What a recurrent policy needs for packed minibatches: features of
    :class:`PackedObservations` laid out as the padded minibatch, and the LSTM run over a
    sequence batch in one call when states are reset only at the sequences' first steps."""

    def extract_features(self, obs: Any, features_extractor: nn.Module | None = None) -> Any:
        features = super().extract_features(obs, features_extractor)  # type: ignore[misc]
        if not isinstance(obs, PackedObservations):
            return features
        if isinstance(features, tuple):  # separate actor and critic extractors
            return tuple(obs.unpack(part) for part in features)
        return obs.unpack(features)

    @staticmethod
    def _process_sequence(
        features: th.Tensor,
        lstm_states: tuple[th.Tensor, th.Tensor],
        episode_starts: th.Tensor,
        lstm: nn.LSTM,
    ) -> tuple[th.Tensor, tuple[th.Tensor, th.Tensor]]:
        n_seq = lstm_states[0].shape[1]
        starts = episode_starts.reshape((n_seq, -1)).swapaxes(0, 1)  # (max_length, n_seq)
        if starts.shape[0] > 1 and bool(starts[1:].any()):
            # an episode starts inside a sequence: reset the state there, one step at a time
            return RecurrentActorCriticPolicy._process_sequence(
                features, lstm_states, episode_starts, lstm
            )
        kept = (1.0 - starts[0]).view(1, n_seq, 1)
        sequence = features.reshape((n_seq, -1, lstm.input_size)).swapaxes(0, 1)
        output, states = lstm(sequence, (kept * lstm_states[0], kept * lstm_states[1]))
        return th.flatten(output.transpose(0, 1), start_dim=0, end_dim=1), states


class PackedMlpLstmPolicy(PackedLstmPolicyMixin, RecurrentActorCriticPolicy):
    """sb3-contrib's ``MlpLstmPolicy`` for packed minibatches (:class:`PackedLstmPolicyMixin`)."""


class PackedCnnLstmPolicy(PackedLstmPolicyMixin, RecurrentActorCriticCnnPolicy):
    """sb3-contrib's ``CnnLstmPolicy`` for packed minibatches (:class:`PackedLstmPolicyMixin`)."""


class PackedMultiInputLstmPolicy(PackedLstmPolicyMixin, RecurrentMultiInputActorCriticPolicy):
    """sb3-contrib's ``MultiInputLstmPolicy`` for packed minibatches
    (:class:`PackedLstmPolicyMixin`)."""


class PackedRecurrentPPO(RecurrentPPO):
    """sb3-contrib's ``RecurrentPPO`` whose update encodes each observation of a minibatch once
    (see the module docstring): the same losses, minibatches and saved files; the policy names
    (``MultiInputLstmPolicy``, ...) resolve to their packed twins."""

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {  # type: ignore[misc]
        "MlpLstmPolicy": PackedMlpLstmPolicy,
        "CnnLstmPolicy": PackedCnnLstmPolicy,
        "MultiInputLstmPolicy": PackedMultiInputLstmPolicy,
    }

    def _setup_model(self) -> None:
        super()._setup_model()  # it picks its buffer class inline: replace the buffer after
        stock = self.rollout_buffer
        # Dict observations only: a plain Box observation cannot carry its padded layout (its
        # minibatches stay padded; the LSTM still reads them in one call)
        if isinstance(stock, RecurrentDictRolloutBuffer) and isinstance(
            self.policy, PackedLstmPolicyMixin
        ):
            self.rollout_buffer = PackedRecurrentDictRolloutBuffer(
                self.n_steps,
                self.observation_space,
                self.action_space,
                stock.hidden_state_shape,
                self.device,
                gamma=self.gamma,
                gae_lambda=self.gae_lambda,
                n_envs=self.n_envs,
            )


PACKED_TWINS: dict[type, type] = {
    RecurrentActorCriticPolicy: PackedMlpLstmPolicy,
    RecurrentActorCriticCnnPolicy: PackedCnnLstmPolicy,
    RecurrentMultiInputActorCriticPolicy: PackedMultiInputLstmPolicy,
}
"""Each sb3-contrib recurrent policy's packed twin: the same modules and weights."""
_TWIN_OF = {**PACKED_TWINS, **{packed: stock for stock, packed in PACKED_TWINS.items()}}


def policy_twins(policy: type) -> tuple[type, ...]:
    """``policy`` and its twin (packed for sb3-contrib's, sb3-contrib's for a packed one): a
    model file written with either loads into the other."""
    return (policy, _TWIN_OF[policy]) if policy in _TWIN_OF else (policy,)
