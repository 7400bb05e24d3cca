"""The ``mmagent`` command line: ``mmagent games``, ``mmagent play <ID>``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import gymnasium as gym

from envs import GAME_IDS


def _require_known_id(game_id: str) -> None:
    if game_id not in gym.registry:
        known = ", ".join(sorted(GAME_IDS))
        raise SystemExit(f"unknown game id {game_id!r}; registered mmagent games: {known}")


def _games(_: argparse.Namespace) -> int:
    for game_id in GAME_IDS:
        print(game_id)
    return 0


def _play(args: argparse.Namespace) -> int:
    from mmagent.play import play

    _require_known_id(args.game_id)
    play(args.game_id, seed=args.seed, episodes=args.episodes)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mmagent`` command."""
    parser = argparse.ArgumentParser(
        prog="mmagent", description="Train game-playing agents that see, read and hear."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    games = commands.add_parser("games", help="list the built-in game ids")
    games.set_defaults(handler=_games)

    play = commands.add_parser("play", help="play a game from the keyboard, with sound")
    play.add_argument("game_id", help="a registered id, e.g. mmagent/Beacon-v0")
    play.add_argument("--seed", type=int, default=None, help="seed of the first episode")
    play.add_argument("--episodes", type=int, default=None, help="stop after N episodes")
    play.set_defaults(handler=_play)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmagent`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
