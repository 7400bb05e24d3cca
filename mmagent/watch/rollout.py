"""Playing a policy in an env one observation at a time, turning each into a HUD frame and sound.

:class:`EpisodeRunner` is shared by the live viewer, headless recording and the training
callback. Each observation the agent receives — the reset observation of an episode and the
one after every step — becomes one :class:`StepView`: a HUD frame showing that observation and
the policy's decision on it, and the audio block the agent heard with it. An episode of ``n``
steps therefore gives ``n + 1`` views (and video frames); the last shows the final observation
with no decision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.plugins.keys import AUDIO_SAMPLE_RATE_KEY
from mmagent.watch.hud import Hud
from mmagent.watch.policies import Policy, PolicyInfo

DEFAULT_FPS = 10
#: The blank display frame of an env with no ``rgb_array`` render mode (height, width, 3).
NO_RENDER_FRAME_SHAPE = (240, 320, 3)


@dataclass(frozen=True)
class StepView:
    """One observation as shown to a person.

    :param frame: the HUD frame, ``(H, W, 3)`` uint8 with even sides.
    :param audio: the ``(channels, samples)`` audio the agent heard with this observation, or
        ``None`` when the env makes no sound.
    :param episode: the episode's number, from 1.
    :param step: steps taken in the episode so far (0 for the reset observation).
    :param total_reward: the episode's return so far.
    :param done: the episode ended with this observation (terminated or truncated).
    :param success: ``info["is_success"]`` once the episode is done, else ``None`` (also when
        the env reports none: ``make_multimodal(..., success=...)`` adds it).
    :param action: the action the policy chose on this observation (``None`` when done).
    :param policy_info: what the policy reported about that decision.
    """

    frame: np.ndarray
    audio: np.ndarray | None
    episode: int
    step: int
    total_reward: float
    done: bool
    success: bool | None
    action: Any
    policy_info: PolicyInfo


@dataclass(frozen=True)
class EpisodeSummary:
    """How one watched episode went.

    :param ended: ``"terminated"``, ``"truncated"``, ``"step limit"`` (the watch's own
        limit), ``"skipped"`` (next episode asked for) or ``"quit"``.
    """

    episode: int
    steps: int
    total_reward: float
    success: bool
    ended: str


@dataclass
class _HudInputs:
    display_frame: np.ndarray
    contents: dict[str, Any] = field(default_factory=dict)


class EpisodeRunner:
    """Steps ``env`` with ``policy`` and renders each observation with the HUD.

    :param env: the env; its frames come from ``display_frame()`` (mmagent games) or from
        ``render()`` (create it with ``render_mode="rgb_array"``).
    :param policy: chooses the actions.
    :param hud: the HUD renderer (a new one by default).
    :param seed: seed of the first episode; later episodes continue its random stream.
    :param max_episode_steps: end each episode after this many steps (``None``: the env's own
        time limit).
    """

    def __init__(
        self,
        env: gym.Env,
        policy: Policy,
        *,
        hud: Hud | None = None,
        seed: int | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be at least 1, got {max_episode_steps}")
        self.env = env
        self.policy = policy
        self.hud = hud or Hud()
        self.max_episode_steps = max_episode_steps
        self._next_seed = seed
        self.game = env.unwrapped
        self.action_names = env_action_names(env)
        self.sample_rate, self.audio_channels, self.samples_per_step = env_audio_format(env)
        self.episode = 0
        self.step_count = 0
        self.total_steps = 0
        self.total_reward = 0.0
        self._observation: Any = None
        self._instruction = ""
        self._pending_action: Any = None
        self._done = True
        self._success: bool | None = None
        self._ended = ""
        self._last_inputs: _HudInputs | None = None

    @property
    def fps(self) -> Fraction:
        """Real-time frame rate: one step's audio lasts exactly one frame."""
        if self.sample_rate and self.samples_per_step:
            return Fraction(self.sample_rate, self.samples_per_step)
        step_seconds = getattr(self.game, "step_seconds", None)
        if step_seconds:
            return Fraction(1 / float(step_seconds)).limit_denominator(1001)
        return Fraction(self.env.metadata.get("render_fps") or DEFAULT_FPS)

    @property
    def episode_over(self) -> bool:
        """The current episode has ended (call :meth:`reset`)."""
        return self._done

    def reset(self) -> StepView:
        """Start the next episode; the view of its first observation."""
        observation, info = self.env.reset(seed=self._next_seed)
        self._next_seed = None
        reset_policy = getattr(self.policy, "reset", None)
        if callable(reset_policy):  # a policy with memory (an LSTM state) forgets the episode
            reset_policy()
        self.episode += 1
        self.step_count = 0
        self.total_reward = 0.0
        self._done = False
        self._success = None
        self._ended = ""
        return self._observe(observation, info)

    def step(self) -> StepView:
        """Take the action chosen on the current observation; the view of the next one."""
        if self._done:
            raise RuntimeError("the episode is over; call reset() first")
        observation, reward, terminated, truncated, info = self.env.step(self._pending_action)
        self.step_count += 1
        self.total_steps += 1
        self.total_reward += float(reward)
        if terminated or truncated:
            self._finish("terminated" if terminated else "truncated", info)
        elif self.max_episode_steps is not None and self.step_count >= self.max_episode_steps:
            self._finish("step limit", info)
        return self._observe(observation, info)

    def end_episode(self, reason: str | None = None) -> EpisodeSummary:
        """Summarise the current episode, ending it early with ``reason`` if it is still on."""
        if not self._done:
            self._finish(reason or "skipped", {})
        return EpisodeSummary(
            episode=self.episode,
            steps=self.step_count,
            total_reward=self.total_reward,
            success=bool(self._success),
            ended=self._ended,
        )

    def redraw(self, note: str = "") -> np.ndarray:
        """The latest view's HUD frame again, with ``note`` added to its status line."""
        if self._last_inputs is None:
            raise RuntimeError("nothing to redraw yet; call reset() first")
        contents = dict(self._last_inputs.contents)
        if note:
            contents["status"] = f"{contents.get('status', '')}  [{note}]"
        return self.hud.render(self._last_inputs.display_frame, **contents)

    # ------------------------------------------------------------------ internals
    def _finish(self, ended: str, info: dict[str, Any]) -> None:
        self._done = True
        self._ended = ended
        reported = info.get("is_success")
        self._success = None if reported is None else bool(reported)

    def _observe(self, observation: Any, info: dict[str, Any]) -> StepView:
        self._observation = observation
        self._instruction = str(info.get("instruction", self._instruction))
        if self._done:
            action, policy_info = None, PolicyInfo()
        else:
            action, policy_info = self.policy.act(observation)
        self._pending_action = action
        audio = self._audio(observation)
        status = f"episode {self.episode} · step {self.step_count} · return {self.total_reward:.2f}"
        if self._done:
            status += " · " + ("success" if self._success else self._ended)
        inputs = _HudInputs(
            display_frame=self._display_frame(),
            contents={
                "instruction": self._instruction,
                "agent_view": observation_image(observation),
                "audio": audio,
                "action_names": self.action_names,
                "action_probs": policy_info.action_probs,
                "action": action,
                "value": policy_info.value,
                "status": status,
            },
        )
        self._last_inputs = inputs
        return StepView(
            frame=self.hud.render(inputs.display_frame, **inputs.contents),
            audio=audio,
            episode=self.episode,
            step=self.step_count,
            total_reward=self.total_reward,
            done=self._done,
            success=self._success,
            action=action,
            policy_info=policy_info,
        )

    def _display_frame(self) -> np.ndarray:
        display_frame = getattr(self.game, "display_frame", None)
        frame = display_frame() if callable(display_frame) else self.env.render()
        if frame is None and "rgb_array" not in self.env.metadata.get("render_modes", ()):
            # an env that cannot draw at all (a text game): the HUD alone shows its text,
            # the policy's choice and the sound, over a blank frame
            return np.zeros(NO_RENDER_FRAME_SHAPE, dtype=np.uint8)
        if not isinstance(frame, np.ndarray) or frame.ndim != 3:
            raise ValueError(
                f"{_env_name(self.env)} gave no RGB frame to show (render() returned "
                f"{type(frame).__name__}); create it with render_mode='rgb_array'"
            )
        return frame

    def _audio(self, observation: Any) -> np.ndarray | None:
        if not self.sample_rate:
            return None
        last_audio = getattr(self.game, "last_audio", None)
        if last_audio is None and isinstance(observation, dict):
            last_audio = observation.get("audio")
        return None if last_audio is None else np.asarray(last_audio, dtype=np.float32).copy()


