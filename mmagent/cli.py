"""The ``mmagent`` command line: ``train``, ``eval``, ``watch``, ``play``, ``games``, ``doctor``.

Library code never parses argv; this module turns arguments into calls of
:func:`mmagent.train.train`, :func:`mmagent.evaluation.evaluate` and
:func:`mmagent.play.play`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envs import GAME_IDS

if TYPE_CHECKING:
    from mmagent.evaluation import EvaluationReport

TRUST_MODEL_HELP = (
    "load the model with stable-baselines3's own loader, which unpickles objects stored in "
    "the file and so runs any code a crafted file holds; only for files you trust (by "
    "default only weights and plain data are read)"
)


def _require_known_id(game_id: str) -> None:
    """Exit with the plug-in resolver's message unless ``game_id`` names a game (a registered
    id, ``module.path:EnvId`` or ``module.path:GameClass``)."""
    from mmagent.plugins import GameRegistrationError, resolve_env_spec

    try:
        resolve_env_spec(game_id)
    except GameRegistrationError as error:
        raise SystemExit(f"mmagent: error: {error}") from None


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: a whole number of at least ``minimum`` (argparse then exits 2
    with a one-line message naming the flag)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


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
    from mmagent.config import ConfigError, check_env_kwargs_values, resolve_config
    from mmagent.train import resume_config, train

    flags = {
        "n_timesteps": args.total_timesteps,
        "n_envs": args.n_envs,
        "seed": args.seed,
        "device": args.device,
        "trainer": args.trainer,
        "algo": args.algo,
        "backend": args.backend,
        "address": args.address,
        "num_env_runners": args.num_env_runners,
        "num_gpus_per_learner": args.num_gpus_per_learner,
        "progress_bar": False if args.no_progress_bar else None,
    }
    if args.checkpoint and not args.resume:
        from mmagent.config import ConfigError

        raise ConfigError(
            f"--checkpoint {args.checkpoint} chooses where a resumed run continues from; "
            "add --resume RUN_DIR"
        )
    if args.resume:
        if args.env_id or args.config or args.set:
            raise ConfigError(
                "--resume continues a run with its saved config; drop ENV_ID/--config/--set"
            )
        config = resume_config(args.resume, flags)
        run_dir = Path(args.resume)
    else:
        if args.env_id:
            _require_known_id(args.env_id)
        config = resolve_config(args.env_id, args.config, args.set, flags)
        run_dir = Path(args.run_dir) if args.run_dir else None
    check_env_kwargs_values(config.env_id, config.env_kwargs, "the config")
    print(
        f"training {config.env_id} for {config.n_timesteps} steps on {config.n_envs} envs "
        + (
            f"(device {config.device}, seed {config.seed}, trainer {config.trainer})"
            if config.backend == "sb3"
            else f"(RLlib, {config.num_env_runners} env runners, seed {config.seed})"
        ),
        flush=True,
    )
    if args.trust_model and not args.resume:
        from mmagent.config import ConfigError

        raise ConfigError("--trust-model applies to the checkpoint --resume loads; add --resume")
    result = train(
        config,
        run_dir,
        resume=bool(args.resume),
        checkpoint=args.checkpoint,
        trust_model=args.trust_model,
    )
    print(f"run directory: {result.run_dir}")
    print(f"model: {result.model_path}")
    print(f"logs: {result.run_dir / 'logs'} (progress.csv; TensorBoard events if installed)")
    if result.evaluation is not None:
        print(f"final evaluation: {result.evaluation.summary()}")
        print(f"wall time: {result.wall_seconds:.0f} s")
    return 130 if result.interrupted else 0


def _eval(args: argparse.Namespace) -> int:
    from mmagent.checkpoints import (
        load_model,
        read_run_config,
        resolve_env_id,
        resolve_model_path,
    )
    from mmagent.config import ConfigError
    from mmagent.evaluation import evaluate

    if args.json and not Path(args.json).parent.is_dir():
        raise ConfigError(f"--json {args.json}: its folder does not exist; create it first")
    from mmagent.rllib import is_rllib_run

    if is_rllib_run(args.model):  # trained with --backend rllib: its model.pt
        return _eval_rllib_run(args)
    model_path = resolve_model_path(args.model)
    try:
        env_id, env_kwargs = resolve_env_id(model_path, args.env)
    except ValueError as error:  # no config.yaml and no --env, or a malformed config.yaml
        raise ConfigError(str(error)) from None
    deterministic = args.deterministic
    if deterministic is None:  # as the run was evaluated while training
        deterministic = bool(read_run_config(model_path).get("eval_deterministic", True))
    _require_known_id(env_id)
    model = load_model(
        model_path,
        device=args.device,
        trust_model=args.trust_model,
        env_id=env_id,
        env_kwargs=env_kwargs,
    )
    report = evaluate(
        model,
        env_id,
        env_kwargs=env_kwargs,
        episodes=args.episodes,
        seed_base=args.seed_base,
        deterministic=deterministic,
        ablate=args.ablate or (),
    )
    return _report_evaluation(report, args.json)


def _report_evaluation(report: EvaluationReport, json_path: str | None) -> int:
    """Print ``report``'s summary and, with ``--json``, write it atomically; exit code 0."""
    from mmagent.checkpoints import write_atomically

    print(report.summary())
    if json_path:
        encoded = json.dumps(report.to_dict(), indent=2).encode("utf-8")
        write_atomically(json_path, lambda handle: handle.write(encoded))
        print(f"written: {json_path}")
    return 0


