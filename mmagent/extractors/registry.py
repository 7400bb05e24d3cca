"""Name → class registries for encoders (one per modality kind) and fusions.

Anywhere a name is accepted, a class (or other factory) and a ``"module.path:ClassName"`` string
are accepted too, so a user's own encoder needs no registration::

    register_encoder("audio", "my_cnn", MyAudioEncoder)       # then encoders={"audio": "my_cnn"}
    MultimodalExtractor(space, encoders={"audio": MyAudioEncoder})
    MultimodalExtractor(space, encoders={"audio": "my_pkg.audio:MyAudioEncoder"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

from torch import nn

from mmagent.extractors.modalities import MODALITY_KINDS
from mmagent.suggestions import did_you_mean

SUGGESTION = " (did you mean {}?)"
"""How an unknown name's close matches are suggested."""

EncoderFactory = Callable[..., nn.Module]
"""Called as ``factory(spec, **encoder_kwargs)``; returns a module with an int ``features_dim``."""
FusionFactory = Callable[..., nn.Module]
"""Called as ``factory(specs, encoders, fusion_dim, **fusion_kwargs)``; returns a ``Fusion``."""
EncoderChoice = str | EncoderFactory
"""A registered name, a ``"module.path:Class"`` string, or the class itself."""
FusionChoice = str | FusionFactory
"""A registered name, a ``"module.path:Class"`` string, or the class itself."""

FactoryT = TypeVar("FactoryT", bound=Callable[..., nn.Module])

ENCODERS: dict[str, dict[str, EncoderFactory]] = {kind: {} for kind in MODALITY_KINDS}
"""``ENCODERS[kind][name]``: the registered encoders. Prefer :func:`register_encoder` to edit it."""
FUSIONS: dict[str, FusionFactory] = {}
"""``FUSIONS[name]``: the registered fusions. Prefer :func:`register_fusion` to edit it."""


def register_encoder(
    kind: str, name: str, factory: FactoryT | None = None, *, overwrite: bool = False
) -> FactoryT | Callable[[FactoryT], FactoryT]:
    """Register an encoder for a modality kind; usable as a decorator when ``factory`` is omitted.

    :param kind: ``"image"``, ``"text"``, ``"audio"`` or ``"vector"``.
    :param name: the name to select it by in ``encoders=``.
    :param factory: a class (or callable) built as ``factory(spec, **encoder_kwargs)``.
    :param overwrite: replace an existing registration instead of raising.
    """
    if kind not in ENCODERS:
        raise ValueError(f"unknown modality kind {kind!r}; use one of {list(ENCODERS)}.")

    def register(factory: FactoryT) -> FactoryT:
        if name in ENCODERS[kind] and not overwrite and ENCODERS[kind][name] is not factory:
            raise ValueError(
                f"a {kind} encoder named {name!r} is already registered "
                f"({ENCODERS[kind][name]!r}); pick another name or pass overwrite=True."
            )
        ENCODERS[kind][name] = factory
        return factory

    return register if factory is None else register(factory)


def register_fusion(
    name: str, factory: FactoryT | None = None, *, overwrite: bool = False
) -> FactoryT | Callable[[FactoryT], FactoryT]:
    """Register a fusion; usable as a decorator when ``factory`` is omitted.

    :param name: the name to select it by in ``fusion=``.
    :param factory: built as ``factory(specs, encoders, fusion_dim, **fusion_kwargs)``.
    :param overwrite: replace an existing registration instead of raising.
    """

    def register(factory: FactoryT) -> FactoryT:
        if name in FUSIONS and not overwrite and FUSIONS[name] is not factory:
            raise ValueError(
                f"a fusion named {name!r} is already registered ({FUSIONS[name]!r}); "
                f"pick another name or pass overwrite=True."
            )
        FUSIONS[name] = factory
        return factory

    return register if factory is None else register(factory)


def encoder_names(kind: str) -> tuple[str, ...]:
    """Registered encoder names for a modality kind."""
    return tuple(ENCODERS[kind])


def fusion_names() -> tuple[str, ...]:
    """Registered fusion names."""
    return tuple(FUSIONS)


def resolve_encoder(kind: str, choice: EncoderChoice) -> tuple[str, EncoderFactory]:
    """Turn a name, ``"module.path:Class"`` or factory into ``(display name, factory)``."""
    if not isinstance(choice, str):
        return _describe(choice), _require_callable(choice, f"{kind} encoder")
    if ":" in choice:
        return choice, _import_factory(choice, f"{kind} encoder")
    if choice not in ENCODERS[kind]:
        hint = did_you_mean(choice, ENCODERS[kind], SUGGESTION)
        raise ValueError(
            f"unknown {kind} encoder {choice!r}{hint}; choose one of {list(ENCODERS[kind])}, "
            f"pass a class or 'module.path:Class', or register one with "
            f"register_encoder({kind!r}, {choice!r}, YourEncoder)."
        )
    return choice, ENCODERS[kind][choice]


def resolve_fusion(choice: FusionChoice) -> tuple[str, FusionFactory]:
    """Turn a name, ``"module.path:Class"`` or factory into ``(display name, factory)``."""
    if not isinstance(choice, str):
        return _describe(choice), _require_callable(choice, "fusion")
    if ":" in choice:
        return choice, _import_factory(choice, "fusion")
    if choice not in FUSIONS:
        raise ValueError(
            f"unknown fusion {choice!r}{did_you_mean(choice, FUSIONS, SUGGESTION)}; choose one of "
            f"{list(FUSIONS)}, pass a class or "
            f"'module.path:Class', or register one with register_fusion({choice!r}, YourFusion)."
        )
    return choice, FUSIONS[choice]


def _describe(factory: object) -> str:
    module = getattr(factory, "__module__", "?")
    return f"{module}:{getattr(factory, '__qualname__', repr(factory))}"


def _require_callable(factory: object, what: str) -> Callable[..., nn.Module]:
    if not callable(factory):
        raise TypeError(
            f"{what} must be a registered name, 'module.path:Class' or a class; got {factory!r}."
        )
    return factory


def _import_factory(path: str, what: str) -> Callable[..., nn.Module]:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{what} {path!r}: cannot import module {module_name!r} ({error}); check the "
            f"'module.path:Class' spelling and that the module is importable."
        ) from error
    factory = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ValueError(f"{what} {path!r}: module {module_name!r} has no {attribute!r}.")
        factory = getattr(factory, part)
    return _require_callable(factory, what)
