"""mmagent's built-in games, registered with Gymnasium as ``mmagent/<Game>-v<N>``.

Importing this package (``import mmagent`` does it) registers every id in :data:`GAME_IDS`.
"""

from __future__ import annotations

import os

# pygame greets on import; keep library output quiet.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from gymnasium.envs.registration import register, registry

NAMESPACE = "mmagent"

#: id → (entry point, default kwargs) for every built-in game and variant.
GAMES: dict[str, tuple[str, dict[str, object]]] = {
    f"{NAMESPACE}/CueMatch-v0": ("envs.cue_match:CueMatchEnv", {}),
    f"{NAMESPACE}/Beacon-v0": ("envs.beacon:BeaconEnv", {}),
    f"{NAMESPACE}/Beacon-Easy-v0": (
        "envs.beacon:BeaconEnv",
        {
            "arena_size": 5,
            "n_landmarks": 4,
            "n_obstacles": 0,
            "view_radius": 4,
            "max_steps": 50,
        },
    ),
    f"{NAMESPACE}/Recall-v0": ("envs.recall:RecallEnv", {}),
}

GAME_IDS: tuple[str, ...] = tuple(GAMES)


def register_builtin_games() -> None:
    """Register every built-in game id with Gymnasium (idempotent)."""
    for game_id, (entry_point, kwargs) in GAMES.items():
        if game_id not in registry:
            register(id=game_id, entry_point=entry_point, kwargs=dict(kwargs))


register_builtin_games()

__all__ = ["GAMES", "GAME_IDS", "NAMESPACE", "register_builtin_games"]
