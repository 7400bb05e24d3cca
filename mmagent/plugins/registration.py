"""Registering games with Gymnasium, and turning what a user typed into an env id.

* :func:`register_game` — ``gymnasium.register`` with checks: the id looks like
  ``namespace/Name-vN``, the game is a :class:`~envs.core.game.MultimodalGame` or
  ``gymnasium.Env`` subclass, a ``"module.path:Name"`` string, or a factory function that
  returns an env (``gym.make`` checks what it returns). Registering the same game under the same
  id again does nothing (modules may be imported twice); another game under a taken id is an
  error.
* :func:`resolve_env_spec` — accepts a registered id (``mmagent/CueMatch-v0``), Gymnasium's
  ``module.path:EnvId`` (the module registers the id when imported), or
  ``module.path:GameClass`` / ``module.path:factory`` (registered on the spot as
  ``custom/<Name>-v0``) and returns the id to pass to ``gym.make``.
* :func:`make_env` — ``gym.make(resolve_env_spec(spec), **kwargs)``; module-level, so
  ``functools.partial(make_env, spec)`` pickles into subprocess vec envs, where the spec is
  resolved again (a ``custom/...`` id exists only in the process that registered it).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from mmagent.plugins.errors import GameRegistrationError
from mmagent.suggestions import close_matches

GAME_ID_PATTERN = re.compile(
    r"^(?P<namespace>[A-Za-z_][\w.-]*)/(?P<name>[A-Za-z][\w.-]*?)-v(?P<version>\d+)$"
)
"""What a game id must look like: ``namespace/Name-vN``."""

CUSTOM_NAMESPACE = "custom"
"""The namespace :func:`resolve_env_spec` registers ``module.path:GameClass`` specs under."""

_ENTRY_POINT_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

GameEntry = type | str | Callable[..., gym.Env]


def register_game(game_id: str, game: GameEntry, /, **default_kwargs: Any) -> str:
    """Register ``game`` with Gymnasium as ``game_id``; returns ``game_id``.

    :param game_id: ``namespace/Name-vN``, e.g. ``"examples/SonarDig-v0"``.
    :param game: a :class:`~envs.core.game.MultimodalGame` (or any ``gymnasium.Env``)
        subclass, an entry point string ``"module.path:Name"``, or a factory function
        ``factory(render_mode=None, **kwargs) -> gym.Env`` (e.g. one that wraps a third-party
        env with :func:`~mmagent.plugins.make_multimodal`).
    :param default_kwargs: constructor keywords ``gym.make`` passes unless overridden.
    :raises GameRegistrationError: for a malformed id, a game of the wrong kind, or an id
        already registered to another game.
    """
    if not isinstance(game_id, str) or not GAME_ID_PATTERN.fullmatch(game_id):
        raise GameRegistrationError(
            f"game id {game_id!r} must look like 'namespace/Name-vN', e.g. 'custom/MyGame-v0' "
            "(letters, digits, '_', '.', '-'; the name starts with a letter)"
        )
    entry_point = _entry_point(game)
    existing = gym.registry.get(game_id)
    if existing is not None:
        if (
            _entry_point_name(existing.entry_point) == _entry_point_name(entry_point)
            and dict(existing.kwargs) == default_kwargs
        ):
            return game_id
        raise GameRegistrationError(
            f"{game_id} is already registered to {_entry_point_name(existing.entry_point)} "
            f"with {dict(existing.kwargs)}; register {_entry_point_name(entry_point)} under "
            "another name or a new version (e.g. -v1)"
        )
    gym.register(id=game_id, entry_point=entry_point, kwargs=dict(default_kwargs))
    return game_id


def resolve_env_spec(spec: str) -> str:
    """The id to pass to ``gym.make`` for ``spec``.

    :param spec: a registered id; ``"module.path:EnvId"`` (returned unchanged once the module
        is found to register ``EnvId``: ``gym.make`` imports it again in a fresh process); or
        ``"module.path:GameClass"`` / ``"module.path:factory"``, registered as
        ``custom/<GameClass>-v0``, which is returned.
    :raises GameRegistrationError: naming the spec and what to write instead.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise GameRegistrationError(f"env spec must be a non-empty str, got {spec!r}")
    if spec in gym.registry:
        return spec
    if ":" not in spec:
        close = close_matches(spec, gym.registry)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise GameRegistrationError(
            f"unknown env id {spec!r}; {hint}registered mmagent games: "
            f"{', '.join(_mmagent_ids())}; or give 'module.path:EnvId' for a module that "
            "registers EnvId, or 'module.path:GameClass'"
        )
    module_name, _, target = spec.partition(":")
    if not module_name or not target or ":" in target:
        raise GameRegistrationError(
            f"env spec {spec!r} must be 'module.path:EnvId' or 'module.path:GameClass' (one colon)"
        )
    module = _import_module(module_name, spec)
    if target in gym.registry:
        return spec
    game = getattr(module, target, None)
    if game is None:
        registered = sorted(
            env_id
            for env_id, env_spec in gym.registry.items()
            if _entry_point_name(env_spec.entry_point).startswith(f"{module_name}:")
        )
        found = f"; it registers {', '.join(registered)}" if registered else ""
        raise GameRegistrationError(
            f"{module_name} has no {target!r}: neither a class there nor an env id it "
            f"registers{found}"
        )
    if not (isinstance(game, type) or callable(game)):
        raise GameRegistrationError(
            f"{spec} is a {type(game).__name__}, not a game class or factory function"
        )
    return register_game(f"{CUSTOM_NAMESPACE}/{target}-v0", game)


