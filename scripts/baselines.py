"""Success rates of the scripted baselines on held-out seeds: the privileged-state oracle (the
game is solvable) and uniformly random actions (the game is not solved by chance).

Usage::

    python scripts/baselines.py [--episodes 500] [--games mmagent/Beacon-v0 ...]
"""

from __future__ import annotations

import argparse

import mmagent
from mmagent.baselines import BASELINE_POLICIES, baseline_success_rate
from mmagent.evaluation import EVAL_SEED_BASE, wilson_interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=500, help="episodes per game and policy")
    parser.add_argument("--games", nargs="*", default=list(mmagent.GAME_IDS), help="game ids")
    parser.add_argument("--seed-base", type=int, default=EVAL_SEED_BASE, help="first seed")
    args = parser.parse_args()
    seeds = f"seeds {args.seed_base}–{args.seed_base + args.episodes - 1}"
    print(f"{args.episodes} episodes per cell, {seeds}; 95% Wilson intervals")
    print(f"{'game':26s} {'oracle':>20s} {'random':>20s}")
    for game_id in args.games:
        cells = []
        for policy in BASELINE_POLICIES:
            rate = baseline_success_rate(game_id, policy, args.episodes, args.seed_base)
            low, high = wilson_interval(round(rate * args.episodes), args.episodes)
            cells.append(f"{rate:6.1%} [{low:.1%}–{high:.1%}]")
        print(f"{game_id:26s} {cells[0]:>20s} {cells[1]:>20s}")


if __name__ == "__main__":
    main()
