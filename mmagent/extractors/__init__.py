"""Multimodal features extractors for SB3 policies: preprocess → per-modality encoder → fusion.

Importing this package registers the built-in encoders and fusions::

    from mmagent.extractors import MultimodalExtractor
    PPO("MultiInputPolicy", env,
        policy_kwargs=dict(features_extractor_class=MultimodalExtractor))

See ``docs/extractor.md`` for the kwargs, names and normalisation rules.
"""

from __future__ import annotations

# Encoder and fusion modules register themselves on import.
from mmagent.extractors import audio, fusion, grid, image, text, vector  # noqa: F401
from mmagent.extractors.audio import (
    Conv1dAudioEncoder,
    LogMelAudioEncoder,
    LogMelSpectrogram,
    mel_filterbank,
)
from mmagent.extractors.base import Encoder, Fusion, ImageEncoder
from mmagent.extractors.extractor import (
    DEFAULT_ENCODERS,
    MultimodalExtractor,
    default_encoder,
    mask_modalities,
    multimodal_extractors,
)
from mmagent.extractors.fusion import (
    AttentionFusion,
    ConcatFusion,
    FiLMFusion,
    GatedFusion,
    SumFusion,
)
from mmagent.extractors.grid import SymbolicGridEncoder
from mmagent.extractors.image import (
    GridImageEncoder,
    ImpalaImageEncoder,
    NatureImageEncoder,
    SmallImageEncoder,
)
from mmagent.extractors.modalities import MODALITY_KINDS, ModalitySpec, resolve_modalities
from mmagent.extractors.registry import (
    ENCODERS,
    FUSIONS,
    encoder_names,
    fusion_names,
    register_encoder,
    register_fusion,
)
from mmagent.extractors.text import (
    BagOfEmbeddingsTextEncoder,
    GRUTextEncoder,
    TransformerTextEncoder,
)
from mmagent.extractors.vector import MLPVectorEncoder

FUSION_NAMES: tuple[str, ...] = fusion_names()
"""The built-in fusion names: concat, sum, gated, film, attention."""

__all__ = [
    "DEFAULT_ENCODERS",
    "ENCODERS",
    "FUSIONS",
    "FUSION_NAMES",
    "MODALITY_KINDS",
    "AttentionFusion",
    "BagOfEmbeddingsTextEncoder",
    "ConcatFusion",
    "Conv1dAudioEncoder",
    "Encoder",
    "FiLMFusion",
    "Fusion",
    "GRUTextEncoder",
    "GatedFusion",
    "GridImageEncoder",
    "ImageEncoder",
    "ImpalaImageEncoder",
    "LogMelAudioEncoder",
    "LogMelSpectrogram",
    "MLPVectorEncoder",
    "ModalitySpec",
    "MultimodalExtractor",
    "NatureImageEncoder",
    "SmallImageEncoder",
    "SumFusion",
    "SymbolicGridEncoder",
    "TransformerTextEncoder",
    "default_encoder",
    "encoder_names",
    "fusion_names",
    "mask_modalities",
    "mel_filterbank",
    "multimodal_extractors",
    "register_encoder",
    "register_fusion",
    "resolve_modalities",
]
