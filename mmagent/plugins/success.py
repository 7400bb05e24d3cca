"""Success for any env: :class:`ReportSuccess` sets ``info["is_success"]`` at each episode's end.

mmagent's games say whether an episode was won; most other envs do not, and ``mmagent eval``,
the ``rollout/success_rate`` log and the watch HUD read ``info["is_success"]``. The rule is:

* a function ``success(observation, reward, terminated, truncated, info) -> bool | None``,
  called on the last step of every episode (terminated or truncated) with what that step
  returned (the observation as the wrapped env gives it); ``True``/``False`` is written to
  ``info["is_success"]``, ``None`` writes nothing (the episode's outcome is not known);
* or a named rule, one of :data:`SUCCESS_RULES`:

  - ``"terminated_with_positive_reward"``: won when the episode ended by the env's rules
    (``terminated``, not a time-out) with a reward above 0 on its last step.

The rule's answer replaces any ``info["is_success"]`` the env gave itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from mmagent.plugins.constructor_args import record_constructor_args, unwrap_function
from mmagent.plugins.errors import PluginOutputError, callable_name

SuccessFunction = Callable[[Any, float, bool, bool, dict[str, Any]], "bool | None"]
SuccessRule = SuccessFunction | str


def terminated_with_positive_reward(
    observation: Any, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]
) -> bool:
    """Won when the env's rules ended the episode with a positive last reward."""
    return bool(terminated) and float(reward) > 0.0


SUCCESS_RULES: dict[str, SuccessFunction] = {
    "terminated_with_positive_reward": terminated_with_positive_reward,
}
"""The named success rules ``success=`` accepts."""


class ReportSuccess(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Sets ``info["is_success"]`` on the last step of every episode from ``success`` (rules in
    the module docstring).

    :param env: the env to wrap.
    :param success: a function ``success(observation, reward, terminated, truncated, info) ->
        bool | None`` or the name of a rule in :data:`SUCCESS_RULES`.
    :param info_key: the ``info`` entry to set.
    """

    def __init__(self, env: gym.Env, success: SuccessRule, *, info_key: str = "is_success") -> None:
        success = unwrap_function(success)
        record_constructor_args(self, success=success, info_key=info_key)
        super().__init__(env)
        self.rule = resolve_success_rule(success)
        self.source = (
            f"ReportSuccess rule {success!r}"
            if isinstance(success, str)
            else f"ReportSuccess success function {callable_name(success)}"
        )
        self.info_key = info_key

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            outcome = self.rule(observation, float(reward), bool(terminated), bool(truncated), info)
            if outcome is not None:
                if not isinstance(outcome, (bool, np.bool_)):
                    raise PluginOutputError(
                        f"{self.source} returned {outcome!r} ({type(outcome).__name__}); "
                        "return True (won), False (lost) or None (not known)"
                    )
                info = {**info, self.info_key: bool(outcome)}
        return observation, reward, terminated, truncated, info


def resolve_success_rule(success: SuccessRule) -> SuccessFunction:
    """The function of ``success``: itself, or the named rule.

    :raises ValueError: for an unknown rule name; :class:`TypeError` for anything else.
    """
    if isinstance(success, str):
        if success not in SUCCESS_RULES:
            raise ValueError(
                f"success={success!r} is not a known rule; use one of {sorted(SUCCESS_RULES)} or "
                "a function success(observation, reward, terminated, truncated, info) -> "
                "bool | None"
            )
        return SUCCESS_RULES[success]
    if not callable(success):
        raise TypeError(
            f"success must be a function success(observation, reward, terminated, truncated, "
            f"info) -> bool | None or one of {sorted(SUCCESS_RULES)}, got {success!r}"
        )
    return success
