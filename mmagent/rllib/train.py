"""Training on Ray RLlib (``backend: rllib``): RLlib's PPO with mmagent's multimodal module,
in the same kind of run directory as the stable-baselines3 path.

A run directory holds ``config.yaml`` (fully resolved), ``checkpoints/step_<N>/`` (RLlib
algorithm checkpoints, each saved into a temporary folder then renamed, so a kill mid-save
leaves no partial checkpoint), ``model.pt`` (the final module weights), ``best_model.pt`` (the
weights of the best periodic evaluation, on validation seeds, its score in ``best_model.json``),
``logs/progress.csv`` (one row per RLlib iteration; the same figures as TensorBoard events in
``logs/`` when TensorBoard is installed), ``evaluations.csv``, ``timing.json`` and
``eval.json`` (the final evaluation, on held-out seeds).

Resuming (``mmagent train --resume RUN_DIR``) builds the algorithm from the (possibly
overridden) config and restores the newest checkpoint that loads into it, naming each corrupt one
it skips (or the one ``--checkpoint`` names): the learner's weights and optimizer state, the
env-step counter (so a ``lin_`` learning rate continues at its place on the new budget's
schedule), then evaluations and checkpoints go on at the same multiples and ``best_model.pt`` is
replaced only by a better score than ``best_model.json``'s. RLlib checkpoints are pickle files:
resume only run directories you trust.

Ray: a local Ray is started in this process (with one CPU per env runner and one for the
driver, no dashboard) unless ``address`` (or ``RAY_ADDRESS``) names a cluster to join; a Ray
this function did not start is left running. On a cluster, every node that runs an env runner
needs mmagent (and the module of a ``module.path:EnvId`` game) importable.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmagent.checkpoints import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    CheckpointError,
    list_numbered_checkpoints,
)
from mmagent.config import ConfigError, TrainConfig
from mmagent.evaluation import VALIDATION_SEED_BASE, EvaluationReport, evaluate
from mmagent.interrupts import SafeInterrupt
from mmagent.rllib.callbacks import SUCCESS_METRIC
from mmagent.rllib.config import build_ppo_config
from mmagent.rllib.env import register_game_creator
from mmagent.rllib.evaluation import (
    BEST_WEIGHTS_FILE,
    MODEL_WEIGHTS_FILE,
    ModuleAgent,
    build_module,
    save_weights,
)
from mmagent.rllib.module import MultimodalPPOModule

if TYPE_CHECKING:
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.ppo import PPOConfig

    from mmagent.train import TrainResult

CHECKPOINT_PATTERN = re.compile(r"step_(\d+)")
"""The name of an RLlib checkpoint folder in ``checkpoints/`` (its env-step counter)."""
STALE_FOLDER_PATTERN = re.compile(r"\.step_\d+\.(.+\.tmp|old)")
"""Folders a checkpoint save killed midway leaves in ``checkpoints/`` (see
:func:`save_checkpoint`)."""

PROGRESS_COLUMNS: dict[str, tuple[str, ...]] = {
    "timesteps": ("num_env_steps_sampled_lifetime",),
    "iteration": ("training_iteration",),
    "time_elapsed": ("time_total_s",),
    "rollout/ep_rew_mean": ("env_runners", "episode_return_mean"),
    "rollout/ep_len_mean": ("env_runners", "episode_len_mean"),
    "rollout/success_rate": ("env_runners", SUCCESS_METRIC),
    "train/policy_loss": ("learners", "default_policy", "policy_loss"),
    "train/value_loss": ("learners", "default_policy", "vf_loss"),
    "train/entropy": ("learners", "default_policy", "entropy"),
    "train/explained_variance": ("learners", "default_policy", "vf_explained_var"),
    "train/learning_rate": ("learners", "default_policy", "default_optimizer_learning_rate"),
}
"""``logs/progress.csv``'s columns (SB3's names where SB3 logs the same figure) and where each
is in an RLlib result."""


def _lookup(result: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = result
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return ""
        value = value[part]
    return value


def sampled_timesteps(result: Mapping[str, Any]) -> int:
    """The env steps sampled so far, from an RLlib result."""
    value = _lookup(result, ("env_runners", "num_env_steps_sampled_lifetime"))
    if value == "":
        value = _lookup(result, PROGRESS_COLUMNS["timesteps"])
    return int(value or 0)


@contextmanager
def ray_session(config: TrainConfig) -> Iterator[None]:
    """Ray for the run: joined at ``config.address`` (else ``RAY_ADDRESS``), else a local one
    started here and shut down after; a Ray already initialised in this process is used as
    it is."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = config.address or os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ray.init(address=address, include_dashboard=False)
        except ConnectionError as error:
            raise ConfigError(
                f"could not join the Ray cluster at address {address!r} ({error}); check that "
                "`ray start --head` runs there and the port is reachable, and, when the "
                "cluster uses token authentication (ray start --head's default in Ray 2.60), "
                "set RAY_AUTH_MODE=token here with the head's token in ~/.ray/auth_token or "
                "RAY_AUTH_TOKEN (docs/scaling.md)"
            ) from error
    else:
        ray.init(num_cpus=config.num_env_runners + 1, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


def save_checkpoint(algo: Algorithm, path: Path) -> Path:
    """Save ``algo`` to the folder ``path`` atomically: into a temporary folder beside it, then
    renamed (an existing ``path`` is replaced only after the new one is complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        algo.save_to_path(str(temporary))
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            temporary.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            temporary.rename(path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path


def checkpoint_dir(run_dir: Path, timesteps: int) -> Path:
    """Where the RLlib checkpoint at ``timesteps`` lives in ``run_dir``."""
    return run_dir / CHECKPOINT_DIR / f"step_{timesteps:012d}"


def list_rllib_checkpoints(run_dir: str | Path) -> list[Path]:
    """The ``checkpoints/step_<N>/`` folders of ``run_dir``, newest (largest ``N``) first."""
    return list_numbered_checkpoints(run_dir, CHECKPOINT_PATTERN, folders=True)


def remove_stale_checkpoint_folders(run_dir: str | Path) -> list[Path]:
    """Delete the temporary and replaced folders (``.step_<N>.<random>.tmp``,
    ``.step_<N>.old``) that checkpoint saves killed midway left, and return them. Call it only
    when no other process is saving into ``run_dir``."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    stale = [
        path
        for path in sorted(folder.iterdir())
        if path.is_dir() and STALE_FOLDER_PATTERN.fullmatch(path.name)
    ]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def resume_candidates(run_dir: Path, checkpoint: str | Path | None) -> list[Path]:
    """The checkpoint folders to try, in order: the one ``checkpoint`` names (a path, or a
    folder name in the run's ``checkpoints/``), else every one of ``run_dir``, newest first.

    :raises CheckpointError: when there is nothing to resume from.
    """
    if checkpoint is not None:
        chosen = Path(checkpoint)
        in_run = run_dir / CHECKPOINT_DIR / chosen
        path = in_run if not chosen.exists() and in_run.is_dir() else chosen
        if not path.is_dir():
            raise CheckpointError(
                f"--checkpoint {checkpoint}: no RLlib checkpoint folder there (nor in "
                f"{run_dir / CHECKPOINT_DIR}); name one of its step_<N> folders"
            )
        return [path]
    candidates = list_rllib_checkpoints(run_dir)
    if not candidates:
        raise CheckpointError(
            f"nothing to resume in {run_dir}: no {run_dir / CHECKPOINT_DIR}/step_*/ folder"
        )
    return candidates