def _env_name(env: gym.Env) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


def env_action_names(env: gym.Env) -> tuple[str, ...]:
    """One label per action of a Discrete action space (the game's ``action_names`` or ids)."""
    if not isinstance(env.action_space, spaces.Discrete):
        return ()
    names = tuple(getattr(env.unwrapped, "action_names", ()) or ())
    count = int(env.action_space.n)
    return names if len(names) == count else tuple(str(index) for index in range(count))


class UnknownSampleRateWarning(UserWarning):
    """An env has an ``audio`` observation but declares no sample rate, so watching and
    recording it are silent; the message names the fix."""


def env_audio_format(env: gym.Env) -> tuple[int | None, int | None, int | None]:
    """``(sample_rate, channels, samples_per_step)`` of the env's ``audio`` observation, or
    ``None``s when it has none.

    The rate is, in order: ``env.metadata["audio_sample_rate"]`` (read through the wrappers;
    ``make_multimodal(..., sample_rate=...)`` and ``AddAudio`` set it, an env may declare it),
    a ``sample_rate`` attribute of the game (mmagent's games), or of a wrapper. An ``audio``
    observation without any is played and recorded as no sound at all, with an
    :class:`UnknownSampleRateWarning` naming ``make_multimodal(..., sample_rate=...)``.
    """
    space = env.observation_space
    audio_space = space.spaces.get("audio") if isinstance(space, spaces.Dict) else None
    if audio_space is None or len(audio_space.shape) != 2:
        return None, None, None
    sample_rate = env_sample_rate(env)
    if sample_rate is None:
        warnings.warn(
            f"{_env_name(env)} has an 'audio' observation of shape {audio_space.shape} but no "
            "known sample rate, so it is watched and recorded without sound; declare it: "
            "make_multimodal(env, sample_rate=...) (samples per second), or "
            f"metadata[{AUDIO_SAMPLE_RATE_KEY!r}] in the env",
            UnknownSampleRateWarning,
            stacklevel=2,
        )
        return None, None, None
    channels, samples = audio_space.shape
    return sample_rate, int(channels), int(samples)


def env_sample_rate(env: gym.Env) -> int | None:
    """The samples per second of the env's audio, where it says (see :func:`env_audio_format`).

    :raises ValueError: when the declared rate is not a positive whole number.
    """
    sample_rate = env.metadata.get(AUDIO_SAMPLE_RATE_KEY)
    where = f"metadata[{AUDIO_SAMPLE_RATE_KEY!r}]"
    if sample_rate is None:
        sample_rate, where = getattr(env.unwrapped, "sample_rate", None), "sample_rate"
    if sample_rate is None:
        try:
            sample_rate = env.get_wrapper_attr("sample_rate")
        except AttributeError:
            return None
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, (int, float, np.integer, np.floating))
        or sample_rate <= 0
        or sample_rate != int(sample_rate)
    ):
        raise ValueError(
            f"{_env_name(env)} declares {where}={sample_rate!r}; an audio sample rate is a "
            "positive whole number of samples per second"
        )
    return int(sample_rate)


def observation_image(observation: Any) -> np.ndarray | None:
    """The agent's ``image`` observation, if it has one."""
    if isinstance(observation, dict):
        image = observation.get("image")
        if isinstance(image, np.ndarray) and image.ndim == 3 and image.dtype == np.uint8:
            return image
    return None
