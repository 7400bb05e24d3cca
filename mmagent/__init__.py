"""mmagent: train game-playing agents that see, read and hear.

Importing the package registers the built-in games (``mmagent/<Game>-v<N>``) with Gymnasium.
"""

from __future__ import annotations

import envs as _builtin_games
from envs import GAME_IDS

__version__ = "0.1.0"

__all__ = ["GAME_IDS", "__version__"]

del _builtin_games
