"""A wrapper that records every observation of an env — frame and sound — to one video file.

Used for keyboard play (``mmagent play <ID> --record out.mp4``): the person's episodes are
written the same way a watched agent's are, with the HUD (instruction, the agent's view, the
audio strip, the action taken) and exactly the audio the agent would have heard.
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.watch.hud import Hud
from mmagent.watch.recorder import VideoRecorder
from mmagent.watch.rollout import env_action_names, env_audio_format, observation_image


class RecordVideoWithAudio(gym.Wrapper):
    """Writes one video frame (and its audio block) per reset and per step to ``path``.

    The video is finished when the env is closed. Frames come from the game's
    ``display_frame()`` (any render mode, ``"human"`` included) or from ``render()``.

    :param env: the env to record.
    :param path: the video file (``.mp4``, ``.webm``, ``.gif``).
    :param hud: draw the HUD beside the frame (instruction, agent's view, audio, action taken);
        ``False`` records the display frame alone.
    """

    def __init__(self, env: gym.Env, path: str | os.PathLike[str], *, hud: bool = True) -> None:
        super().__init__(env)
        self.sample_rate, self.audio_channels, samples_per_step = env_audio_format(env)
        if self.sample_rate and samples_per_step:
            fps = Fraction(self.sample_rate, samples_per_step)
        else:
            fps = Fraction(env.metadata.get("render_fps") or 10)
        self.recorder = VideoRecorder(path, fps, self.sample_rate, self.audio_channels)
        self._hud = Hud() if hud else None
        self._action_names = env_action_names(env)
        self._instruction = ""
        self._episode = 0
        self._steps = 0
        self._return = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        self._episode += 1
        self._steps, self._return = 0, 0.0
        self._capture(observation, info, action=None)
        return observation, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        self._return += float(reward)
        self._capture(observation, info, action=action)
        return observation, reward, terminated, truncated, info

    def close(self) -> None:
        try:
            if self.recorder.frames_written:
                self.recorder.close()
            else:
                self.recorder.abort()
        finally:
            super().close()

    def _capture(self, observation: Any, info: dict[str, Any], action: Any) -> None:
        game = self.env.unwrapped
        display_frame = getattr(game, "display_frame", None)
        frame = display_frame() if callable(display_frame) else self.env.render()
        if not isinstance(frame, np.ndarray):
            raise ValueError(
                "the env gave no frame to record; create it with render_mode='rgb_array'"
            )
        audio = None
        if self.sample_rate:
            audio = getattr(game, "last_audio", None)
            if audio is None and isinstance(observation, dict):
                audio = observation.get("audio")
        if self._hud is not None:
            self._instruction = str(info.get("instruction", self._instruction))
            discrete = isinstance(self.env.action_space, spaces.Discrete)
            frame = self._hud.render(
                frame,
                instruction=self._instruction,
                agent_view=observation_image(observation),
                audio=audio,
                action_names=self._action_names,
                action_heading="action taken",
                action=action if discrete or action is None else np.asarray(action),
                status=(
                    f"episode {self._episode} · step {self._steps} · return {self._return:.2f}"
                ),
            )
        self.recorder.add_step(frame, audio)
