"""Training runs: build envs and a PPO model with the multimodal extractor from a
:class:`~mmagent.config.TrainConfig`, train with periodic evaluation and checkpoints, resume,
and save a checkpoint on Ctrl-C or SIGTERM.

A run directory holds ``config.yaml`` (fully resolved), ``model.zip`` (the final model),
``best_model.zip`` (best periodic evaluation, on validation seeds), ``checkpoints/``,
``logs/`` (CSV, and TensorBoard when installed; a resumed run keeps each earlier part's CSV as
``progress_until_<steps>.csv``), ``evaluations.csv``, ``timing.json`` (wall time, summed over
resumed parts) and ``eval.json`` (the final evaluation, on held-out seeds).
"""

from __future__ import annotations

import csv
import functools
import importlib
import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv
from torch import nn

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.checkpoints import (
    BEST_MODEL_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_model,
    save_atomically,
    write_atomically,
)
from mmagent.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    load_config,
    parse_schedule,
    require_device,
    save_config,
)
from mmagent.evaluation import VALIDATION_SEED_BASE, EvaluationReport, evaluate
from mmagent.extractors import MultimodalExtractor
from mmagent.fast import FastPPO, SharedMemoryVecEnv
from mmagent.plugins import GameRegistrationError, resolve_env_spec
from mmagent.plugins import make_env as make_game

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU, "silu": nn.SiLU}
TRAINERS: dict[str, type[PPO]] = {"fast": FastPPO, "sb3": PPO}
"""The PPO class behind each ``trainer`` config value."""
TIMING_FILE = "timing.json"
"""The training wall time of a run so far, summed over its resumed parts."""
VEC_ENV_CLASSES: dict[str, type[VecEnv]] = {
    "dummy": DummyVecEnv,
    "subproc": SubprocVecEnv,
    "shared": SharedMemoryVecEnv,
}


@dataclass
class TrainResult:
    """Where a run's outputs are and how its final evaluation went."""

    run_dir: Path
    model_path: Path
    timesteps: int
    interrupted: bool
    wall_seconds: float
    evaluation: EvaluationReport | None


def default_run_dir(env_id: str, root: str | Path = "runs") -> Path:
    """``runs/<game>/<timestamp>``, e.g. ``runs/CueMatch-v0/20261128-193000``."""
    game = env_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(root) / game / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = Path(root) / game / f"{stamp}-{suffix}"
    return run_dir


