"""Train a fused image + text + audio PPO agent on an mmagent game: a plain script to copy and edit.

``mmagent train`` does the same with YAML configs, run directories, checkpoints and resume; this
script keeps every step in view instead. Usage::

    python scripts/train.py                                  # CueMatch, 100k steps
    python scripts/train.py --env-id mmagent/Beacon-Easy-v0 --total-timesteps 500000
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields

from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent import MultimodalExtractor
from mmagent.evaluation import evaluate
from mmagent.fast import FastPPO


@dataclass
class Args:
    """Every setting of the run; each becomes a ``--flag`` whose help is its ``help`` text."""

    env_id: str = field(default="mmagent/CueMatch-v0", metadata={"help": "the game to train on"})
    total_timesteps: int = field(
        default=100_000, metadata={"help": "environment steps to train for, all envs together"}
    )
    n_envs: int = field(default=8, metadata={"help": "games stepped side by side"})
    seed: int = field(
        default=0,
        metadata={
            "help": "seed of the model and of the training envs (env i starts from seed + i)"
        },
    )
    device: str = field(default="auto", metadata={"help": "auto (GPU when present), cpu or cuda"})
    fusion: str = field(
        default="concat",
        metadata={"help": "how modality features are fused: concat, sum, gated, film or attention"},
    )
    audio_encoder: str = field(
        default="logmel",
        metadata={"help": "conv1d (raw waveform) or logmel (log-mel spectrogram + 2D CNN)"},
    )
    trainer: str = field(
        default="fast",
        metadata={"help": "fast (mmagent's FastPPO, rollout on the device) or sb3 (stock PPO)"},
    )
    learning_rate: float = field(default=5e-4, metadata={"help": "Adam step size"})
    n_steps: int = field(default=64, metadata={"help": "steps per env per rollout"})
    batch_size: int = field(default=256, metadata={"help": "PPO minibatch size"})
    n_epochs: int = field(default=4, metadata={"help": "passes over each rollout"})
    gamma: float = field(default=0.95, metadata={"help": "discount factor"})
    eval_episodes: int = field(
        default=100, metadata={"help": "held-out episodes evaluated after training"}
    )
    save_path: str = field(
        default="cue_match_agent.zip", metadata={"help": "where the trained model is saved"}
    )


def parse_args() -> Args:
    """Read :class:`Args` from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for item in fields(Args):
        parser.add_argument(
            f"--{item.name.replace('_', '-')}",
            type=type(item.default),
            default=item.default,
            help=item.metadata["help"],
        )
    return Args(**vars(parser.parse_args()))


def main() -> None:
    args = parse_args()
    # 1. Vectorised games: n_envs copies, env i seeded with seed + i.
    env = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    # 2. PPO whose features extractor fuses the image, text and audio encoders. FastPPO is the
    #    same algorithm with the rollout kept on the training device.
    if args.trainer not in ("fast", "sb3"):
        raise SystemExit(f"--trainer {args.trainer!r} is unknown; use fast or sb3")
    algorithm = FastPPO if args.trainer == "fast" else PPO
    model = algorithm(
        "MultiInputPolicy",
        env,
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        ent_coef=0.01,
        policy_kwargs=dict(
            net_arch=[64],
            features_extractor_class=MultimodalExtractor,
            features_extractor_kwargs=dict(
                fusion=args.fusion, encoders={"audio": args.audio_encoder}
            ),
        ),
        seed=args.seed,
        device=args.device,
    )
    # 3. Train, logging rollout/success_rate from info["is_success"].
    model.learn(total_timesteps=args.total_timesteps, progress_bar=True)
    model.save(args.save_path)
    env.close()
    # 4. Evaluate on seeds the training envs never used.
    report = evaluate(model, args.env_id, episodes=args.eval_episodes)
    print(report.summary())
    print(f"model saved to {args.save_path}")


if __name__ == "__main__":
    main()
