"""Training runs: build envs and a PPO model with the multimodal extractor from a
:class:`~mmagent.config.TrainConfig`, train with periodic evaluation and checkpoints, resume,
and save a checkpoint on Ctrl-C or SIGTERM, and on any error that ends training (a game
raising, a vec env worker dying or hanging) before the error propagates.

A run directory holds ``config.yaml`` (fully resolved), ``model.zip`` (the final model),
``best_model.zip`` (best periodic evaluation, on validation seeds, its score in
``best_model.json``), ``checkpoints/``,
``logs/`` (CSV, and TensorBoard when installed; a resumed run keeps each earlier part's CSV as
``progress_until_<steps>.csv``), ``evaluations.csv``, ``timing.json`` (wall time, summed over
resumed parts) and ``eval.json`` (the final evaluation, on held-out seeds).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib
import json
import multiprocessing
import shlex
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor
from torch import nn

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.checkpoints import (
    BEST_MODEL_FILE,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    MODEL_FILE,
    CheckpointError,
    CorruptCheckpointError,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_model,
    remove_stale_temporary_files,
    save_atomically,
    write_atomically,
)
from mmagent.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    load_config,
    parse_schedule,
    require_device,
)
from mmagent.evaluation import VALIDATION_SEED_BASE, EvaluationReport, evaluate
from mmagent.extractors import MultimodalExtractor
from mmagent.fast import FastPPO, SharedMemoryVecEnv
from mmagent.interrupts import SafeInterrupt, UpdatePhaseCallback
from mmagent.plugins import GameRegistrationError, resolve_env_spec
from mmagent.plugins import make_env as make_game
from mmagent.recurrent import (
    algorithm_class,
    is_recurrent_config,
    policy_name,
    recurrent_trainer_options,
)

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU, "silu": nn.SiLU}
TRAINERS: dict[str, type[PPO]] = {"fast": FastPPO, "sb3": PPO}
"""The PPO class behind each ``trainer`` config value."""
TIMING_FILE = "timing.json"
"""The training wall time of a run so far, summed over its resumed parts."""
BEST_SCORE_FILE = "best_model.json"
"""The validation success rate (and timesteps) of ``best_model.zip``, so a resumed run replaces
it only with a better evaluation."""
EVALUATIONS_FILE = "evaluations.csv"
"""One row per periodic evaluation: timesteps, success_rate, mean_return, mean_length."""
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
    kwargs["features_extractor_class"] = _extractor_class(kwargs)
    activation = kwargs.get("activation_fn")
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ConfigError(
                f"policy_kwargs.activation_fn {activation!r} is unknown; use one of "
                f"{sorted(ACTIVATIONS)}"
            )
        kwargs["activation_fn"] = ACTIVATIONS[activation]
    return kwargs


def _extractor_class(policy_kwargs: dict[str, Any]) -> Any:
    """The features extractor ``policy_kwargs`` names (a ``"module:Class"`` string imported),
    the multimodal extractor when it names none."""
    extractor = policy_kwargs.get("features_extractor_class", MultimodalExtractor)
    return _import_object(extractor) if isinstance(extractor, str) else extractor


def with_extractor_sample_rate(config: TrainConfig) -> TrainConfig:
    """``config`` with its game's audio sample rate as the multimodal extractor's
    ``sample_rate``, so that the ``logmel`` front end sizes its window and mel filters for the
    sound the game makes (``env_kwargs.sample_rate: 4000`` heard as 4 kHz, not as the
    extractor's 16 kHz default).

    Unchanged when ``features_extractor_kwargs`` names a ``sample_rate``, the policy uses
    another features extractor, or the game declares no rate (see
    :func:`mmagent.watch.rollout.env_sample_rate`). One env is made to ask it.
    """
    policy_kwargs = dict(config.policy_kwargs)
    extractor = _extractor_class(policy_kwargs)
    extractor_kwargs = dict(policy_kwargs.get("features_extractor_kwargs") or {})
    if "sample_rate" in extractor_kwargs or not (
        isinstance(extractor, type) and issubclass(extractor, MultimodalExtractor)
    ):
        return config
    from mmagent.watch.rollout import env_sample_rate

    try:
        game = make_game(config.env_id, **config.env_kwargs)
    except GameRegistrationError as error:
        raise ConfigError(str(error)) from error
    try:
        sample_rate = env_sample_rate(game)
    finally:
        game.close()
    if sample_rate is None:
        return config
    extractor_kwargs["sample_rate"] = sample_rate
    policy_kwargs["features_extractor_kwargs"] = extractor_kwargs
    return dataclasses.replace(config, policy_kwargs=policy_kwargs)


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
    env_fns = [
        functools.partial(_seeded_game, config.env_id, dict(config.env_kwargs), config.seed + rank)
        for rank in range(config.n_envs)
    ]
    vec_env = VEC_ENV_CLASSES[config.vec_env](env_fns, **vec_env_options(config))
    vec_env.seed(config.seed)  # env i resets first with seed + i, as SB3's make_vec_env does
    # One VecMonitor, not a Monitor per env (SB3's make_vec_env): Monitor keeps every episode's
    # return, length and time in lists that grow for the whole run (the soak measured ~3.7 MiB
    # per 100k steps in the workers, docs/reliability.md); VecMonitor keeps none.
    return VecMonitor(vec_env)


def _seeded_game(spec: str, env_kwargs: dict[str, Any], action_seed: int) -> gym.Env:
    """One training env, its action space seeded (for SB3's random actions before learning)."""
    env = make_game(spec, **env_kwargs)
    env.action_space.seed(action_seed)
    return env


def vec_env_options(config: TrainConfig) -> dict[str, Any]:
    """The vec env's constructor keywords: ``step_timeout`` and ``start_method`` for ``shared``,
    ``start_method`` (when set) for ``subproc``."""
    start_method = config.start_method
    if start_method is not None:
        if config.vec_env not in ("shared", "subproc"):
            raise ConfigError(
                f"start_method {start_method!r} applies to worker processes, but vec_env is "
                f"{config.vec_env!r}; drop start_method or use vec_env shared or subproc"
            )
        available = multiprocessing.get_all_start_methods()
        if start_method not in available:
            raise ConfigError(
                f"start_method {start_method!r} is not available on this platform; use one of "
                f"{available} (or null for the default)"
            )
    if config.vec_env == "shared":
        return {"step_timeout": config.step_timeout, "start_method": start_method}
    if config.vec_env == "subproc" and start_method is not None:
        return {"start_method": start_method}
    return {}


def minibatch_size(config: TrainConfig) -> int:
    """The PPO update's minibatch size: ``batch_size``, or the whole rollout
    (``n_steps * n_envs``) when ``batch_size`` exceeds it, as stable-baselines3's minibatch
    loop does (:func:`warn_about_batch_size` says so)."""
    return min(config.batch_size, config.n_steps * config.n_envs)


def warn_about_batch_size(config: TrainConfig) -> None:
    """Print a one-line warning when ``batch_size`` exceeds the rollout (nothing otherwise)."""
    rollout = config.n_steps * config.n_envs
    if config.batch_size > rollout:
        print(
            f"warning: batch_size {config.batch_size} exceeds the rollout n_steps × n_envs = "
            f"{config.n_steps} × {config.n_envs} = {rollout}; each update uses the whole "
            f"rollout ({rollout} samples) as one minibatch",
            file=sys.stderr,
            flush=True,
        )


def build_model(config: TrainConfig, env: VecEnv) -> PPO:
    """A fresh PPO model for ``config`` on ``env``, of the class ``config.trainer`` names.

    A ``batch_size`` larger than the rollout trains on the whole rollout as one minibatch, with
    a warning (:func:`minibatch_size`), as stable-baselines3 would. The extractor hears the
    game's sample rate unless the config names one (:func:`with_extractor_sample_rate`).
    """
    # the policy builds its features extractor from the env's spaces and policy_kwargs: a
    # config error (named fix, no traceback) whether or not the config set policy_kwargs
    source = "from policy_kwargs" if config.policy_kwargs else "for this env's observations"
    config = with_extractor_sample_rate(config)
    warn_about_batch_size(config)
    options = trainer_options(config)
    require_device(config.device)
    try:
        return _new_model(config, env, options)
    except (ValueError, TypeError, KeyError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(
            f"the policy could not be built {source} (docs/extractor.md lists "
            f"features_extractor_kwargs): {error}"
        ) from error


def trainer_options(config: TrainConfig) -> dict[str, Any]:
    """The keyword arguments only the ``fast`` trainer takes, checked against ``trainer``."""
    if is_recurrent_config(config):  # sb3-contrib's RecurrentPPO: FastPPO has no recurrence
        return recurrent_trainer_options(config)
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
    return algorithm_class(config)(
        policy_name(config),
        env,
        learning_rate=parse_schedule(config.learning_rate, "learning_rate"),
        n_steps=config.n_steps,
        batch_size=minibatch_size(config),
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


def append_evaluation_row(run_dir: Path, timesteps: int, report: EvaluationReport) -> None:
    """Add one periodic evaluation to the run's ``evaluations.csv`` (its header first)."""
    path = run_dir / EVALUATIONS_FILE
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["timesteps", "success_rate", "mean_return", "mean_length"])
        writer.writerow([timesteps, report.success_rate, report.mean_return, report.mean_length])


class PeriodicEvalCallback(BaseCallback):
    """Every ``eval_freq`` env steps: evaluate on validation seeds, log ``eval/success_rate``,
    append to ``evaluations.csv`` and keep the best model as ``best_model.zip`` (atomically,
    its score in ``best_model.json``).

    The schedule continues from the model's counter (a run resumed at step N evaluates next at
    the first multiple of ``eval_freq`` after N), and ``best_model.zip`` is replaced only by a
    strictly better success rate than ``best_success`` (:func:`recorded_best_success` on resume).
    """

    def __init__(self, config: TrainConfig, run_dir: Path, best_success: float = -1.0) -> None:
        super().__init__()
        self.config = config
        self.run_dir = run_dir
        self.best_success = best_success
        self._next_eval = config.eval_freq

    def _on_training_start(self) -> None:
        if self.config.eval_freq:
            self._next_eval = (
                self.num_timesteps // self.config.eval_freq + 1
            ) * self.config.eval_freq

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
            append_evaluation_row(self.run_dir, self.num_timesteps, report)
            if report.success_rate > self.best_success:
                self.best_success = report.success_rate
                save_atomically(self.model, self.run_dir / BEST_MODEL_FILE)
                _write_json_atomically(
                    self.run_dir / BEST_SCORE_FILE,
                    {"success_rate": report.success_rate, "timesteps": self.num_timesteps},
                )
            print(f"[{self.num_timesteps} steps] eval {report.summary()}", flush=True)
        return True


def recorded_best_success(run_dir: str | Path, best_file: str = BEST_MODEL_FILE) -> float:
    """The validation success rate of the run's ``best_model.zip`` (``best_file``; an RLlib
    run's is ``best_model.pt``): from ``best_model.json``, else the best row of
    ``evaluations.csv``; ``-1.0`` (any evaluation is better) when there is no ``best_file`` or
    no record of its score."""
    run_dir = Path(run_dir)
    if not (run_dir / best_file).is_file():
        return -1.0
    try:
        recorded = json.loads((run_dir / BEST_SCORE_FILE).read_text(encoding="utf-8"))
        return float(recorded["success_rate"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with (run_dir / EVALUATIONS_FILE).open(newline="", encoding="utf-8") as handle:
            rates = [float(row["success_rate"]) for row in csv.DictReader(handle)]
    except (OSError, ValueError, KeyError, TypeError):
        return -1.0
    return max(rates, default=-1.0)


class TrainedTimestepsCallback(BaseCallback):
    """Records the counter at which the model's weights were last updated: at the start of each
    rollout, every earlier rollout has been collected and trained on. An emergency checkpoint is
    saved with this counter, so a resumed run repeats the interrupted rollout in full."""

    def __init__(self) -> None:
        super().__init__()
        self.trained_timesteps = 0

    def _on_training_start(self) -> None:
        self.trained_timesteps = self.model.num_timesteps

    def _on_rollout_start(self) -> None:
        self.trained_timesteps = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True


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


def _logger_formats() -> list[str]:
    formats = ["csv"]
    try:
        importlib.import_module("tensorboard")
    except ImportError:
        pass
    else:
        formats.append("tensorboard")
    return formats


def _callbacks(
    config: TrainConfig,
    run_dir: Path,
    tracker: TrainedTimestepsCallback,
    best_success: float,
    interrupt: SafeInterrupt,
) -> CallbackList:
    callbacks: list[BaseCallback] = [
        UpdatePhaseCallback(interrupt),
        tracker,
        PeriodicEvalCallback(config, run_dir, best_success),
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
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    checkpoint: str | Path | None = None,
    trust_model: bool = False,
) -> TrainResult:
    """Train (or, with ``resume``, continue training in ``run_dir``) and evaluate.

    On resume the newest checkpoint that loads is used (corrupt ones are skipped, each named),
    or ``checkpoint`` when given (a path, or a file name in the run's ``checkpoints/``); its
    timestep counter and optimizer state continue, training goes on up to
    ``config.n_timesteps`` in total, and the evaluation schedule and best score continue. It is
    loaded without unpickling anything from it unless ``trust_model`` (see
    :func:`mmagent.checkpoints.load_model`).

    Ctrl-C or SIGTERM saves a checkpoint and returns (``interrupted``). Any other exception
    that ends training after at least one rollout was trained on first saves the model as of
    its last update to ``checkpoints/step_<N>.zip``, prints the ``mmagent train --resume``
    command, then propagates unchanged.

    :raises CheckpointError: on resume, when no checkpoint loads.
    :raises ConfigError: for ``checkpoint`` without ``resume``, or a config that cannot train.
    """
    if not resume:  # a resumed run keeps the front end it was trained with (its config.yaml)
        config = with_extractor_sample_rate(config)
    if config.backend == "rllib":  # Ray RLlib's PPO, same run directory (mmagent.rllib)
        from mmagent.rllib import train_rllib

        if resume and not trust_model:  # RLlib restores its checkpoints with pickle
            raise ConfigError(
                f"resuming the RLlib run in {run_dir} restores RLlib checkpoints, which are "
                "pickle files: loading one can run code stored in it. For a run directory you "
                "made or trust, add --trust-model (trust_model=True)"
            )
        return train_rllib(config, run_dir, resume=resume, checkpoint=checkpoint)
    from mmagent.rllib import check_sb3_config

    check_sb3_config(config)
    started = time.perf_counter()
    earlier_seconds = 0.0
    if checkpoint is not None and not resume:
        raise ConfigError(
            f"checkpoint {str(checkpoint)!r} names where to resume from; resume a run with it "
            "(mmagent train --resume RUN_DIR --checkpoint FILE) or drop it"
        )
    run_path = Path(run_dir) if run_dir is not None else default_run_dir(config.env_id)
    options = trainer_options(config)
    require_device(config.device)
    _remove_stale_temporary_files(run_path)
    env = make_env(config)
    try:
        if resume:
            loaded_from, model = _load_checkpoint(
                run_path, config, env, checkpoint, trust_model, options
            )
            print(f"resuming {run_path} from {loaded_from.name} at {model.num_timesteps} steps")
            warn_about_batch_size(config)
            model.batch_size = minibatch_size(config)  # n_envs may differ from the saved run's
            earlier_seconds = _recorded_seconds(run_path)
            _keep_earlier_progress_log(run_path, model.num_timesteps)
        else:
            model = build_model(config, env)
        run_path.mkdir(parents=True, exist_ok=True)
        write_config(config, run_path / CONFIG_FILE)
        model.set_logger(configure(str(run_path / "logs"), _logger_formats()))
    except BaseException:
        _close_quietly(env)
        raise

    start_timesteps = model.num_timesteps
    remaining = max(0, config.n_timesteps - start_timesteps)
    best_success = recorded_best_success(run_path) if resume else -1.0
    tracker = TrainedTimestepsCallback()
    interrupted = False
    failed = True
    try:
        with SafeInterrupt() as interrupt:
            if remaining:
                model.learn(
                    total_timesteps=remaining,
                    callback=_callbacks(config, run_path, tracker, best_success, interrupt),
                    reset_num_timesteps=not resume,
                    progress_bar=config.progress_bar,
                )
        failed = False
    except KeyboardInterrupt:
        if interrupt.unsafe:
            _report_unsaved_stop(run_path, model.num_timesteps)
            raise
        failed = False
        interrupted = True
        print(f"\ninterrupted at {model.num_timesteps} steps; saving a checkpoint", flush=True)
    except BaseException as error:
        if tracker.trained_timesteps > start_timesteps:
            _save_emergency_checkpoint(model, run_path, tracker.trained_timesteps, error)
            _record_seconds_quietly(run_path, earlier_seconds + time.perf_counter() - started)
        else:
            print(
                f"training failed before its first update ({type(error).__name__}); no "
                "checkpoint saved",
                file=sys.stderr,
                flush=True,
            )
        raise
    finally:
        if failed:
            _close_quietly(env)
        else:
            env.close()
    final_checkpoint = save_atomically(model, checkpoint_path(run_path, model.num_timesteps))
    if interrupted:
        print(f"checkpoint: {final_checkpoint}\nresume with: {resume_command(run_path)}")
        seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
        return TrainResult(run_path, final_checkpoint, model.num_timesteps, True, seconds, None)

    model_path = save_atomically(model, run_path / MODEL_FILE)
    report = final_evaluation(model, config)
    seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
    report_data = report.to_dict() | {"timesteps": model.num_timesteps, "wall_seconds": seconds}
    _write_json_atomically(run_path / "eval.json", report_data)
    return TrainResult(run_path, model_path, model.num_timesteps, False, seconds, report)


def _report_unsaved_stop(run_dir: Path, timesteps: int) -> None:
    latest = latest_checkpoint(run_dir)
    print(
        f"\nstopped in the middle of a model update at {timesteps} steps: nothing saved (its "
        "weights were half updated); "
        + (
            f"the latest checkpoint is {latest}, resume with: {resume_command(run_dir)}"
            if latest is not None
            else "no checkpoint had been saved yet"
        ),
        file=sys.stderr,
        flush=True,
    )


def resume_command(run_dir: str | Path) -> str:
    """The shell command that continues the run in ``run_dir``."""
    return f"mmagent train --resume {shlex.quote(str(run_dir))}"


def write_config(config: TrainConfig, path: str | Path) -> Path:
    """Write ``config`` fully resolved as YAML, atomically: a kill mid-write leaves the old file."""
    encoded = yaml.safe_dump(config_to_dict(config), sort_keys=False).encode("utf-8")
    return write_atomically(path, lambda handle: handle.write(encoded))


def _remove_stale_temporary_files(run_dir: Path) -> None:
    for path in remove_stale_temporary_files(run_dir):
        print(f"removed {path}, left by a save that was killed mid-write", flush=True)


def _load_checkpoint(
    run_dir: Path,
    config: TrainConfig,
    env: VecEnv,
    checkpoint: str | Path | None,
    trust_model: bool,
    options: dict[str, Any],
) -> tuple[Path, PPO]:
    """The checkpoint to resume from and its model: ``checkpoint`` when given, else the newest
    in ``run_dir`` that loads, naming each corrupt one it skips."""
    if checkpoint is not None:
        chosen = Path(checkpoint)
        in_run = run_dir / CHECKPOINT_DIR / chosen
        candidates = [in_run if not chosen.exists() and in_run.is_file() else chosen]
    else:
        candidates = list_checkpoints(run_dir)
        if not candidates:
            raise CheckpointError(
                f"nothing to resume in {run_dir}: no {run_dir / CHECKPOINT_DIR}/step_*.zip"
            )
    skipped = []
    for candidate in candidates:
        try:
            model = load_model(
                candidate,
                algorithm=algorithm_class(config),
                env=env,
                device=config.device,
                trust_model=trust_model,
                **options,
            )
        except CorruptCheckpointError as error:
            if checkpoint is not None:
                raise
            reason = error.__cause__ or error
            print(f"skipping corrupt checkpoint {candidate}: {reason}", file=sys.stderr)
            skipped.append(candidate.name)
            continue
        newer = [
            path.name
            for path in list_checkpoints(run_dir)
            if int(path.stem.removeprefix("step_")) > model.num_timesteps
        ]
        if checkpoint is not None and newer:
            print(
                f"note: {run_dir / CHECKPOINT_DIR} holds {len(newer)} later checkpoint(s) "
                f"({newer[0]} the newest); a later --resume without --checkpoint picks the "
                "newest, whichever run wrote it",
                flush=True,
            )
        return candidate, model
    raise CheckpointError(
        f"nothing to resume in {run_dir}: every checkpoint is corrupt ({', '.join(skipped)}); "
        "retrain, or restore a checkpoint and pass it with --checkpoint"
    )


def _save_emergency_checkpoint(
    model: PPO, run_dir: Path, trained_timesteps: int, error: BaseException
) -> None:
    """Save ``model`` with the counter of its last update; report, never raise (the training
    error is what propagates)."""
    reached = model.num_timesteps
    model.num_timesteps = trained_timesteps
    try:
        path = save_atomically(model, checkpoint_path(run_dir, trained_timesteps))
    except Exception as save_error:  # the training error matters more: report this one
        print(
            f"training failed at {reached} steps ({type(error).__name__}) and the emergency "
            f"checkpoint could not be saved: {type(save_error).__name__}: {save_error}",
            file=sys.stderr,
            flush=True,
        )
        return
    finally:
        model.num_timesteps = reached
    print(
        f"training failed at {reached} steps ({type(error).__name__}); saved the model as of "
        f"its last update, {trained_timesteps} steps: {path}\n"
        f"resume with: {resume_command(run_dir)}",
        file=sys.stderr,
        flush=True,
    )


def _close_quietly(env: VecEnv) -> None:
    """Close ``env`` after a failure without letting a second error (a dead worker's pipe)
    hide the first."""
    try:
        env.close()
    except Exception as error:
        print(f"(closing the envs also failed: {type(error).__name__}: {error})", file=sys.stderr)


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


def _record_seconds_quietly(run_dir: Path, seconds: float) -> None:
    with suppress(Exception):  # a training failure is already propagating
        _record_seconds(run_dir, seconds)


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
    saved = load_config(path)
    if given.get("algo", saved.algo) != saved.algo:
        raise ConfigError(
            f"{run_dir} was trained with algo {saved.algo}; algo {given['algo']} has another "
            f"policy (with or without an LSTM), so it cannot continue that run: drop --algo, or "
            f"start a new run with mmagent train {saved.env_id} --algo {given['algo']}"
        )
    return apply_overrides(saved, given, "the command line")
