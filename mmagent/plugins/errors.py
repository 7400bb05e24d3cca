"""The errors of the plug-in layer, and how a user's function is named in them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from envs.core.game import GameDefinitionError


class GameRegistrationError(ValueError):
    """A game id, game class, entry point or env spec cannot be registered or resolved.

    The message names the bad value and the fix.
    """


class PluginOutputError(GameDefinitionError):
    """A function given to a plug-in wrapper (or the wrapped env's ``render()``) returned
    something the wrapper cannot use; the message names the function and the wrapper.

    A subclass of :class:`~envs.core.game.GameDefinitionError`, so one ``except`` catches the
    problems of hand-written games and of wrapped envs alike.
    """


class UnknownWordWarning(UserWarning):
    """A text or instruction held a word outside its vocabulary; it reads as id 1 (unknown).

    Given once per word and wrapper; the message names the word and how to add it.
    """


def callable_name(function: Callable[..., Any]) -> str:
    """A readable name of ``function`` for error messages, e.g. ``"pong_sounds()"``."""
    if isinstance(function, functools.partial):
        return callable_name(function.func)
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if name is None:
        name = type(function).__qualname__
    return f"{name}()"
