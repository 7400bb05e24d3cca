"""How the plug-in wrappers record their constructor arguments, so that an env made with
``gym.make`` can be made again from its spec (``env.spec.make()``, which Gymnasium's
``check_env`` does).

Every wrapper :func:`~mmagent.plugins.make_multimodal` stacks inherits
:class:`gymnasium.utils.RecordConstructorArgs` and calls :func:`record_constructor_args` first
thing in its ``__init__`` with every argument but ``env``. Gymnasium then:

* deep-copies the recorded arguments into ``env.spec`` and, for ``env.spec.make()``, calls the
  wrapper again with them on a newly made env;
* for an env registered with a factory (``register_game(..., make_my_env)``), makes the env with
  the factory and compares the wrappers it made with the ones recorded in the spec,
  argument by argument, with ``==``.

Functions are therefore recorded inside a :class:`RecordedFunction`, which is not copied (a
bound method's object or a ``functools.partial``'s arguments are not duplicated) and compares
equal to another recording of the same code: a factory that makes a new ``lambda`` or
``partial`` on every call still makes "the same" wrapper. The wrapper takes the function back
out with :func:`unwrap_function`. Other arguments must be plain data that compare by value
(strings, numbers, tuples, ``None``): record a vocabulary as its words, an iterable as a tuple.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym


class RecordedFunction:
    """A function argument as kept in ``env.spec``: callable, never copied, and equal to another
    recording of the same code (same module, qualified name and code object; for a
    ``functools.partial`` the same underlying function and argument names; for a callable
    object the same class).

    :param function: the function (any callable).
    """

    __slots__ = ("function",)

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> RecordedFunction:
        return self

    def __copy__(self) -> RecordedFunction:
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordedFunction):
            return NotImplemented
        return _identity_of(self.function) == _identity_of(other.function)

    def __hash__(self) -> int:
        return hash(_identity_of(self.function))

    def __repr__(self) -> str:
        return f"RecordedFunction({self.function!r})"


def unwrap_function(value: Any) -> Any:
    """``value`` itself, or the function a :class:`RecordedFunction` holds."""
    return value.function if isinstance(value, RecordedFunction) else value


def record_constructor_args(wrapper: gym.utils.RecordConstructorArgs, **kwargs: Any) -> None:
    """Record ``kwargs`` (every constructor argument but ``env``) on ``wrapper`` for
    ``env.spec``; callables are kept as :class:`RecordedFunction`."""
    recorded = {
        name: (
            value
            if value is None or isinstance(value, (type, RecordedFunction)) or not callable(value)
            else RecordedFunction(value)
        )
        for name, value in kwargs.items()
    }
    gym.utils.RecordConstructorArgs.__init__(wrapper, _disable_deepcopy=True, **recorded)


def _identity_of(function: Callable[..., Any]) -> tuple[Any, ...]:
    """What makes two recordings of a function "the same" for the spec comparison."""
    if isinstance(function, functools.partial):
        return ("partial", _identity_of(function.func), len(function.args), *function.keywords)
    underlying = getattr(function, "__func__", function)  # a bound method's function
    code = getattr(underlying, "__code__", None)
    if code is None:  # a callable object: its class
        return (type(function).__module__, type(function).__qualname__, "object")
    return (
        getattr(underlying, "__module__", None),
        getattr(underlying, "__qualname__", None),
        code,
    )
