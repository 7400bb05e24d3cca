"""The ``mmagent watch`` command: its arguments and its handler.

``mmagent watch <RUN_DIR|MODEL.zip> [--env ID] [--episodes N] [--deterministic] [--fps F]
[--no-sound] [--record out.mp4] [--trust-model]``, or ``mmagent watch --policy random --env ID``.
"""

from __future__ import annotations

import argparse
import sys

from mmagent.watch.loading import resolve_env_id
from mmagent.watch.recorder import supported_suffixes


def add_watch_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``mmagent watch``'s arguments to ``parser`` and set its handler to :func:`run_watch`."""
    from mmagent.cli import whole_number

    parser.add_argument(
        "model",
        nargs="?",
        metavar="RUN_DIR|MODEL.zip",
        help="a training run directory (its model.zip) or a model .zip; omit with --policy random",
    )
    parser.add_argument(
        "--env",
        metavar="ID",
        help="game id; default: the env_id in the run's config.yaml (required with random)",
    )
    parser.add_argument(
        "--policy",
        choices=("model", "random"),
        default="model",
        help="act with the model (default) or with random actions (no model needed)",
    )
    parser.add_argument(
        "--episodes", type=whole_number(1), metavar="N", help="stop after N episodes"
    )
    parser.add_argument(
        "--max-steps", type=whole_number(1), metavar="N", help="stop after N env steps in all"
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="take the most likely action instead of sampling",
    )
    parser.add_argument(
        "--fps",
        type=float,
        metavar="F",
        help="live frames per second (default: the game's real-time rate; sound stays in sync "
        "only at that rate)",
    )
    parser.add_argument("--no-sound", action="store_true", help="do not play the game's audio")
    parser.add_argument(
        "--record",
        metavar="PATH",
        help="write a video instead of opening a window (headless): "
        f"{', '.join(supported_suffixes())} (gif has no sound); one episode unless --episodes",
    )
    parser.add_argument("--seed", type=whole_number(0), help="seed of the first episode")
    parser.add_argument(
        "--trust-model",
        action="store_true",
        help="load the model with stable-baselines3's own loader, which unpickles objects "
        "stored in the file and so runs any code a crafted file holds; only for files you "
        "trust (by default only weights and plain data are read)",
    )
    parser.set_defaults(handler=run_watch)
    return parser


def run_watch(args: argparse.Namespace) -> int:
    """Run ``mmagent watch`` from parsed arguments; returns the exit status (2 on bad input)."""
    from mmagent.checkpoints import CheckpointError
    from mmagent.watch.loading import load_policy
    from mmagent.watch.viewer import make_env, watch

    try:
        if args.policy == "random":
            if args.model is not None:
                raise ValueError(
                    f"--policy random takes no model, got {args.model!r}; drop the path or "
                    "drop --policy random"
                )
            if args.env is None:
                raise ValueError("--policy random needs the game: add --env ID")
            env_id, env_kwargs = args.env, {}
            source = None
        else:
            if args.model is None:
                raise ValueError(
                    "give a run directory or a model .zip to watch, or --policy random --env ID"
                )
            env_id, env_kwargs = resolve_env_id(args.model, args.env)
            game = make_env(env_id, env_kwargs)  # the model takes (and is checked on) its spaces
            try:
                source = load_policy(
                    args.model,
                    game,
                    deterministic=args.deterministic,
                    env_id=env_id,
                    trust_model=args.trust_model,
                )
            finally:
                game.close()
        summaries = watch(
            env_id,
            source,
            env_kwargs=env_kwargs,
            episodes=args.episodes,
            max_steps=args.max_steps,
            deterministic=args.deterministic,
            fps=args.fps,
            sound=not args.no_sound,
            record=args.record,
            seed=args.seed,
        )
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as error:
        print(f"mmagent watch: error: {error}", file=sys.stderr)
        return 2
    if args.record is not None:
        steps = sum(summary.steps for summary in summaries)
        print(f"recorded {len(summaries)} episode(s), {steps} steps, to {args.record}")
    return 0
