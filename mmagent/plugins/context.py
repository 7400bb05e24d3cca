"""What a channel function is told about the step it describes: :class:`StepContext`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StepContext:
    """The reset or step a channel function (instruction or sound) is asked about.

    :param observation: the wrapped env's observation (before the wrapper adds its key).
    :param info: the wrapped env's ``info`` for this reset or step.
    :param np_random: the wrapper's own generator, seeded from ``reset(seed=...)``; draw all
        randomness from it so that seeded episodes repeat exactly.
    :param step: steps taken in the episode so far (0 at reset).
    :param action: the action just taken (``None`` at reset).
    :param reward: the reward of that action (0 at reset).
    :param terminated: the episode ended by the env's rules with this step.
    :param truncated: the episode was cut short with this step.
    """

    observation: Any
    info: Mapping[str, Any]
    np_random: np.random.Generator = field(repr=False)
    step: int = 0
    action: Any = None
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False

    @property
    def is_reset(self) -> bool:
        """Whether this is the first observation of an episode."""
        return self.step == 0
