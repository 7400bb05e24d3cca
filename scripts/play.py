"""Play a built-in game from the keyboard, with sound.

Usage: ``python scripts/play.py mmagent/Beacon-v0``
"""

from __future__ import annotations

import argparse

from mmagent.play import play

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("game_id", nargs="?", default="mmagent/Beacon-Easy-v0")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    play(args.game_id, seed=args.seed)
