"""Discrete actions for envs that take commands: :class:`CommandActions`.

Text games take strings ("go north", "get 1 oak log"); PPO picks from a ``Discrete`` space. The
wrapper maps action ``i`` to the ``i``-th of a fixed list of commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.plugins.constructor_args import record_constructor_args


class CommandActions(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """``Discrete(len(commands))`` actions; action ``i`` sends ``commands[i]`` to the env.

    :param env: the env to wrap.
    :param commands: the commands, in action-id order (at least one).
    :param names: a label per action for the HUD and keyboard help; by default ``str`` of
        each command.
    """

    def __init__(
        self, env: gym.Env, commands: Sequence[Any], *, names: Sequence[str] | None = None
    ) -> None:
        record_constructor_args(
            self,
            commands=commands if isinstance(commands, (str, bytes)) else tuple(commands),
            names=None if names is None else tuple(names),
        )
        commands, names = self._saved_kwargs["commands"], self._saved_kwargs["names"]
        super().__init__(env)
        if isinstance(commands, (str, bytes)) or len(commands) == 0:
            raise ValueError(f"CommandActions needs a non-empty list of commands, got {commands!r}")
        if names is not None and len(names) != len(commands):
            raise ValueError(
                f"CommandActions: {len(names)} names for {len(commands)} commands; give one "
                "name per command"
            )
        self.commands = tuple(commands)
        self.action_names = tuple(names) if names is not None else tuple(map(str, commands))
        self.action_space = spaces.Discrete(len(self.commands))

    def action(self, action: Any) -> Any:
        """The command of action id ``action``."""
        array = np.asarray(action)
        if array.size != 1 or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"CommandActions: action must be one integer, got {action!r}")
        index = int(array.reshape(()))
        if not 0 <= index < len(self.commands):
            raise ValueError(
                f"CommandActions: action {index} is outside 0..{len(self.commands) - 1}"
            )
        return self.commands[index]
