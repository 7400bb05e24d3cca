"""How RLlib's env runners make mmagent games: through mmagent's own registry
(:func:`mmagent.plugins.make_env`), so registered ids, ``module.path:EnvId`` and
``module.path:GameClass`` work on every runner as they do with stable-baselines3."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym

from mmagent.rllib.config import ENV_NAME

HEADLESS = {
    "SDL_VIDEODRIVER": "dummy",
    "SDL_AUDIODRIVER": "dummy",
    "PYGAME_HIDE_SUPPORT_PROMPT": "1",
}
"""Set (unless already set) in each env runner before a game is made: runners have no window
or speakers."""


def make_game(env_config: dict[str, Any]) -> gym.Env:
    """One game from an RLlib ``env_config`` holding ``env_id`` and ``env_kwargs``.

    Runs inside each env runner (a Ray actor, or the driver), so a ``custom/...`` id registered
    by a module is registered again there when :func:`~mmagent.plugins.resolve_env_spec`
    imports that module.
    """
    for name, value in HEADLESS.items():
        os.environ.setdefault(name, value)
    import mmagent  # noqa: F401  (registers the built-in games)
    from mmagent.plugins import make_env

    return make_env(str(env_config["env_id"]), **dict(env_config.get("env_kwargs") or {}))


def register_game_creator() -> None:
    """Register :func:`make_game` with Ray Tune as :data:`~mmagent.rllib.config.ENV_NAME`."""
    from ray.tune.registry import register_env

    register_env(ENV_NAME, make_game)
