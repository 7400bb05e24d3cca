"""The ``mmagent`` command line: ``train``, ``eval``, ``watch``, ``play`` and ``games``.

Library code never parses argv; this module turns arguments into calls of
:func:`mmagent.train.train`, :func:`mmagent.evaluation.evaluate` and
:func:`mmagent.play.play`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from envs import GAME_IDS


def _require_known_id(game_id: str) -> None:
    """Exit with the plug-in resolver's message unless ``game_id`` names a game (a registered
    id, ``module.path:EnvId`` or ``module.path:GameClass``)."""
    from mmagent.plugins import GameRegistrationError, resolve_env_spec

    try:
        resolve_env_spec(game_id)
    except GameRegistrationError as error:
        raise SystemExit(f"mmagent: error: {error}") from None


def _games(_: argparse.Namespace) -> int:
    for game_id in GAME_IDS:
        print(game_id)
    return 0


def _play(args: argparse.Namespace) -> int:
    from mmagent.play import play

    _require_known_id(args.game_id)
    play(args.game_id, seed=args.seed, episodes=args.episodes, record=args.record)
    return 0


def _train(args: argparse.Namespace) -> int:
    from mmagent.config import resolve_config
    from mmagent.train import resume_config, train

    flags = {
        "n_timesteps": args.total_timesteps,
        "n_envs": args.n_envs,
        "seed": args.seed,
        "device": args.device,
        "trainer": args.trainer,
        "progress_bar": False if args.no_progress_bar else None,
    }
    if args.resume:
        if args.env_id or args.config or args.set:
            raise SystemExit(
                "--resume continues a run with its saved config; drop ENV_ID/--config/--set"
            )
        config = resume_config(args.resume, flags)
        run_dir = Path(args.resume)
    else:
        if args.env_id:
            _require_known_id(args.env_id)
        config = resolve_config(args.env_id, args.config, args.set, flags)
        run_dir = Path(args.run_dir) if args.run_dir else None
    print(
        f"training {config.env_id} for {config.n_timesteps} steps on {config.n_envs} envs "
        f"(device {config.device}, seed {config.seed}, trainer {config.trainer})",
        flush=True,
    )
    result = train(config, run_dir, resume=bool(args.resume))
    print(f"run directory: {result.run_dir}")
    print(f"model: {result.model_path}")
    print(f"logs: {result.run_dir / 'logs'} (progress.csv; TensorBoard events if installed)")
    if result.evaluation is not None:
        print(f"final evaluation: {result.evaluation.summary()}")
        print(f"wall time: {result.wall_seconds:.0f} s")
    return 130 if result.interrupted else 0


def _eval(args: argparse.Namespace) -> int:
    from mmagent.checkpoints import load_model, read_run_config, resolve_env_id, resolve_model_path
    from mmagent.evaluation import evaluate

    model_path = resolve_model_path(args.model)
    try:
        env_id, env_kwargs = resolve_env_id(model_path, args.env)
    except ValueError as error:
        raise SystemExit(f"mmagent eval: {error}") from None
    deterministic = args.deterministic
    if deterministic is None:  # as the run was evaluated while training
        deterministic = bool(read_run_config(model_path).get("eval_deterministic", True))
    _require_known_id(env_id)
    model = load_model(model_path, device=args.device)
    report = evaluate(
        model,
        env_id,
        env_kwargs=env_kwargs,
        episodes=args.episodes,
        seed_base=args.seed_base,
        deterministic=deterministic,
        ablate=args.ablate or (),
    )
    print(report.summary())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        print(f"written: {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mmagent`` command."""
    from mmagent.evaluation import EVAL_SEED_BASE

    parser = argparse.ArgumentParser(
        prog="mmagent", description="Train game-playing agents that see, read and hear."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a PPO agent with the multimodal extractor",
        description="Train a PPO agent. With no arguments: the quickest built-in game "
        "(mmagent/CueMatch-v0) on its shipped config.",
    )
    train.add_argument("env_id", nargs="?", help="game id (default mmagent/CueMatch-v0)")
    train.add_argument("--config", help="YAML file of config keys overriding the shipped ones")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one key (YAML value; dots reach into mappings: "
        "policy_kwargs.features_extractor_kwargs.fusion=film)",
    )
    train.add_argument("--total-timesteps", type=int, help="env steps to train in total")
    train.add_argument("--n-envs", type=int, help="parallel envs")
    train.add_argument("--seed", type=int, help="seed of the model and the training envs")
    train.add_argument("--device", choices=["auto", "cpu", "cuda"], help="auto picks the GPU")
    train.add_argument(
        "--trainer",
        choices=["fast", "sb3"],
        help="fast (default): mmagent's FastPPO; sb3: stock stable-baselines3 PPO",
    )
    train.add_argument("--run-dir", help="output directory (default runs/<game>/<timestamp>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("eval", help="evaluate a trained agent on held-out seeds")
    evaluate.add_argument("model", help="a run directory or a model .zip")
    evaluate.add_argument("--episodes", type=int, default=100, help="episodes (default 100)")
    evaluate.add_argument(
        "--ablate",
        nargs="+",
        metavar="MODALITY",
        help="mask these modalities (image, text, audio or observation keys)",
    )
    evaluate.add_argument("--json", help="write the report to this JSON file")
    evaluate.add_argument("--env", help="game id, when the model has no config.yaml beside it")
    evaluate.add_argument(
        "--seed-base",
        type=int,
        default=EVAL_SEED_BASE,
        help=f"episode i uses seed SEED_BASE + i (default {EVAL_SEED_BASE}, unused by training)",
    )
    actions = evaluate.add_mutually_exclusive_group()
    actions.add_argument(
        "--stochastic",
        dest="deterministic",
        action="store_false",
        default=None,
        help="sample actions (default: as the run's eval_deterministic, else greedy)",
    )
    actions.add_argument(
        "--deterministic",
        dest="deterministic",
        action="store_true",
        default=None,
        help="greedy actions",
    )
    evaluate.add_argument("--device", default="cpu", help="torch device (default cpu)")
    evaluate.set_defaults(handler=_eval)

    play = commands.add_parser("play", help="play a game from the keyboard, with sound")
    play.add_argument("game_id", help="a registered id, e.g. mmagent/Beacon-v0")
    play.add_argument("--seed", type=int, default=None, help="seed of the first episode")
    play.add_argument("--episodes", type=int, default=None, help="stop after N episodes")
    play.add_argument(
        "--record", metavar="PATH", help="also write the play to a video (.mp4/.webm/.gif)"
    )
    play.set_defaults(handler=_play)

    from mmagent.watch.cli import add_watch_arguments

    add_watch_arguments(
        commands.add_parser(
            "watch", help="watch an agent play, live with sound, or record it to video"
        )
    )

    games = commands.add_parser("games", help="list the built-in game ids")
    games.set_defaults(handler=_games)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmagent`` console script."""
    from mmagent.checkpoints import CheckpointError
    from mmagent.config import ConfigError

    args = build_parser().parse_args(argv)
    # Like `python -m`: `mmagent train my_games:MyGame-v0` finds my_games in the working directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return int(args.handler(args))
    except (ConfigError, CheckpointError) as error:
        print(f"mmagent {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