def restore_algorithm(
    ppo_config: PPOConfig, candidates: list[Path], *, chosen: bool
) -> tuple[Path, Algorithm]:
    """An algorithm built from ``ppo_config`` with the state of the first of ``candidates``
    that restores; each that does not is named and skipped (an error when ``chosen``: the user
    named it). A half-restored algorithm is never reused: it is stopped and built again.

    :raises CheckpointError: when none restores.
    """
    skipped = []
    for candidate in candidates:
        algo = ppo_config.build_algo()
        try:
            if not (candidate / "rllib_checkpoint.json").is_file():
                raise CheckpointError("it has no rllib_checkpoint.json (an incomplete save)")
            algo.restore_from_path(str(candidate.resolve()))
        except Exception as error:
            algo.stop()
            if chosen:
                raise CheckpointError(
                    f"{candidate} is corrupt or not a checkpoint of this run's config "
                    f"({type(error).__name__}: {error}); name another with --checkpoint, or drop "
                    "--checkpoint to resume from the newest that loads"
                ) from error
            print(f"skipping corrupt checkpoint {candidate}: {error}", file=sys.stderr, flush=True)
            skipped.append(candidate.name)
            continue
        return candidate, algo
    raise CheckpointError(
        f"nothing to resume in {candidates[0].parent.parent}: every checkpoint is corrupt "
        f"({', '.join(skipped)}); retrain, or restore a checkpoint and pass it with --checkpoint"
    )


