"""Watching a policy play: a live window with sound, or a headless recording to a video file.

Live keys: space pauses, right arrow or ``.`` takes one step while paused, ``n`` starts the
next episode, ``m`` toggles the sound, ``q``, Escape or closing the window quits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pygame

import mmagent  # registers the built-in games; GAME_IDS names them in errors
from envs.core.window import HumanWindow
from mmagent.plugins import resolve_env_spec
from mmagent.watch.hud import Hud
from mmagent.watch.loading import load_policy, resolve_env_id
from mmagent.watch.policies import Policy, RandomPolicy
from mmagent.watch.recorder import VideoRecorder
from mmagent.watch.rollout import EpisodeRunner, EpisodeSummary, StepView

PAUSE_KEYS = frozenset({pygame.K_SPACE})
STEP_KEYS = frozenset({pygame.K_RIGHT, pygame.K_PERIOD})
NEXT_EPISODE_KEYS = frozenset({pygame.K_n})
SOUND_KEYS = frozenset({pygame.K_m})
QUIT_KEYS = frozenset({pygame.K_q, pygame.K_ESCAPE})
PAUSED_POLL_MS = 20

PolicySource = Policy | str | os.PathLike[str] | None


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gym.make(env_id)`` rendering to arrays; an unknown id names the registered games."""
    try:
        return gym.make(resolve_env_spec(env_id), render_mode="rgb_array", **(env_kwargs or {}))
    except gym.error.Error as error:
        known = ", ".join(sorted(mmagent.GAME_IDS))
        raise ValueError(
            f"cannot make game {env_id!r} ({error}); registered mmagent games: {known} "
            "(or pass module.path:Id-v0 to import a game's module first)"
        ) from error


def make_policy(
    source: PolicySource, env: gym.Env, *, deterministic: bool = False, seed: int | None = None
) -> Policy:
    """A :class:`Policy` from ``source``: ``None`` → random actions; a path → the model there."""
    if source is None:
        return RandomPolicy(env.action_space, seed=seed)
    if isinstance(source, (str, os.PathLike)):
        return load_policy(source, env, deterministic=deterministic)
    if not callable(getattr(source, "act", None)):
        raise TypeError(
            f"policy must be None (random), a model path or an object with act(observation), "
            f"got {source!r}"
        )
    return source


def watch(
    env: str | gym.Env,
    policy: PolicySource = None,
    *,
    env_kwargs: dict[str, Any] | None = None,
    episodes: int | None = None,
    max_steps: int | None = None,
    deterministic: bool = False,
    fps: float | None = None,
    sound: bool = True,
    record: str | os.PathLike[str] | None = None,
    seed: int | None = None,
) -> list[EpisodeSummary]:
    """Watch ``policy`` play ``env`` live (window and speakers), or record it headless.

    :param env: a registered game id, or an env (created with ``render_mode="rgb_array"``
        unless it is an mmagent game).
    :param policy: ``None`` for random actions, a model ``.zip`` or run directory, or any
        object with ``act(observation) -> (action, PolicyInfo)``.
    :param env_kwargs: the game's constructor keywords (when ``env`` is an id); by default
        those in the run's ``config.yaml`` when it names the same game.
    :param episodes: stop after this many episodes; ``None`` watches until quit live, and
        records one episode.
    :param max_steps: stop after this many env steps in all (the last episode is cut short).
    :param deterministic: take the model's most likely action instead of sampling.
    :param fps: live frames per second; default the game's real-time rate
        (``1 / step_seconds``), at which the sound plays in sync. Recordings are always real time.
    :param sound: play the step audio live (``m`` toggles it).
    :param record: write a video to this path (``.mp4``, ``.webm``, ``.gif``) instead of opening
        a window: headless, no sound device. One video frame per observation — the reset
        observation of each episode plus one per step — each with the audio heard with it.
    :param seed: seed of the first episode (and of the random policy).
    :return: a summary of every episode watched.
    """
    for name, value in (("episodes", episodes), ("max_steps", max_steps), ("fps", fps)):
        if value is not None and (isinstance(value, bool) or value <= 0):
            raise ValueError(f"{name} must be positive, got {value!r}")
    if record is not None and fps is not None:
        raise ValueError(
            f"fps={fps} applies to the live window; recordings are always real time so that the "
            "sound track stays in sync: drop fps (--fps) when recording"
        )
    if isinstance(env, str) and isinstance(policy, (str, os.PathLike)) and env_kwargs is None:
        # A run directory's config.yaml knows the game's kwargs (image size, audio format, ...).
        _, env_kwargs = resolve_env_id(policy, env)
    owns_env = isinstance(env, str)
    game = make_env(env, env_kwargs) if isinstance(env, str) else env
    try:
        chosen = make_policy(policy, game, deterministic=deterministic, seed=seed)
        runner = EpisodeRunner(game, chosen, hud=Hud(), seed=seed)
        if record is not None:
            return record_episodes(runner, record, episodes=episodes or 1, max_steps=max_steps)
        return _watch_live(runner, episodes=episodes, max_steps=max_steps, fps=fps, sound=sound)
    finally:
        if owns_env:
            game.close()


