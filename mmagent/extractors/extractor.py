"""``MultimodalExtractor``: per-modality preprocessing → encoders → fusion, as an SB3 features
extractor."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from mmagent.convention import MAX_GRID_SIDE
from mmagent.extractors.base import Encoder, Fusion, module_names
from mmagent.extractors.image import NATURE_MIN_SIZE
from mmagent.extractors.modalities import (
    AUDIO,
    GRID,
    IGNORE,
    IMAGE,
    MODALITY_KINDS,
    TEXT,
    VECTOR,
    ModalitySpec,
    build_spec,
    resolve_modalities,
    sb3_scales_image,
    set_hint,
)
from mmagent.extractors.registry import (
    EncoderChoice,
    FusionChoice,
    resolve_encoder,
    resolve_fusion,
)

DEFAULT_ENCODERS: dict[str, str] = {
    IMAGE: "nature",
    TEXT: "bag",
    AUDIO: "conv1d",
    VECTOR: "mlp",
    GRID: "embedding",
}
"""The encoder each modality kind gets unless ``encoders=`` says otherwise (an image smaller than
the ``nature`` CNN reads gets :data:`SMALL_VIEW_ENCODER`, see :func:`default_encoder`).

Text gets ``bag``, which ignores word order: an instruction's meaning is mostly its words (which
colour, which object, which cue), and the ``gru`` costs about twice the training time of the
whole agent on a small view (MiniGrid's 7x7 grid: 428 against 812 env-steps/s on 2 CPU cores,
with equal or better success; docs/performance.md). Name ``gru`` (or ``transformer``) for
instructions whose order matters ("open the red door then the blue one")."""

SMALL_VIEW_ENCODER = "small"
"""The default encoder of an image smaller than ``NATURE_MIN_SIZE`` (36) on a side."""


def default_encoder(spec: ModalitySpec) -> str:
    """The encoder ``spec`` gets when ``encoders=`` names none: :data:`DEFAULT_ENCODERS` by kind,
    except that an image smaller than 36x36 (too small for ``nature``) gets ``small``.

    A small uint8 view is warned about: with pixel bounds it cannot be told from a symbolic grid
    (an env may declare its cell codes as ``Box(0, 255, ...)``, as MiniGrid does;
    ``make_multimodal`` declares MiniGrid's as codes by itself), and is read as pixels."""
    if spec.kind == IMAGE and min(spec.shape[1:]) < NATURE_MIN_SIZE:
        if spec.space.dtype == np.uint8 and max(spec.shape[1:]) <= MAX_GRID_SIDE:
            warnings.warn(
                f"image {spec.key!r} {spec.space} is a small view, read as pixels (/255) by the "
                f"'small' CNN; if it holds integer cell codes (object, colour, state), declare "
                f"them with make_multimodal(..., grid_codes=[codes per channel]) or map it to "
                f"the grid encoder: {set_hint('modalities', spec.key, GRID)}.",
                stacklevel=4,
            )
        return SMALL_VIEW_ENCODER
    return DEFAULT_ENCODERS[spec.kind]


ValueT = TypeVar("ValueT")


class MultimodalExtractor(BaseFeaturesExtractor):
    """Features extractor for ``Dict`` observations that mix images, text, audio and vectors.

    Pipeline: each key is mapped to a modality kind (:func:`resolve_modalities`), turned into its
    canonical tensor (:class:`ModalitySpec`), encoded by its own encoder, and the per-key features
    are fused into one vector of ``features_dim`` for SB3's policy and value heads::

        PPO("MultiInputPolicy", env, policy_kwargs=dict(
            features_extractor_class=MultimodalExtractor,
            features_extractor_kwargs=dict(encoders={"image": "impala"}, fusion="film"),
        ))

    Options given per key (``encoders``, ``encoder_kwargs``, ``channels_first``,
    ``modality_dropout``) are dicts whose keys are observation keys or modality kinds (``"audio"``
    = every audio key); an observation key's own entry wins over its kind's.

    **Image scaling happens exactly once.** SB3's ``preprocess_obs`` divides uint8 image spaces it
    recognises by 255 when the policy has ``normalize_images=True`` (its default). The extractor
    divides by 255 every uint8 image SB3 did not, so any ``normalize_images`` works. It learns the
    flag from the SB3 policy that builds it (``make_features_extractor``); built anywhere else it
    expects raw observations. ``sb3_normalize_images`` overrides that detection.

    :param observation_space: the env's ``Dict`` observation space.
    :param modalities: ``{key: kind}`` overrides, kind in ``image/text/audio/vector/grid/ignore``;
        keys named ``image``, ``text``, ``audio`` are detected (an ``image`` holding integer cell
        codes is a ``grid``, see :func:`mmagent.convention.looks_like_symbolic_grid`), other Box
        keys are ``vector``.
    :param encoders: ``{key or kind: encoder}`` where encoder is a registered name (see
        :func:`register_encoder`), a class, or ``"module.path:Class"``. Defaults:
        :func:`default_encoder`.
    :param encoder_kwargs: ``{key or kind: kwargs}`` for the encoder (e.g. ``features_dim``).
    :param fusion: registered fusion name (``concat``, ``sum``, ``gated``, ``film``,
        ``attention``), a class, or ``"module.path:Class"``.
    :param fusion_dim: common width for the fusions that project (``sum``, ``gated``,
        ``attention``).
    :param fusion_kwargs: extra kwargs for the fusion.
    :param channels_first: ``{key or kind: bool}`` layout override for images and audio.
    :param sample_rate: audio samples per second (used by the ``logmel`` encoder).
    :param modality_dropout: probability, per sample and key, that a key's features are replaced by
        its learned "missing" embedding during training (``extractor.training``); a float applies
        to every key.
    :param sb3_normalize_images: the ``normalize_images`` flag of the SB3 policy feeding this
        extractor; None reads it from the building policy (False outside SB3).
    :param masked_modalities: keys or kinds masked from the start, for training ablations; kept
        in the policy kwargs, so a saved model reloads with the same mask.
    :param layer_norm: a ``LayerNorm`` on each key's features before the fusion, so that the
        fusion and the policy see every modality on the same scale however far training moves
        an encoder's output (a text feature that conditions FiLM is normalised too).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        modalities: Mapping[str, str] | None = None,
        encoders: Mapping[str, EncoderChoice] | None = None,
        encoder_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        fusion: FusionChoice = "concat",
        fusion_dim: int = 256,
        fusion_kwargs: Mapping[str, Any] | None = None,
        channels_first: Mapping[str, bool] | None = None,
        sample_rate: int = 16000,
        modality_dropout: float | Mapping[str, float] = 0.0,
        sb3_normalize_images: bool | None = None,
        masked_modalities: Iterable[str] = (),
        layer_norm: bool = False,
    ) -> None:
        if not isinstance(layer_norm, bool):
            raise TypeError(f"layer_norm must be True or False, got {layer_norm!r}.")
        if sb3_normalize_images is None:
            sb3_normalize_images = bool(normalize_images_of_building_policy())
        kinds = resolve_modalities(observation_space, modalities)
        kinds = {key: kind for key, kind in kinds.items() if kind != IGNORE}
        layouts = _per_key("channels_first", channels_first, kinds)
        specs: dict[str, ModalitySpec] = {
            key: build_spec(
                key,
                kind,
                observation_space[key],  # type: ignore[arg-type]
                channels_first=layouts.get(key),
                sample_rate=sample_rate,
                images_arrive_scaled=sb3_normalize_images
                and sb3_scales_image(observation_space[key]),  # type: ignore[arg-type]
            )
            for key, kind in kinds.items()
        }

        chosen = _per_key("encoders", encoders, kinds)
        chosen_kwargs = _per_key("encoder_kwargs", encoder_kwargs, kinds)
        built: dict[str, Encoder] = {}
        encoder_names: dict[str, str] = {}
        for key, spec in specs.items():
            # the default only when none is named: it warns about small uint8 views
            named = chosen[key] if key in chosen else default_encoder(spec)
            name, factory = resolve_encoder(spec.kind, named)
            built[key] = _build_encoder(spec, name, factory, dict(chosen_kwargs.get(key, {})))
            encoder_names[key] = name

        fusion_name, fusion_factory = resolve_fusion(fusion)
        try:
            fusion_module = fusion_factory(specs, built, fusion_dim, **dict(fusion_kwargs or {}))
        except TypeError as error:
            raise TypeError(
                f"fusion {fusion_name!r} rejected "
                f"fusion_kwargs={dict(fusion_kwargs or {})}: {error}"
            ) from error
        _check_features_dim(fusion_module, f"fusion {fusion_name!r}")

        dropout = _per_key("modality_dropout", modality_dropout, kinds, one_for_all=True)
        for key, probability in dropout.items():
            if not 0.0 <= probability <= 1.0:
                raise ValueError(
                    f"modality_dropout for {key!r} is {probability}; use a probability in [0, 1]."
                )

        # The real width is known before BaseFeaturesExtractor.__init__ (no placeholder).
        super().__init__(observation_space, features_dim=int(fusion_module.features_dim))
        self.specs = specs
        self.encoder_names = encoder_names
        self.fusion_name = fusion_name
        self.dropout_probabilities = {key: p for key, p in dropout.items() if p > 0.0}
        self._module_names = module_names(tuple(specs))
        self.encoders = nn.ModuleDict({self._module_names[key]: built[key] for key in specs})
        self.fusion: Fusion = fusion_module  # type: ignore[assignment]
        self.missing_embeddings = nn.ParameterDict(
            {
                self._module_names[key]: nn.Parameter(torch.zeros(built[key].features_dim))
                for key in specs
            }
        )
        # Only when asked for, so models saved without it keep their state dict.
        self.layer_norms = (
            nn.ModuleDict(
                {self._module_names[key]: nn.LayerNorm(built[key].features_dim) for key in specs}
            )
            if layer_norm
            else None
        )
        self._conditioned = frozenset(getattr(fusion_module, "conditioned_keys", ()))
        # Keys a fusion conditions (FiLM images) are encoded after the rest, which they read.
        self._encode_order = [key for key in specs if key not in self._conditioned] + [
            key for key in specs if key in self._conditioned
        ]
        self._masked: frozenset[str] = frozenset()
        if masked_modalities:
            self.set_masked_modalities(masked_modalities)

    @property
    def modalities(self) -> dict[str, str]:
        """``{key: kind}`` of the encoded keys."""
        return {key: spec.kind for key, spec in self.specs.items()}

    @property
    def masked_modalities(self) -> frozenset[str]:
        """Keys currently masked (their features replaced by the "missing" embedding)."""
        return self._masked

    def set_masked_modalities(self, names: Iterable[str]) -> None:
        """Mask keys at evaluation (and training) until changed: a masked key's input is not read
        at all; its features are the learned "missing" embedding. An empty iterable unmasks all.

        :param names: observation keys and/or modality kinds (``"audio"`` = every audio key).
        """
        self._masked = frozenset(self._resolve_names(names, "set_masked_modalities"))

    @contextmanager
    def masking(self, names: Iterable[str]) -> Iterator[MultimodalExtractor]:
        """Context manager: mask ``names`` inside the block, restore the previous mask after."""
        previous = self._masked
        self.set_masked_modalities(names)
        try:
            yield self
        finally:
            self._masked = previous

    def encoder_for(self, key: str) -> Encoder:
        """The encoder of observation ``key``."""
        if key not in self.specs:
            raise KeyError(f"no encoder for {key!r}; encoded keys: {list(self.specs)}.")
        return self.encoders[self._module_names[key]]  # type: ignore[return-value]

    def forward(self, observations: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Observations (raw, or after SB3's ``preprocess_obs``) → ``(B, features_dim)``."""
        missing_keys = [key for key in self.specs if key not in observations]
        if missing_keys:
            raise KeyError(
                f"observations lack keys {missing_keys} (got {list(observations)}); the extractor "
                f"was built for {list(self.specs)}."
            )
        batch_size = observations[next(iter(self.specs))].shape[0]
        features: dict[str, torch.Tensor] = {}
        for key in self._encode_order:
            missing = self.missing_embeddings[self._module_names[key]]
            if key in self._masked:
                features[key] = missing.unsqueeze(0).expand(batch_size, -1)
                continue
            spec = self.specs[key]
            encoder = self.encoders[self._module_names[key]]
            canonical = spec.to_canonical(observations[key])
            if key in self._conditioned:
                feature_map = self.fusion.condition(key, encoder.feature_map(canonical), features)
                encoded = encoder.project(feature_map)
            else:
                encoded = encoder(canonical)
            if self.layer_norms is not None:
                encoded = self.layer_norms[self._module_names[key]](encoded)
            probability = self.dropout_probabilities.get(key, 0.0)
            if self.training and probability > 0.0:
                dropped = torch.rand(batch_size, 1, device=encoded.device) < probability
                encoded = torch.where(dropped, missing.to(encoded.dtype), encoded)
            features[key] = encoded
        return self.fusion(features)

    def extra_repr(self) -> str:
        encoded = ", ".join(
            f"{key}: {spec.kind}/{self.encoder_names[key]} {spec.shape}"
            for key, spec in self.specs.items()
        )
        norm = "; layer_norm" if self.layer_norms is not None else ""
        return f"{encoded}; fusion={self.fusion_name}{norm}; features_dim={self.features_dim}"

    def _resolve_names(self, names: Iterable[str], option: str) -> set[str]:
        if isinstance(names, str):
            names = [names]
        resolved: set[str] = set()
        for name in names:
            if name in self.specs:
                resolved.add(name)
            elif name in MODALITY_KINDS and any(s.kind == name for s in self.specs.values()):
                resolved.update(key for key, spec in self.specs.items() if spec.kind == name)
            else:
                raise KeyError(
                    f"{option}: {name!r} is neither an encoded observation key nor a modality kind "
                    f"present; use one of {sorted({*self.specs, *self.modalities.values()})}."
                )
        return resolved


def multimodal_extractors(target: Any) -> list[MultimodalExtractor]:
    """Every :class:`MultimodalExtractor` inside an SB3 model or policy (a policy with
    ``share_features_extractor=False`` has two).

    :param target: an SB3 algorithm (``model.policy`` is used), a policy, or any ``nn.Module``.
    :raises ValueError: when there is none.
    """
    module = getattr(target, "policy", target)
    if not isinstance(module, nn.Module):
        raise TypeError(f"mask_modalities needs an SB3 model, policy or nn.Module; got {target!r}.")
    extractors = [m for m in module.modules() if isinstance(m, MultimodalExtractor)]
    if not extractors:
        raise ValueError(
            f"{type(target).__name__} has no MultimodalExtractor; create the policy with "
            f"policy_kwargs=dict(features_extractor_class=MultimodalExtractor)."
        )
    return extractors


def mask_modalities(target: Any, names: Iterable[str]) -> list[MultimodalExtractor]:
    """Mask ``names`` in every :class:`MultimodalExtractor` inside an SB3 model or policy.

    :param target: an SB3 algorithm (``model.policy`` is used), a policy, or any ``nn.Module``.
    :param names: observation keys and/or modality kinds; empty unmasks.
    :return: the extractors changed.
    """
    names = [names] if isinstance(names, str) else list(names)
    extractors = multimodal_extractors(target)
    for extractor in extractors:
        extractor.set_masked_modalities(names)
    return extractors


def normalize_images_of_building_policy() -> bool | None:
    """``normalize_images`` of the SB3 policy whose ``make_features_extractor`` is on the call
    stack (SB3 builds every extractor there), or None when not built by an SB3 policy."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code.co_name == "make_features_extractor":
                policy = frame.f_locals.get("self")
                if isinstance(policy, BaseModel):
                    return bool(policy.normalize_images)
            frame = frame.f_back
        return None
    finally:
        del frame


def _per_key(
    option: str,
    values: ValueT | Mapping[str, ValueT] | None,
    kinds: Mapping[str, str],
    one_for_all: bool = False,
) -> dict[str, ValueT]:
    """Resolve ``{key or kind: value}`` (or, if ``one_for_all``, one value) to ``{key: value}``."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        if one_for_all:
            return dict.fromkeys(kinds, values)  # type: ignore[arg-type]
        raise TypeError(
            f"{option} must be a dict {{observation key or modality kind: value}}, got {values!r}; "
            f"e.g. {option}={{'image': {values!r}}}."
        )
    # Kinds are always valid (a shared config may name "audio" for a game without sound);
    # any other name must be an encoded key, which catches typos.
    for name in values:
        if name not in kinds and name not in MODALITY_KINDS:
            raise KeyError(
                f"{option} names {name!r}, which is neither an encoded observation key nor a "
                f"modality kind; use one of {sorted({*kinds, *MODALITY_KINDS})}."
            )
    resolved: dict[str, ValueT] = {}
    for key, kind in kinds.items():
        if key in values:
            resolved[key] = values[key]
        elif kind in values:
            resolved[key] = values[kind]
    return resolved


def _build_encoder(spec: ModalitySpec, name: str, factory: Any, kwargs: dict[str, Any]) -> Encoder:
    try:
        encoder = factory(spec, **kwargs)
    except TypeError as error:
        raise TypeError(
            f"{spec.kind} encoder {name!r} for {spec.key!r} rejected "
            f"encoder_kwargs={kwargs}: {error}"
        ) from error
    if not isinstance(encoder, nn.Module):
        raise TypeError(
            f"{spec.kind} encoder {name!r} for {spec.key!r} returned {type(encoder).__name__}; "
            f"an encoder must be an nn.Module (subclass mmagent.extractors.Encoder)."
        )
    _check_features_dim(encoder, f"{spec.kind} encoder {name!r} for {spec.key!r}")
    return encoder  # type: ignore[return-value]


def _check_features_dim(module: nn.Module, what: str) -> None:
    features_dim = getattr(module, "features_dim", None)
    if not isinstance(features_dim, int) or features_dim <= 0:
        raise TypeError(
            f"{what} must set a positive int features_dim in __init__; got {features_dim!r}."
        )
