"""mmagent: train game-playing agents that see, read and hear.

Importing the package registers the built-in games (``mmagent/<Game>-v<N>``) with Gymnasium.
``mmagent.MultimodalExtractor`` (the SB3 features extractor) is imported on first use, so
``import mmagent`` alone does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import envs as _builtin_games
from envs import GAME_IDS

if TYPE_CHECKING:
    from mmagent.extractors import MultimodalExtractor

__version__ = "0.1.0"

__all__ = ["GAME_IDS", "MultimodalExtractor", "__version__"]

del _builtin_games


def __getattr__(name: str) -> Any:
    if name == "MultimodalExtractor":
        from mmagent.extractors import MultimodalExtractor

        return MultimodalExtractor
    raise AttributeError(f"module 'mmagent' has no attribute {name!r}")
