"""A training callback that records an evaluation episode, with sound, every N steps."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.callbacks import BaseCallback

from mmagent.watch.hud import Hud
from mmagent.watch.policies import ModelPolicy, check_model_fits_env
from mmagent.watch.recorder import VIDEO_FORMATS
from mmagent.watch.rollout import EpisodeRunner, EpisodeSummary
from mmagent.watch.viewer import make_env, record_episodes


class RecordEpisodeCallback(BaseCallback):
    """Every ``every_n_steps`` timesteps, record one episode of the current model to a video.

    Files are named by the timestep at which they were recorded, e.g.
    ``videos/step_000012800.mp4``; each holds the HUD frames (the game, the agent's view, its
    audio, action probabilities, value) and the sound track the agent heard.

    :param env: a game id, or a no-argument factory returning the env to record in (mmagent
        games render their own display frame; other envs need ``render_mode="rgb_array"``).
    :param every_n_steps: record when the timestep count passes each multiple of this.
    :param video_dir: where the videos go (a run's ``videos/``); created when needed.
    :param env_kwargs: the game's constructor keywords (when ``env`` is an id).
    :param deterministic: record the most likely actions rather than samples.
    :param max_steps: cut a recorded episode after this many steps (``None``: the game's limit).
    :param video_format: ``"mp4"``, ``"webm"`` or ``"gif"`` (no sound).
    :param seed: seed of the first recorded episode (later ones continue its stream).
    :param verbose: 1 prints the path of each video written.
    """

    def __init__(
        self,
        env: str | Callable[[], gym.Env],
        every_n_steps: int,
        video_dir: str | os.PathLike[str],
        *,
        env_kwargs: dict[str, Any] | None = None,
        deterministic: bool = True,
        max_steps: int | None = 1000,
        video_format: str = "mp4",
        seed: int | None = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int):
            raise ValueError(f"every_n_steps must be a positive int, got {every_n_steps!r}")
        if every_n_steps <= 0:
            raise ValueError(f"every_n_steps must be a positive int, got {every_n_steps!r}")
        if f".{video_format}" not in VIDEO_FORMATS:
            choices = ", ".join(suffix.lstrip(".") for suffix in VIDEO_FORMATS)
            raise ValueError(f"video_format must be one of {choices}, got {video_format!r}")
        if not isinstance(env, str) and not callable(env):
            raise TypeError(f"env must be a game id or an env factory, got {env!r}")
        if env_kwargs and not isinstance(env, str):
            raise ValueError("env_kwargs apply to a game id; pass them to the factory instead")
        self.env_source = env
        self.env_kwargs = dict(env_kwargs or {})
        self.every_n_steps = every_n_steps
        self.video_dir = Path(video_dir)
        self.deterministic = deterministic
        self.max_steps = max_steps
        self.video_format = video_format
        self.seed = seed
        self.videos: list[Path] = []
        self.summaries: list[EpisodeSummary] = []
        self._env: gym.Env | None = None
        self._runner: EpisodeRunner | None = None
        self._recorded_multiples = 0

    def _init_callback(self) -> None:
        # Resumed runs start past zero: count the multiples already behind them as recorded.
        self._recorded_multiples = self.num_timesteps // self.every_n_steps

    def _on_step(self) -> bool:
        multiples = self.num_timesteps // self.every_n_steps
        if multiples > self._recorded_multiples:
            self._recorded_multiples = multiples
            self.record(self.video_dir / f"step_{self.num_timesteps:09d}.{self.video_format}")
        return True

    def record(self, path: str | os.PathLike[str]) -> Path:
        """Record one episode of the current model to ``path`` now; returns the path."""
        runner = self._ensure_runner()
        self.summaries.extend(record_episodes(runner, path, episodes=1))
        written = Path(path)
        self.videos.append(written)
        if self.verbose >= 1:
            print(f"recorded {written}")
        return written

    def _ensure_runner(self) -> EpisodeRunner:
        if self._runner is None:
            if isinstance(self.env_source, str):
                env = make_env(self.env_source, self.env_kwargs)
                name = self.env_source
            else:
                env = self.env_source()
                name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
            self._env = env
            check_model_fits_env(self.model, env.observation_space, env.action_space, name)
            self._runner = EpisodeRunner(
                env,
                ModelPolicy(self.model, deterministic=self.deterministic),
                hud=Hud(),
                seed=self.seed,
                max_episode_steps=self.max_steps,
            )
        return self._runner

    def _on_training_end(self) -> None:
        if self._env is not None:
            self._env.close()
        self._env = None
        self._runner = None