def _eval_rllib_run(args: argparse.Namespace) -> int:
    """``mmagent eval`` of a run directory trained with ``--backend rllib``."""
    from mmagent.config import ConfigError
    from mmagent.rllib import evaluate_rllib_run

    if args.env:
        raise ConfigError(
            f"--env {args.env}: {args.model} is a run directory; its config names "
            "the game: drop --env"
        )
    if args.device != "cpu":
        raise ConfigError(
            f"--device {args.device}: an RLlib run's module is evaluated on the CPU; drop --device"
        )
    report = evaluate_rllib_run(
        args.model,
        episodes=args.episodes,
        seed_base=args.seed_base,
        deterministic=args.deterministic,
        ablate=tuple(args.ablate or ()),
    )
    return _report_evaluation(report, args.json)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mmagent`` command."""
    from mmagent.config import choices_of
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
    train.add_argument("--device", choices=choices_of("device"), help="auto picks the GPU")
    train.add_argument(
        "--trainer",
        choices=choices_of("trainer"),
        help="fast (default): mmagent's FastPPO (with --algo ppo_lstm, RecurrentPPO encoding "
        "each sample once); sb3: stock stable-baselines3 PPO (sb3-contrib's RecurrentPPO)",
    )
    train.add_argument(
        "--algo",
        choices=choices_of("algo"),
        help="ppo (default): a memoryless policy; ppo_lstm: sb3-contrib's RecurrentPPO, an LSTM "
        "policy that remembers earlier steps",
    )
    train.add_argument(
        "--backend",
        choices=choices_of("backend"),
        help="sb3 (default): stable-baselines3 in this process; rllib: Ray RLlib's PPO with "
        'the same extractor (pip install "mmagent[ray]")',
    )
    train.add_argument(
        "--address",
        help="with --backend rllib: the Ray cluster to join (auto, host:port; default: "
        "RAY_ADDRESS, else a local Ray started here)",
    )
    train.add_argument(
        "--num-env-runners",
        type=whole_number(0),
        help="with --backend rllib: Ray actors stepping the envs (0: this process steps them)",
    )
    train.add_argument(
        "--num-gpus-per-learner",
        type=float,
        help="with --backend rllib: GPUs for RLlib's learner (default 0)",
    )
    train.add_argument("--run-dir", help="output directory (default runs/<game>/<timestamp>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="with --resume: continue from this checkpoint (a path, or a file name in "
        "RUN_DIR/checkpoints/; a step_<N> folder for a --backend rllib run) instead of the "
        "newest one that loads",
    )
    train.add_argument(
        "--trust-model",
        action="store_true",
        help="with --resume: " + TRUST_MODEL_HELP,
    )
    train.add_argument("--no-progress-bar", action="store_true", help="hide the progress bar")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("eval", help="evaluate a trained agent on held-out seeds")
    evaluate.add_argument("model", help="a run directory or a model .zip")
    evaluate.add_argument(
        "--episodes", type=whole_number(1), default=100, help="episodes (default 100)"
    )
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
        type=whole_number(0),
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
    evaluate.add_argument(
        "--device", choices=choices_of("device"), default="cpu", help="torch device (default cpu)"
    )
    evaluate.add_argument("--trust-model", action="store_true", help=TRUST_MODEL_HELP)
    evaluate.set_defaults(handler=_eval)

    play = commands.add_parser("play", help="play a game from the keyboard, with sound")
    play.add_argument("game_id", help="a registered id, e.g. mmagent/Beacon-v0")
    play.add_argument(
        "--seed", type=whole_number(0), default=None, help="seed of the first episode"
    )
    play.add_argument(
        "--episodes", type=whole_number(1), default=None, help="stop after N episodes"
    )
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

    from mmagent.doctor import add_doctor_arguments

    add_doctor_arguments(
        commands.add_parser(
            "doctor",
            help="check a new game and estimate what training on it costs",
            description="Check a game before training on it: Gymnasium's and SB3's checkers, "
            "step time, a random policy on held-out seeds, constant frames and silent audio, "
            "instruction words, the observation as the policy sees it, and an estimate of "
            "training speed on this machine. Exit 0 when every check passes, 1 when one fails, "
            "2 for an id that names no game or a bad config.",
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mmagent`` console script.

    A user error (a bad config key or value, flag, game id, model file or run directory) is one
    line on stderr and exit status 2, as argparse's own errors: :class:`ConfigError`,
    :class:`CheckpointError` and :class:`GameRegistrationError` return 2; a handler's
    ``SystemExit("message")`` is printed and re-raised with code 2. Ctrl-C that reaches it
    (``train`` handles its own) returns 130 without a traceback. Anything else is a bug and keeps
    its traceback.
    """
    from mmagent.checkpoints import CheckpointError
    from mmagent.config import ConfigError
    from mmagent.plugins import GameRegistrationError

    args = build_parser().parse_args(argv)
    # Like `python -m`: `mmagent train my_games:MyGame-v0` finds my_games in the working directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return int(args.handler(args))
    except (ConfigError, CheckpointError, GameRegistrationError) as error:
        print(_one_line(f"mmagent {args.command}: error: {error}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C; what was stopped has said so
        return 130
    except SystemExit as error:
        if not isinstance(error.code, str):
            raise
        message = error.code
        if not message.startswith("mmagent"):
            message = f"mmagent {args.command}: error: {message}"
        print(_one_line(message), file=sys.stderr)
        error.code = 2  # str(error) keeps the message
        raise


def _one_line(message: str) -> str:
    """``message`` with its line breaks (a YAML parser's, say) folded into one line."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


if __name__ == "__main__":
    raise SystemExit(main())