def _import_object(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ConfigError(f"{path!r} is not 'module.path:Name'")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot import {path!r}: {error}") from error


def build_policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` from the config: the multimodal extractor unless another is named,
    ``"module:Class"`` strings imported, activation names (``relu``, ``tanh``...) resolved."""
    kwargs = dict(config.policy_kwargs)
    extractor = kwargs.get("features_extractor_class", MultimodalExtractor)
    if isinstance(extractor, str):
        extractor = _import_object(extractor)
    kwargs["features_extractor_class"] = extractor
    activation = kwargs.get("activation_fn")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"policy_kwargs.activation_fn {activation!r} is unknown; use one of "
                f"{sorted(ACTIVATIONS)}"
            )
        kwargs["activation_fn"] = ACTIVATIONS[activation]
    return kwargs


def make_env(config: TrainConfig) -> VecEnv:
    """The training vec env: ``n_envs`` games, env ``i`` seeded with ``seed + i``.

    ``config.env_id`` may be a registered id, ``module.path:EnvId`` or ``module.path:GameClass``
    (see :func:`mmagent.plugins.resolve_env_spec`); each env process resolves it again, since a
    ``custom/...`` id exists only in the process that registered it.
    """
    try:
        resolve_env_spec(config.env_id)
    except GameRegistrationError as error:
        raise ConfigError(str(error)) from error
    return make_vec_env(
        functools.partial(make_game, config.env_id),
        n_envs=config.n_envs,
        seed=config.seed,
        env_kwargs=dict(config.env_kwargs),
        vec_env_cls=VEC_ENV_CLASSES[config.vec_env],
    )


def build_model(config: TrainConfig, env: VecEnv) -> PPO:
    """A fresh PPO model for ``config`` on ``env``, of the class ``config.trainer`` names."""
    if config.batch_size > config.n_steps * config.n_envs:
        raise ConfigError(
            f"batch_size {config.batch_size} exceeds the rollout size n_steps × n_envs = "
            f"{config.n_steps * config.n_envs}; lower batch_size or raise n_steps/n_envs"
        )
    options = trainer_options(config)
    require_device(config.device)
    try:
        return _new_model(config, env, options)
    except (ValueError, TypeError, KeyError) as error:
        if not isinstance(error, ConfigError) and config.policy_kwargs:
            # the policy builds its features extractor from policy_kwargs: say where to look
            raise ConfigError(
                "the policy could not be built from policy_kwargs (docs/extractor.md lists "
                f"features_extractor_kwargs): {error}"
            ) from error
        raise


def trainer_options(config: TrainConfig) -> dict[str, Any]:
    """The keyword arguments only the ``fast`` trainer takes, checked against ``trainer``."""
    options = {"bf16_update": config.bf16_update, "compile_acting": config.compile_acting}
    if config.trainer == "fast":
        return options
    chosen = [name for name, value in options.items() if value]
    if chosen:
        raise ConfigError(
            f"{', '.join(chosen)} needs trainer: fast (the config has trainer: "
            f"{config.trainer}); drop it or use the fast trainer"
        )
    return {}


def _new_model(config: TrainConfig, env: VecEnv, options: dict[str, Any]) -> PPO:
    return TRAINERS[config.trainer](
        config.policy,
        env,
        learning_rate=parse_schedule(config.learning_rate, "learning_rate"),
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=parse_schedule(config.clip_range, "clip_range"),
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs=build_policy_kwargs(config),
        seed=config.seed,
        device=config.device,
        verbose=0,
        **options,
    )


class PeriodicEvalCallback(BaseCallback):
    """Every ``eval_freq`` env steps: evaluate on validation seeds, log ``eval/success_rate``,
    append to ``evaluations.csv`` and keep the best model as ``best_model.zip`` (atomically)."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        super().__init__()
        self.config = config
        self.run_dir = run_dir
        self.best_success = -1.0
        self._next_eval = config.eval_freq

    def _on_step(self) -> bool:
        if self.config.eval_freq and self.num_timesteps >= self._next_eval:
            self._next_eval = (
                self.num_timesteps // self.config.eval_freq + 1
            ) * self.config.eval_freq
            report = evaluate(
                self.model,
                self.config.env_id,
                env_kwargs=self.config.env_kwargs,
                episodes=self.config.eval_episodes,
                seed_base=VALIDATION_SEED_BASE,
                deterministic=self.config.eval_deterministic,
            )
            self.logger.record("eval/success_rate", report.success_rate)
            self.logger.record("eval/mean_reward", report.mean_return)
            self.logger.record("eval/mean_ep_length", report.mean_length)
            self._append_row(report)
            if report.success_rate > self.best_success:
                self.best_success = report.success_rate
                save_atomically(self.model, self.run_dir / BEST_MODEL_FILE)
            print(f"[{self.num_timesteps} steps] eval {report.summary()}", flush=True)
        return True

    def _append_row(self, report: EvaluationReport) -> None:
        path = self.run_dir / "evaluations.csv"
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["timesteps", "success_rate", "mean_return", "mean_length"])
            writer.writerow(
                [self.num_timesteps, report.success_rate, report.mean_return, report.mean_length]
            )


class PeriodicCheckpointCallback(BaseCallback):
    """Every ``checkpoint_freq`` env steps, save ``checkpoints/step_<N>.zip`` atomically."""

    def __init__(self, checkpoint_freq: int, run_dir: Path) -> None:
        super().__init__()
        self.checkpoint_freq = checkpoint_freq
        self.run_dir = run_dir
        self._next = checkpoint_freq

    def _on_training_start(self) -> None:
        if self.checkpoint_freq:
            self._next = (self.num_timesteps // self.checkpoint_freq + 1) * self.checkpoint_freq

    def _on_step(self) -> bool:
        if self.checkpoint_freq and self.num_timesteps >= self._next:
            self._next += self.checkpoint_freq
            save_atomically(self.model, checkpoint_path(self.run_dir, self.num_timesteps))
        return True


@contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` while training, so both save a checkpoint."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _logger_formats() -> list[str]:
    formats = ["csv"]
    try:
        importlib.import_module("tensorboard")
    except ImportError:
        pass
    else:
        formats.append("tensorboard")
    return formats


def _callbacks(config: TrainConfig, run_dir: Path) -> CallbackList:
    callbacks: list[BaseCallback] = [
        PeriodicEvalCallback(config, run_dir),
        PeriodicCheckpointCallback(config.checkpoint_freq, run_dir),
    ]
    if config.video_freq:
        from mmagent.watch.callback import RecordEpisodeCallback

        callbacks.append(
            RecordEpisodeCallback(
                config.env_id,
                every_n_steps=config.video_freq,
                video_dir=run_dir / "videos",
                env_kwargs=dict(config.env_kwargs),
            )
        )
    return CallbackList(callbacks)


def train(
    config: TrainConfig, run_dir: str | Path | None = None, *, resume: bool = False
) -> TrainResult:
    """Train (or, with ``resume``, continue training in ``run_dir``) and evaluate.

    On resume the latest checkpoint is loaded with its timestep counter and optimizer
    state, and training continues up to ``config.n_timesteps`` in total.
    """
    started = time.perf_counter()
    earlier_seconds = 0.0
    run_path = Path(run_dir) if run_dir is not None else default_run_dir(config.env_id)
    options = trainer_options(config)
    require_device(config.device)
    env = make_env(config)
    if resume:
        checkpoint = latest_checkpoint(run_path)
        if checkpoint is None:
            raise CheckpointError(
                f"nothing to resume in {run_path}: no {run_path}/checkpoints/step_*.zip"
            )
        model = load_model(
            checkpoint,
            algorithm=TRAINERS[config.trainer],
            env=env,
            device=config.device,
            **options,
        )
        print(f"resuming {run_path} from {checkpoint.name} at {model.num_timesteps} steps")
        earlier_seconds = _recorded_seconds(run_path)
        _keep_earlier_progress_log(run_path, model.num_timesteps)
    else:
        model = build_model(config, env)
    run_path.mkdir(parents=True, exist_ok=True)
    save_config(config, run_path / CONFIG_FILE)
    model.set_logger(configure(str(run_path / "logs"), _logger_formats()))

    remaining = max(0, config.n_timesteps - model.num_timesteps)
    interrupted = False
    try:
        with sigterm_as_keyboard_interrupt():
            if remaining:
                model.learn(
                    total_timesteps=remaining,
                    callback=_callbacks(config, run_path),
                    reset_num_timesteps=not resume,
                    progress_bar=config.progress_bar,
                )
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted at {model.num_timesteps} steps; saving a checkpoint", flush=True)
    finally:
        env.close()
    final_checkpoint = save_atomically(model, checkpoint_path(run_path, model.num_timesteps))
    if interrupted:
        print(f"checkpoint: {final_checkpoint}\nresume with: mmagent train --resume {run_path}")
        seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
        return TrainResult(run_path, final_checkpoint, model.num_timesteps, True, seconds, None)

    model_path = save_atomically(model, run_path / MODEL_FILE)
    report = final_evaluation(model, config)
    seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
    report_data = report.to_dict() | {"timesteps": model.num_timesteps, "wall_seconds": seconds}
    _write_json_atomically(run_path / "eval.json", report_data)
    return TrainResult(run_path, model_path, model.num_timesteps, False, seconds, report)


def final_evaluation(
    model: PPO, config: TrainConfig, *, deterministic: bool | None = None
) -> EvaluationReport:
    """A run's evaluation after training: ``config.final_eval_episodes`` held-out episodes,
    with the config's ``eval_deterministic`` unless ``deterministic`` says otherwise."""
    return evaluate(
        model,
        config.env_id,
        env_kwargs=config.env_kwargs,
        episodes=config.final_eval_episodes,
        deterministic=config.eval_deterministic if deterministic is None else deterministic,
    )


def _recorded_seconds(run_dir: Path) -> float:
    path = run_dir / TIMING_FILE
    if not path.is_file():
        return 0.0
    return float(json.loads(path.read_text(encoding="utf-8"))["wall_seconds"])


def _record_seconds(run_dir: Path, seconds: float) -> float:
    """Write the run's wall time so far (atomically) and return it."""
    _write_json_atomically(run_dir / TIMING_FILE, {"wall_seconds": seconds})
    return seconds


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    encoded = json.dumps(data, indent=2).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(encoded))


def _keep_earlier_progress_log(run_dir: Path, timesteps: int) -> None:
    """SB3's CSV logger starts ``progress.csv`` afresh: move the earlier part's aside first."""
    log = run_dir / "logs" / "progress.csv"
    if log.is_file():
        log.replace(log.with_name(f"progress_until_{timesteps}.csv"))


def resume_config(run_dir: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The saved config of ``run_dir`` with ``overrides`` (e.g. a larger ``n_timesteps``)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory: {CONFIG_FILE} is missing")
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    return apply_overrides(load_config(path), given, "the command line")
