"""The RLlib policy: :class:`~mmagent.extractors.MultimodalExtractor` → policy and value heads,
as a new-API-stack ``TorchRLModule`` with RLlib's ``ValueFunctionAPI`` (what PPO needs).

The heads mean what stable-baselines3's ``ActorCriticPolicy`` means by the same
``policy_kwargs``: ``net_arch`` (a list: one hidden stack of that shape for the policy and
another for the value; ``{"pi": [...], "vf": [...]}``: each its own; default ``[64, 64]`` each),
``activation_fn`` (``tanh`` by default), ``ortho_init`` (SB3's orthogonal initialisation and
gains), ``share_features_extractor`` and, for ``Box`` actions, ``log_std_init`` (a
state-independent log standard deviation, as SB3's). Every ``features_extractor_kwargs`` option
(encoders, fusion, masking, modality dropout, layer norm) goes to the extractor unchanged.

RLlib hands the module raw observations (uint8 frames, int64 token ids), so the extractor is
built with ``sb3_normalize_images=False``: it scales the frames itself, once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.models.catalog import Catalog
from ray.rllib.core.rl_module.apis import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from mmagent.extractors import MultimodalExtractor
from mmagent.train import ACTIVATIONS  # the activation_fn names, as for SB3

DEFAULT_NET_ARCH: dict[str, list[int]] = {"pi": [64, 64], "vf": [64, 64]}
"""SB3's default heads with a features extractor other than NatureCNN."""
MODEL_CONFIG_KEYS = (
    "net_arch",
    "activation_fn",
    "ortho_init",
    "share_features_extractor",
    "log_std_init",
    "features_extractor_kwargs",
)
"""The ``policy_kwargs`` this module takes (its ``model_config``); any other is refused by
:func:`mmagent.rllib.config.check_rllib_config`."""
SUPPORTED_ACTION_SPACES = (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Box)


def split_net_arch(net_arch: Sequence[int] | Mapping[str, Sequence[int]] | None) -> tuple:
    """``(policy layers, value layers)`` of SB3's ``net_arch``: a list is the shape of both
    (two separate stacks), a mapping gives ``pi`` and ``vf``, ``None`` is SB3's default."""
    if net_arch is None:
        return list(DEFAULT_NET_ARCH["pi"]), list(DEFAULT_NET_ARCH["vf"])
    if isinstance(net_arch, Mapping):
        unknown = sorted(set(net_arch) - {"pi", "vf"})
        if unknown:
            raise ValueError(
                f"policy_kwargs.net_arch has keys {unknown}; use a list of layer sizes or "
                "a mapping with 'pi' and 'vf' lists"
            )
        return list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
    return list(net_arch), list(net_arch)


def _mlp(sizes: Sequence[int], input_dim: int, activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for size in sizes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"policy_kwargs.net_arch holds {size!r}; layer sizes are whole >= 1")
        layers += [nn.Linear(input_dim, size), activation()]
        input_dim = size
    return nn.Sequential(*layers)


def _rllib_model_keys() -> set[str]:
    """The ``model_config`` keys RLlib itself defines (its ``DefaultModelConfig`` fields, which
    algorithms add to every module's config)."""
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    return {item.name for item in dataclasses.fields(DefaultModelConfig)}