def _set_scheduled_learning_rate(learner: Any, timesteps: int) -> None:
    for optimizer, schedule in learner._optimizer_lr_schedules.items():
        learner._set_optimizer_lr(optimizer, lr=schedule.update(timestep=timesteps))


def continue_learning_rate(algo: Algorithm, timesteps: int) -> None:
    """Set the learner's learning rate to this config's schedule at ``timesteps``.

    RLlib sets the rate an update uses after the update before it, and a checkpoint keeps it in
    the optimizer state: a run resumed with a larger ``n_timesteps`` would otherwise take its
    first update at the old schedule's rate (0 at the end of a ``lin_`` schedule)."""
    algo.learner_group.foreach_learner(_set_scheduled_learning_rate, timesteps=timesteps)


def restored_timesteps(algo: Algorithm) -> int:
    """The env steps sampled so far by a restored algorithm (its lifetime counter)."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    return int(algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0))


def _first_message(error: BaseException) -> str:
    """``Type: message`` of ``error``, or of the first error in its ``__cause__`` chain that has
    a message (RLlib re-raises an env's error as a bare ``RuntimeError()`` from it)."""
    cause: BaseException | None = error
    while cause is not None:
        if str(cause):
            return f"{type(cause).__name__}: {cause}"
        cause = cause.__cause__
    return type(error).__name__


def rllib_resume_command(run_dir: Path) -> str:
    """The shell command that continues the RLlib run in ``run_dir`` (its checkpoints are
    pickles: ``--trust-model``)."""
    from mmagent.train import resume_command

    return f"{resume_command(run_dir)} --trust-model"


def _tensorboard_writer(logs: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` on ``logs``, or None when TensorBoard is not installed
    (the CSV only, as on the SB3 path)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(logs))


class RLlibRun:
    """One RLlib training run: the algorithm, the driver's copy of the module for evaluation,
    and the files of the run directory."""

    def __init__(
        self, config: TrainConfig, run_dir: Path, algo: Algorithm, module: MultimodalPPOModule
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.algo = algo
        self.module = module
        self.timesteps = 0
        self.best_success = -1.0
        self._next_eval = config.eval_freq
        self._next_checkpoint = config.checkpoint_freq
        self.last_checkpoint: Path | None = None
        """The checkpoint this run saved last (a resumed run may find older runs' folders)."""
        self._progress_path = run_dir / "logs" / "progress.csv"
        self._started_at = 0
        self._tensorboard = _tensorboard_writer(self._progress_path.parent)

    def continue_from(self, timesteps: int, best_success: float) -> None:
        """Go on from a restored checkpoint at ``timesteps``: the next evaluation and checkpoint
        at the first multiples of their frequencies after it, ``best_model.pt`` replaced only
        by a success rate above ``best_success``."""
        self.timesteps = timesteps
        self._started_at = timesteps
        self.best_success = best_success
        if self.config.eval_freq:
            self._next_eval = (timesteps // self.config.eval_freq + 1) * self.config.eval_freq
        if self.config.checkpoint_freq:
            self._next_checkpoint = (
                timesteps // self.config.checkpoint_freq + 1
            ) * self.config.checkpoint_freq

    def weights(self) -> dict[str, Any]:
        """The learner's current module weights."""
        from ray.rllib.core import DEFAULT_MODULE_ID

        return dict(self.algo.learner_group.get_weights()[DEFAULT_MODULE_ID])

    def agent(self) -> ModuleAgent:
        """The driver's module with the learner's current weights, ready to act."""
        import torch

        self.module.load_state_dict(
            {key: torch.as_tensor(value) for key, value in self.weights().items()}
        )
        return ModuleAgent(self.module)

    def step(self) -> None:
        """One RLlib iteration (a rollout of ``n_steps × n_envs`` and its update), then the
        progress row and any evaluation or checkpoint that falls due."""
        result = self.algo.train()
        self.timesteps = sampled_timesteps(result)
        self._write_progress(result)
        if self.config.progress_bar:
            row = {name: _lookup(result, path) for name, path in PROGRESS_COLUMNS.items()}
            print(
                f"[{self.timesteps}/{self.config.n_timesteps} steps] return "
                f"{_number(row['rollout/ep_rew_mean'])}, success "
                f"{_number(row['rollout/success_rate'])}",
                flush=True,
            )
        if self.config.eval_freq and self.timesteps >= self._next_eval:
            self._next_eval = (self.timesteps // self.config.eval_freq + 1) * self.config.eval_freq
            self._evaluate_periodically()
        if self.config.checkpoint_freq and self.timesteps >= self._next_checkpoint:
            self._next_checkpoint = (
                self.timesteps // self.config.checkpoint_freq + 1
            ) * self.config.checkpoint_freq
            self.last_checkpoint = save_checkpoint(
                self.algo, checkpoint_dir(self.run_dir, self.timesteps)
            )

    def _write_progress(self, result: Mapping[str, Any]) -> None:
        self._progress_path.parent.mkdir(parents=True, exist_ok=True)
        new = not self._progress_path.exists()
        with self._progress_path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(PROGRESS_COLUMNS)
            row = [_lookup(result, path) for path in PROGRESS_COLUMNS.values()]
            row[0] = self.timesteps
            writer.writerow(row)
        self._write_tensorboard(dict(zip(PROGRESS_COLUMNS, row, strict=True)))

    def _write_tensorboard(self, row: Mapping[str, Any]) -> None:
        """The progress row's figures as TensorBoard scalars at the env-step count."""
        if self._tensorboard is None:
            return
        for name, value in row.items():
            if name != "timesteps" and isinstance(value, int | float) and value == value:
                self._tensorboard.add_scalar(name, value, self.timesteps)
        self._tensorboard.flush()

    def save_emergency_checkpoint(self, error: BaseException) -> None:
        """After ``error`` ended training: a checkpoint as of the last completed iteration
        (unless the periodic one is it), and the resume command; reports, never raises (the
        training error is what propagates)."""
        failed = f"training failed at {self.timesteps} steps ({_first_message(error)})"
        if self.timesteps == self._started_at:  # nothing trained since the start or the resume
            print(f"{failed}, before its first update; no checkpoint saved", file=sys.stderr)
            return
        path = checkpoint_dir(self.run_dir, self.timesteps)
        if self.last_checkpoint != path:
            try:
                self.last_checkpoint = save_checkpoint(self.algo, path)
            except Exception as save_error:  # the training error matters more: report this
                print(
                    f"{failed} and the emergency checkpoint could not be saved: "
                    f"{type(save_error).__name__}: {save_error}",
                    file=sys.stderr,
                    flush=True,
                )
                return
        print(
            f"{failed}; checkpoint as of its last update: {path}\n"
            f"resume with: {rllib_resume_command(self.run_dir)}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        """Close the TensorBoard writer (if any)."""
        if self._tensorboard is not None:
            self._tensorboard.close()

    def _evaluate_periodically(self) -> None:
        from mmagent.train import (
            BEST_SCORE_FILE,
            _write_json_atomically,
            append_evaluation_row,
        )

        report = evaluate(
            self.agent(),  # type: ignore[arg-type]
            self.config.env_id,
            env_kwargs=self.config.env_kwargs,
            episodes=self.config.eval_episodes,
            seed_base=VALIDATION_SEED_BASE,
            deterministic=self.config.eval_deterministic,
        )
        append_evaluation_row(self.run_dir, self.timesteps, report)
        if report.success_rate > self.best_success:
            self.best_success = report.success_rate
            save_weights(self.module.state_dict(), self.run_dir / BEST_WEIGHTS_FILE)
            _write_json_atomically(
                self.run_dir / BEST_SCORE_FILE,
                {"success_rate": report.success_rate, "timesteps": self.timesteps},
            )
        print(f"[{self.timesteps} steps] eval {report.summary()}", flush=True)

    def final_evaluation(self) -> EvaluationReport:
        """``final_eval_episodes`` held-out episodes with the final weights."""
        return evaluate(
            self.agent(),  # type: ignore[arg-type]
            self.config.env_id,
            env_kwargs=self.config.env_kwargs,
            episodes=self.config.final_eval_episodes,
            deterministic=self.config.eval_deterministic,
        )


def _driver_module(config: TrainConfig) -> MultimodalPPOModule:
    """The module on the driver (for evaluation), built before Ray starts, so that
    ``policy_kwargs`` the module refuses are a :class:`ConfigError` rather than an env runner's
    traceback."""
    try:
        return build_module(config)
    except (ValueError, TypeError, KeyError) as error:
        source = "from policy_kwargs" if config.policy_kwargs else "for this env's observations"
        raise ConfigError(
            f"the RLlib module could not be built {source} (docs/extractor.md lists "
            f"features_extractor_kwargs): {error}"
        ) from error


def _note_later_checkpoints(run_dir: Path, timesteps: int, *, chosen: bool) -> None:
    """Say so when a chosen checkpoint leaves later ones in the run (a later ``--resume``
    without ``--checkpoint`` picks the newest)."""
    later = [
        path.name
        for path in list_rllib_checkpoints(run_dir)
        if int(path.name.removeprefix("step_")) > timesteps
    ]
    if chosen and later:
        print(
            f"note: {run_dir / CHECKPOINT_DIR} holds {len(later)} later checkpoint(s) "
            f"({later[0]} the newest); a later --resume without --checkpoint picks the newest, "
            "whichever run wrote it",
            flush=True,
        )


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def train_rllib(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    checkpoint: str | Path | None = None,
) -> TrainResult:
    """Train ``config`` with RLlib's PPO (``config.backend`` is ``rllib``), evaluate, and return
    the same :class:`~mmagent.train.TrainResult` as the stable-baselines3 path (its
    ``model_path`` is ``model.pt``, or the last checkpoint folder when interrupted).

    With ``resume``, training continues in ``run_dir`` from its newest checkpoint that restores
    (or ``checkpoint``: a ``step_<N>`` folder name or path) up to ``config.n_timesteps`` in all
    (see the module docstring).

    Ctrl-C or SIGTERM saves a checkpoint and returns (``interrupted``). Any other exception
    that ends training after at least one iteration (a game raising, an env runner failing)
    first saves a checkpoint as of the last completed iteration and prints the ``--resume``
    command, then propagates.

    :raises ConfigError: for a key RLlib has no meaning for
        (:func:`~mmagent.rllib.config.check_rllib_config`), for ``checkpoint`` without
        ``resume``, or when Ray RLlib is not installed (with the ``pip install`` hint).
    :raises CheckpointError: on resume, when no checkpoint restores.
    """
    from mmagent.train import (
        TrainResult,
        _record_seconds,
        _recorded_seconds,
        _write_json_atomically,
        default_run_dir,
        recorded_best_success,
        write_config,
    )

    started = time.perf_counter()
    earlier_seconds = 0.0
    if checkpoint is not None and not resume:
        raise ConfigError(
            f"checkpoint {str(checkpoint)!r} names where to resume from; resume a run with it "
            "(mmagent train --resume RUN_DIR --checkpoint step_<N>) or drop it"
        )
    ppo_config = build_ppo_config(config)  # checks the config and that Ray is installed
    module = _driver_module(config)
    run_path = Path(run_dir) if run_dir is not None else default_run_dir(config.env_id)
    candidates: list[Path] = []
    if resume:
        for path in remove_stale_checkpoint_folders(run_path):
            print(f"removed {path}, left by a checkpoint save that was killed", flush=True)
        candidates = resume_candidates(run_path, checkpoint)
        earlier_seconds = _recorded_seconds(run_path)
    interrupted = False
    with ray_session(config):
        register_game_creator()
        if resume:
            loaded_from, algo = restore_algorithm(
                ppo_config, candidates, chosen=checkpoint is not None
            )
        else:
            algo = ppo_config.build_algo()
        run: RLlibRun | None = None
        try:
            run = RLlibRun(config, run_path, algo, module)
            if resume:
                run.continue_from(
                    restored_timesteps(algo), recorded_best_success(run_path, BEST_WEIGHTS_FILE)
                )
                continue_learning_rate(algo, run.timesteps)
                print(f"resuming {run_path} from {loaded_from.name} at {run.timesteps} steps")
                _note_later_checkpoints(run_path, run.timesteps, chosen=checkpoint is not None)
            run_path.mkdir(parents=True, exist_ok=True)
            write_config(config, run_path / CONFIG_FILE)
            with SafeInterrupt() as interrupt:
                try:
                    while run.timesteps < config.n_timesteps:
                        with interrupt.updating():  # Ctrl-C or SIGTERM waits for the iteration
                            run.step()
                except KeyboardInterrupt:
                    if interrupt.unsafe:  # a second signal: the iteration was cut short
                        print(
                            f"\nstopped in the middle of an iteration at {run.timesteps} "
                            "steps: nothing saved; resume from the latest checkpoint with: "
                            f"{rllib_resume_command(run_path)}",
                            file=sys.stderr,
                        )
                        raise
                    interrupted = True
                    print(f"\ninterrupted at {run.timesteps} steps; saving a checkpoint")
                except BaseException as error:
                    run.save_emergency_checkpoint(error)
                    raise
            final_checkpoint = checkpoint_dir(run_path, run.timesteps)
            if run.last_checkpoint != final_checkpoint:  # not saved at this step already
                save_checkpoint(algo, final_checkpoint)
            if interrupted:
                seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
                print(
                    f"checkpoint: {final_checkpoint}\nresume with: {rllib_resume_command(run_path)}"
                )
                return TrainResult(run_path, final_checkpoint, run.timesteps, True, seconds, None)
            report = run.final_evaluation()  # loads the final weights into run.module
            model_path = save_weights(run.module.state_dict(), run_path / MODEL_WEIGHTS_FILE)
        finally:
            if run is not None:
                run.close()
            algo.stop()
    seconds = _record_seconds(run_path, earlier_seconds + time.perf_counter() - started)
    report_data = report.to_dict() | {"timesteps": run.timesteps, "wall_seconds": seconds}
    _write_json_atomically(run_path / "eval.json", report_data)
    return TrainResult(run_path, model_path, run.timesteps, False, seconds, report)