def record_episodes(
    runner: EpisodeRunner,
    path: str | os.PathLike[str],
    *,
    episodes: int = 1,
    max_steps: int | None = None,
) -> list[EpisodeSummary]:
    """Play ``episodes`` episodes with ``runner`` and write them, with sound, to ``path``.

    One frame per observation (reset included), at the game's real-time rate, each with its
    audio block; the file appears atomically when done.
    """
    summaries: list[EpisodeSummary] = []
    with VideoRecorder(
        Path(path), runner.fps, runner.sample_rate, runner.audio_channels
    ) as recorder:
        while len(summaries) < episodes:
            view = runner.reset()
            recorder.add_step(view.frame, view.audio)
            while not view.done:
                if max_steps is not None and runner.total_steps >= max_steps:
                    break
                view = runner.step()
                recorder.add_step(view.frame, view.audio)
            summaries.append(runner.end_episode("step limit"))
            if max_steps is not None and runner.total_steps >= max_steps:
                break
    return summaries


class _LiveControls:
    """The viewer's key state: paused, muted, and the one-shot commands read this frame."""

    def __init__(self, read_events: Callable[[], list[pygame.event.Event]]) -> None:
        self.read_events = read_events
        self.paused = False
        self.muted = False
        self.quit = False
        self.next_episode = False
        self.single_step = False
        self.changed = False

    def poll(self) -> None:
        self.next_episode = self.single_step = self.changed = False
        for event in self.read_events():
            if event.type == pygame.QUIT:
                self.quit = True
            elif event.type == pygame.KEYDOWN:
                if event.key in QUIT_KEYS:
                    self.quit = True
                elif event.key in PAUSE_KEYS:
                    self.paused = not self.paused
                    self.changed = True
                elif event.key in STEP_KEYS:
                    self.single_step = True
                elif event.key in NEXT_EPISODE_KEYS:
                    self.next_episode = True
                elif event.key in SOUND_KEYS:
                    self.muted = not self.muted
                    self.changed = True

    def note(self) -> str:
        return " · ".join(
            text for flag, text in ((self.paused, "paused"), (self.muted, "sound off")) if flag
        )


def _watch_live(
    runner: EpisodeRunner,
    *,
    episodes: int | None,
    max_steps: int | None,
    fps: float | None,
    sound: bool,
) -> list[EpisodeSummary]:
    name = runner.env.spec.id if runner.env.spec is not None else type(runner.game).__name__
    title = f"mmagent watch: {name}"
    has_sound = sound and runner.sample_rate is not None
    window = HumanWindow(title, runner.sample_rate or 16_000, sound=has_sound)
    frame_rate = float(fps) if fps is not None else float(runner.fps)
    controls = _LiveControls(lambda: pygame.event.get())
    summaries: list[EpisodeSummary] = []
    print(
        "watching: space pause · → or . step · n next episode · m sound · q/Escape quit",
        flush=True,
    )
    try:
        view = runner.reset()
        while True:
            _present(window, runner, view, controls, frame_rate)
            controls.poll()
            while controls.paused and not (
                controls.quit or controls.next_episode or controls.single_step
            ):
                if controls.changed:
                    window.show(runner.redraw(controls.note()))
                pygame.time.wait(PAUSED_POLL_MS)
                controls.poll()
            if controls.changed and controls.note():
                window.show(runner.redraw(controls.note()))
            if controls.quit:
                summaries.append(runner.end_episode("quit"))
                break
            step_limit = max_steps is not None and runner.total_steps >= max_steps
            if runner.episode_over or controls.next_episode or step_limit:
                summaries.append(runner.end_episode("step limit" if step_limit else "skipped"))
                _print_summary(summaries[-1])
                if step_limit or (episodes is not None and len(summaries) >= episodes):
                    break
                view = runner.reset()
            else:
                view = runner.step()
    finally:
        window.close()
    return summaries


def _present(
    window: HumanWindow,
    runner: EpisodeRunner,
    view: StepView,
    controls: _LiveControls,
    frame_rate: float,
) -> None:
    # Queue the sound first so it starts as the frame appears; show() then waits out the frame.
    if view.audio is not None and not controls.muted:
        window.play(view.audio)
    frame = runner.redraw(controls.note()) if controls.note() else view.frame
    window.show(frame, fps=frame_rate)


def _print_summary(summary: EpisodeSummary) -> None:
    outcome = "success" if summary.success else summary.ended
    print(
        f"episode {summary.episode}: {outcome} in {summary.steps} steps, "
        f"return {summary.total_reward:.2f}",
        flush=True,
    )