def make_env(spec: str, **kwargs: Any) -> gym.Env:
    """``gym.make`` of ``spec`` after :func:`resolve_env_spec` (keywords go to ``gym.make``)."""
    return gym.make(resolve_env_spec(spec), **kwargs)


def _entry_point(game: GameEntry) -> str | Callable[..., gym.Env]:
    if isinstance(game, str):
        if not _ENTRY_POINT_PATTERN.fullmatch(game):
            raise GameRegistrationError(
                f"entry point {game!r} must be 'module.path:Name', e.g. "
                "'examples.sonar_dig:SonarDigEnv'"
            )
        return game
    if isinstance(game, type):
        if not issubclass(game, gym.Env):
            raise GameRegistrationError(
                f"{game.__module__}.{game.__qualname__} is not a game: subclass "
                "envs.core.MultimodalGame (write state, update, draw, instruction and sounds) "
                "or gymnasium.Env, or register a factory function that returns an env"
            )
        return _importable_name(game) or game
    if callable(game):
        return _importable_name(game) or game
    raise GameRegistrationError(
        f"cannot register {game!r}: give a MultimodalGame or gymnasium.Env subclass, a "
        "'module.path:Name' string, or a factory function returning an env"
    )


def _importable_name(game: Any) -> str | None:
    """``"module:QualName"`` when importing that finds ``game`` itself, else ``None``."""
    module_name = getattr(game, "__module__", None)
    qualified = getattr(game, "__qualname__", "")
    if not module_name or module_name == "__main__" or not qualified or "<" in qualified:
        return None
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualified.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return f"{module_name}:{qualified}" if found is game else None


def _entry_point_name(entry_point: Any) -> str:
    if isinstance(entry_point, str):
        return entry_point
    module_name = getattr(entry_point, "__module__", "?")
    qualified = getattr(entry_point, "__qualname__", type(entry_point).__qualname__)
    return f"{module_name}:{qualified}"


def _import_module(module_name: str, spec: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise GameRegistrationError(
                f"cannot import {module_name!r} for {spec!r} ({error}); run from the folder "
                "that holds it, add that folder to PYTHONPATH, or install it"
            ) from error
        raise


def _mmagent_ids() -> list[str]:
    return sorted(env_id for env_id in gym.registry if env_id.startswith("mmagent/"))