def _orthogonal(module: nn.Module, gain: float) -> None:
    """SB3's ``ActorCriticPolicy.init_weights`` on every linear and conv layer of ``module``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, gain=gain)
            if layer.bias is not None:
                layer.bias.data.fill_(0.0)


class MultimodalPPOModule(TorchRLModule, ValueFunctionAPI):
    """PPO's actor-critic over ``Dict`` observations of images, text, audio and vectors.

    ``model_config`` holds the :data:`MODEL_CONFIG_KEYS` of SB3's ``policy_kwargs`` (see the
    module docstring); RLlib builds it from an ``RLModuleSpec``::

        RLModuleSpec(module_class=MultimodalPPOModule,
                     model_config={"net_arch": [64],
                                   "features_extractor_kwargs": {"fusion": "film"}})

    Attributes: ``encoder`` (the :class:`MultimodalExtractor`; a second one,
    ``value_encoder``, with ``share_features_extractor: false``), ``policy_net`` and
    ``value_net`` (the hidden stacks), ``action_head``, ``value_head`` and, for ``Box``
    actions, ``log_std``.
    """

    def setup(self) -> None:
        """Build the extractor(s) and heads from ``self.model_config``."""
        options = dict(self.model_config or {})
        # RLlib adds its own algorithm's keys (PPO's vf_share_layers): only mmagent's are read
        unknown = sorted(set(options) - set(MODEL_CONFIG_KEYS) - _rllib_model_keys())
        if unknown:
            raise ValueError(
                f"MultimodalPPOModule got model_config keys {unknown}; it takes "
                f"{list(MODEL_CONFIG_KEYS)}"
            )
        if not isinstance(self.action_space, SUPPORTED_ACTION_SPACES):
            raise ValueError(
                f"action space {self.action_space} is not supported by the RLlib backend; "
                "it takes Discrete, MultiDiscrete and Box actions (use backend: sb3)"
            )
        extractor_kwargs = dict(options.get("features_extractor_kwargs") or {})
        extractor_kwargs["sb3_normalize_images"] = False  # RLlib passes raw observations
        self.encoder = MultimodalExtractor(self.observation_space, **extractor_kwargs)
        self.shares_encoder = bool(options.get("share_features_extractor", True))
        self.value_encoder = (
            None
            if self.shares_encoder
            else MultimodalExtractor(self.observation_space, **extractor_kwargs)
        )
        activation_name = options.get("activation_fn", "tanh")
        if activation_name not in ACTIVATIONS:
            raise ValueError(
                f"policy_kwargs.activation_fn {activation_name!r} is unknown; use one of "
                f"{sorted(ACTIVATIONS)}"
            )
        activation = ACTIVATIONS[activation_name]
        pi_layers, vf_layers = split_net_arch(options.get("net_arch"))
        features_dim = self.encoder.features_dim
        self.policy_net = _mlp(pi_layers, features_dim, activation)
        self.value_net = _mlp(vf_layers, features_dim, activation)
        pi_dim = pi_layers[-1] if pi_layers else features_dim
        vf_dim = vf_layers[-1] if vf_layers else features_dim

        self.action_dist_cls = Catalog._get_dist_cls_from_action_space(
            self.action_space, framework="torch"
        )
        self.log_std: nn.Parameter | None = None
        if isinstance(self.action_space, gym.spaces.Box):
            # SB3's DiagGaussian: a learned log std that does not depend on the state
            action_dim = math.prod(self.action_space.shape)
            self.log_std = nn.Parameter(
                torch.full((action_dim,), float(options.get("log_std_init", 0.0)))
            )
        else:
            action_dim = int(self.action_dist_cls.required_input_dim(self.action_space))
        self.action_head = nn.Linear(pi_dim, action_dim)
        self.value_head = nn.Linear(vf_dim, 1)

        if options.get("ortho_init", True):
            gains: list[tuple[nn.Module | None, float]] = [
                (self.encoder, math.sqrt(2)),
                (self.value_encoder, math.sqrt(2)),
                (self.policy_net, math.sqrt(2)),
                (self.value_net, math.sqrt(2)),
                (self.action_head, 0.01),
                (self.value_head, 1.0),
            ]
            for module, gain in gains:
                if module is not None:
                    _orthogonal(module, gain)

    def features(self, observations: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The policy's fused features of a batch of raw observations: ``(B, features_dim)``."""
        return self.encoder(observations)

    def _value_features(
        self, observations: Mapping[str, torch.Tensor], policy_features: torch.Tensor
    ) -> torch.Tensor:
        if self.value_encoder is None:
            return policy_features
        return self.value_encoder(observations)

    def _action_inputs(self, features: torch.Tensor) -> torch.Tensor:
        output = self.action_head(self.policy_net(features))
        if self.log_std is None:
            return output
        return torch.cat([output, self.log_std.expand_as(output)], dim=-1)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Inference and exploration: the action distribution's inputs."""
        features = self.features(batch[Columns.OBS])
        return {Columns.ACTION_DIST_INPUTS: self._action_inputs(features)}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Training: the action distribution's inputs, and the value features as
        ``EMBEDDINGS`` so that :meth:`compute_values` does not encode the batch again."""
        observations = batch[Columns.OBS]
        features = self.features(observations)
        return {
            Columns.ACTION_DIST_INPUTS: self._action_inputs(features),
            Columns.EMBEDDINGS: self._value_features(observations, features),
        }

    def compute_values(
        self, batch: dict[str, Any], embeddings: torch.Tensor | None = None
    ) -> torch.Tensor:
        """State values ``(B,)``; from ``embeddings`` when :meth:`_forward_train` gave them.

        Without them (RLlib's advantage estimation) the batch is encoded with modality dropout
        off, as stable-baselines3 computes the values it bootstraps from while acting.
        """
        if embeddings is None:
            was_training = self.training
            self.eval()
            try:
                observations = batch[Columns.OBS]
                encoder = self.value_encoder or self.encoder
                embeddings = encoder(observations)
            finally:
                self.train(was_training)
        return self.value_head(self.value_net(embeddings)).squeeze(-1)
