"""Keyboard play: a person plays a game in a window and hears what the agent would hear.

Keys map straight to actions through the game's ``get_keys_to_action()``; nothing fakes
input for the game. Games with a do-nothing action (``noop_action``) run in real time at
their step rate, stepping the no-op when no key is pressed; other games step once per key
press. Escape or closing the window stops.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import pygame

import mmagent  # noqa: F401  (registers the built-in games)
from mmagent.watch.rollout import EpisodeSummary


def play(
    game_id: str,
    *,
    seed: int | None = None,
    episodes: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    record: str | os.PathLike[str] | None = None,
) -> list[EpisodeSummary]:
    """Play ``game_id`` from the keyboard until Escape, a closed window, or ``episodes`` end.

    :param game_id: a registered id such as ``"mmagent/Beacon-v0"``.
    :param seed: seed of the first episode (later episodes continue its random stream).
    :param episodes: stop after this many episodes; ``None`` plays until the window closes.
    :param env_kwargs: keyword arguments for the game's constructor.
    :param record: also write the play, with its sound, to this video (.mp4, .webm or .gif).
    :return: a summary of every finished episode.
    """
    from mmagent.plugins import resolve_env_spec

    env = gym.make(resolve_env_spec(game_id), render_mode="human", **(env_kwargs or {}))
    if record is not None:
        from mmagent.watch.wrapper import RecordVideoWithAudio

        env = RecordVideoWithAudio(env, record)
    game = env.unwrapped
    bindings = {keys[0]: action for keys, action in game.get_keys_to_action().items()}
    if not bindings:
        raise ValueError(f"{game_id} defines no keys in get_keys_to_action(); it cannot be played")
    noop = getattr(game, "noop_action", None)
    _print_controls(game_id, game, bindings)

    summaries: list[EpisodeSummary] = []
    env.reset(seed=seed)
    steps, total_reward = 0, 0.0
    try:
        while episodes is None or len(summaries) < episodes:
            action, quit_requested = _read_keys(bindings)
            if quit_requested:
                break
            if action is None:
                action = noop
            if action is None:
                pygame.time.wait(10)
                continue
            _, reward, terminated, truncated, info = env.step(action)
            steps += 1
            total_reward += float(reward)
            if terminated or truncated:
                summary = EpisodeSummary(
                    episode=len(summaries) + 1,
                    steps=steps,
                    total_reward=total_reward,
                    success=bool(info.get("is_success", False)),
                    ended="terminated" if terminated else "truncated",
                )
                summaries.append(summary)
                print(
                    f"episode {len(summaries)}: {'success' if summary.success else 'failure'} "
                    f"in {steps} steps, return {total_reward:.2f}"
                )
                steps, total_reward = 0, 0.0
                env.reset()
    finally:
        env.close()
    return summaries


def _read_keys(bindings: dict[int, int]) -> tuple[int | None, bool]:
    """The action of the first bound key pressed since the last call, and whether to quit."""
    action = None
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            return None, True
        if event.type == pygame.KEYDOWN:
            if event.key == pygame.K_ESCAPE:
                return None, True
            if action is None and event.key in bindings:
                action = bindings[event.key]
    return action, False


def _print_controls(game_id: str, game: Any, bindings: dict[int, int]) -> None:
    names = getattr(game, "action_names", ())
    print(f"playing {game_id}: Escape quits")
    for key, action in bindings.items():
        label = names[action] if action < len(names) else str(action)
        print(f"  {pygame.key.name(key):>6s}  {label}")
