"""The base every mmagent game builds on: a Gymnasium env that sees, reads and hears.

A game subclasses :class:`MultimodalGame` and writes only its own parts:

* **rules and state** — :meth:`~MultimodalGame.new_episode` (set up from ``self.np_random``)
  and :meth:`~MultimodalGame.update` (apply one action, say what happened);
* **instruction** — :meth:`~MultimodalGame.instructions` (every sentence the game can say,
  which fixes the vocabulary) and :meth:`~MultimodalGame.instruction` (the current one);
* **sounds** — :meth:`~MultimodalGame.sounds` (what was heard this step, as
  :class:`~envs.core.audio.SoundEvent`) and :meth:`~MultimodalGame.listener`;
* **drawing** — :meth:`~MultimodalGame.draw_observation` (the agent's view) and
  :meth:`~MultimodalGame.draw_display` (the larger frame a person watches).

The base turns those into a complete env: observation and action spaces, token ids, mixed
and spatialised audio, seeding, a time limit, ``info["is_success"]`` and ``info["ending"]``
at the end of every episode, ``rgb_array`` and ``human`` rendering (a window with the same
sound the agent hears).

A hook that returns something the base cannot use is a :class:`GameDefinitionError` naming the
hook and the fix (a drawing hook that returns a frame, a sound starting past the step, NaN or
infinite samples, an instruction longer than the token limit, ...); a view that stays one colour
from the start is a :class:`BlankFrameWarning`, given once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
import pygame
from gymnasium import spaces

from envs.core.audio import AudioMixer, Listener, SoundEvent
from envs.core.text import InstructionTooLongError, Vocabulary
from envs.core.window import HumanWindow

ObsDict = dict[str, np.ndarray]

#: ``info["ending"]`` of an episode cut off by the time limit.
TIME_OUT_ENDING = "time-out"


def default_ending(terminated: bool, success: bool) -> str:
    """``info["ending"]`` of an episode whose game names none: ``"success"`` or ``"failure"``
    when it was terminated, :data:`TIME_OUT_ENDING` when it was cut off."""
    if not terminated:
        return TIME_OUT_ENDING
    return "success" if success else "failure"


CAPTION_HEIGHT_FRACTION = 0.09
CAPTION_BACKGROUND = (24, 24, 28)
CAPTION_COLOUR = (235, 235, 235)


@dataclass(frozen=True)
class StepOutcome:
    """What one call of :meth:`MultimodalGame.update` decided.

    :param reward: the step's reward.
    :param terminated: the episode ended by the game's rules (goal reached or failed).
    :param success: whether the episode was won; read when it ends (a time-out is a failure).
    :param ending: how the episode ended, in a few words (``"wrong pad"``), read when it is
        terminated; it becomes ``info["ending"]``, which evaluation counts. Left out, the base
        says ``"success"`` or ``"failure"``; a time-out is always ``"time-out"``.
    """

    reward: SupportsFloat = 0.0
    terminated: bool = False
    success: bool = False
    ending: str | None = None


class GameDefinitionError(RuntimeError):
    """A game method returned something the base cannot use; the message names the method."""


class BlankFrameWarning(UserWarning):
    """The agent's view has been one colour since the game started: most likely
    :meth:`MultimodalGame.draw_observation` draws somewhere the base does not read."""


#: Views of one colour in a row, from a game's first, after which :class:`BlankFrameWarning` is
#: given (once; the check stops at the first view that is not one colour).
BLANK_FRAMES_WARNED_AFTER = 16


def parse_frame_size(value: int | Sequence[int], name: str = "size") -> tuple[int, int]:
    """Parse an ``int`` or ``(height, width)`` size argument into ``(height, width)``.

    :raises ValueError: naming ``name`` unless both sides are positive ints.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        height = width = int(value)
    elif (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        height, width = int(value[0]), int(value[1])
    else:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    if height <= 0 or width <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return height, width


def require_positive(name: str, value: float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def require_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an int from ``minimum`` to ``maximum`` (no upper bound when ``None``);
    else a ``ValueError`` naming ``name``."""
    if maximum is None:
        wanted, too_big = f"an int of at least {minimum}", False
    else:
        wanted = f"an int from {minimum} to {maximum}"
        too_big = isinstance(value, int) and value > maximum
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_big:
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def require_non_negative(name: str, value: Any) -> float:
    """``value`` as a float if it is a finite number of at least 0; else a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and at least 0, got {value!r}")
    return float(value)


class MultimodalGame(gym.Env[ObsDict, np.int64]):
    """Base class of the games: observations ``image``, ``text`` and ``audio``, Discrete actions.

    Observation (a ``Dict``):

    * ``image`` — ``Box(0, 255, (H, W, 3), uint8)``, the agent's view, ``image_size``;
    * ``text`` — ``Box(0, V-1, (instruction_length,), int64)``, instruction token ids
      (0 padding, 1 unknown word); the sentence itself is ``info["instruction"]``;
    * ``audio`` — ``Box(-1, 1, (audio_channels, samples_per_step), float32)``, the sound the
      game made during the step, ``samples_per_step = round(sample_rate * step_seconds)``;
    * ``last_action`` (with ``observe_last_action=True``) — ``Box(0, 1, (n_actions,),
      float32)``, the action just taken, one-hot; all zeros after ``reset``.

    :param render_mode: ``None``, ``"rgb_array"`` (``render()`` returns the display frame) or
        ``"human"`` (a window shows it and the step's audio plays on the speakers).
    :param image_size: the agent's view, an int or ``(height, width)``.
    :param display_size: the frame a person watches, an int or ``(height, width)``; an
        instruction caption is added below it.
    :param sample_rate: audio samples per second.
    :param audio_channels: 1 (mono) or 2 (stereo).
    :param step_seconds: game time one step lasts; fixes the audio block length.
    :param instruction_length: token slots in ``text``.
    :param max_steps: steps after which the episode is truncated (and counts as a failure).
    :param observe_last_action: add the ``last_action`` key: one step of memory for a
        memoryless policy, which otherwise cannot tell that it just turned one way and repeats
        the turn back (a left-right loop until time runs out).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    #: One name per action, in action-id order; sets the Discrete action space.
    action_names: ClassVar[tuple[str, ...]] = ()
    #: The action that does nothing, if the game has one (keyboard play steps it when idle).
    noop_action: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        render_mode: str | None = None,
        image_size: int | Sequence[int] = 64,
        display_size: int | Sequence[int] = 384,
        sample_rate: int = 16_000,
        audio_channels: int = 2,
        step_seconds: float = 0.1,
        instruction_length: int = 12,
        max_steps: int = 100,
        observe_last_action: bool = False,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        if not self.action_names:
            raise GameDefinitionError(
                f"{type(self).__name__}.action_names is empty; name each action"
            )
        self.render_mode = render_mode
        self.image_size = parse_frame_size(image_size, "image_size")
        self.display_size = parse_frame_size(display_size, "display_size")
        for name, value in (
            ("sample_rate", sample_rate),
            ("step_seconds", step_seconds),
            ("instruction_length", instruction_length),
            ("max_steps", max_steps),
        ):
            require_positive(name, value)
        if int(instruction_length) != instruction_length or int(max_steps) != max_steps:
            raise ValueError("instruction_length and max_steps must be whole numbers")
        if not isinstance(observe_last_action, bool):
            raise ValueError(
                f"observe_last_action must be True or False, got {observe_last_action!r}"
            )
        self.observe_last_action = observe_last_action
        self.sample_rate = int(sample_rate)
        self.step_seconds = float(step_seconds)
        self.instruction_length = int(instruction_length)
        self.max_steps = int(max_steps)
        self.samples_per_step = max(1, round(self.sample_rate * self.step_seconds))
        self.mixer = AudioMixer(
            self.sample_rate,
            self.samples_per_step,
            channels=audio_channels,
            reference_distance=self.reference_distance(),
        )
        self.vocabulary = self.build_vocabulary()
        for sentence in self.instructions():
            self._encode_instruction(sentence)

        height, width = self.image_size
        keys: dict[str, spaces.Space] = {
            "image": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "text": spaces.Box(0, self.vocabulary.size - 1, (self.instruction_length,), np.int64),
            "audio": spaces.Box(
                -1.0, 1.0, (self.mixer.channels, self.samples_per_step), np.float32
            ),
        }
        if observe_last_action:
            keys["last_action"] = spaces.Box(0.0, 1.0, (len(self.action_names),), np.float32)
        self.observation_space = spaces.Dict(keys)
        self.action_space = spaces.Discrete(len(self.action_names))
        self._last_action = np.zeros(len(self.action_names), dtype=np.float32)
        self.metadata = {**self.metadata, "render_fps": round(1.0 / self.step_seconds)}

        self._observation_surface = pygame.Surface((width, height))
        self._display_surface: pygame.Surface | None = None
        self._caption_font: pygame.font.Font | None = None
        self._window: HumanWindow | None = None
        self._instruction_text = ""
        self._instruction_ids = np.zeros(self.instruction_length, dtype=np.int64)
        self._last_audio = self.mixer.silence()
        self._steps = 0
        self._episode_over = True
        self._frames_to_check = BLANK_FRAMES_WARNED_AFTER

    # ------------------------------------------------------------------ game hooks
    def instructions(self) -> Sequence[str]:
        """Every instruction this game can give; builds the vocabulary and is length-checked."""
        raise NotImplementedError

    def build_vocabulary(self) -> Vocabulary:
        """The instruction vocabulary; by default the words of :meth:`instructions`."""
        return Vocabulary.from_sentences(self.instructions())

    def new_episode(self) -> None:
        """Set up the state of a new episode, drawing all randomness from ``self.np_random``."""
        raise NotImplementedError

    def instruction(self) -> str:
        """The instruction in force now."""
        raise NotImplementedError

    def instruction_kind(self) -> str | None:
        """A label for the kind of the current instruction (for per-kind evaluation)."""
        return None

    def update(self, action: int) -> StepOutcome:
        """Apply ``action`` to the state for one step and report reward and termination."""
        raise NotImplementedError

    def sounds(self) -> list[SoundEvent]:
        """The sounds made during the step just taken (or at the start of the episode)."""
        return []

    def listener(self) -> Listener:
        """Where the agent hears from; sounds are panned and attenuated relative to it."""
        return Listener()

    def reference_distance(self) -> float:
        """Distance (in the game's units) within which a sound is heard at full level."""
        return 1.0

    def draw_observation(self, surface: pygame.Surface) -> None:
        """Draw the agent's view onto ``surface`` (``image_size``) and return None.

        The base reads the view from ``surface``: a returned frame is an error, and views that
        stay one colour from the start give a :class:`BlankFrameWarning`. A frame made in
        numpy is copied in with :func:`envs.core.frames.blit_frame`.
        """
        raise NotImplementedError

    def draw_display(self, surface: pygame.Surface) -> None:
        """Draw the frame a person watches onto ``surface`` (``display_size``); return None."""
        self.draw_observation(surface)

    def get_keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Keyboard bindings for a person playing: pygame key codes → action id."""
        return {}

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsDict, dict[str, Any]]:
        super().reset(seed=seed, options=options)
        self._steps = 0
        self._episode_over = False
        self._last_action[:] = 0.0
        self.new_episode()
        observation = self._observe()
        info = self._info()
        self._present()
        return observation, info

    def step(self, action: Any) -> tuple[ObsDict, float, bool, bool, dict[str, Any]]:
        if self._episode_over:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        action_id = self._action_id(action)
        outcome = self.update(action_id)
        self._last_action[:] = 0.0
        self._last_action[action_id] = 1.0
        if not isinstance(outcome, StepOutcome):
            raise GameDefinitionError(
                f"{type(self).__name__}.update() returned {outcome!r}; return a StepOutcome"
            )
        ending = outcome.ending
        if ending is not None and not (isinstance(ending, str) and ending):
            raise GameDefinitionError(
                f"{type(self).__name__}.update() returned a StepOutcome with ending="
                f"{ending!r}; give a non-empty str or leave it out"
            )
        self._steps += 1
        terminated = bool(outcome.terminated)
        truncated = not terminated and self._steps >= self.max_steps
        observation = self._observe()
        info = self._info()
        if terminated or truncated:
            self._episode_over = True
            success = bool(outcome.success) and terminated
            info["is_success"] = success
            named = terminated and outcome.ending is not None
            info["ending"] = outcome.ending if named else default_ending(terminated, success)
        self._present()
        return observation, float(outcome.reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The display frame (``rgb_array``), or show it in the window (``human``)."""
        if self.render_mode == "rgb_array":
            return self.display_frame()
        if self.render_mode == "human":
            self._present()
        return None

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    # ------------------------------------------------------------------ frames and audio
    @property
    def elapsed_steps(self) -> int:
        """Steps taken in the current episode."""
        return self._steps

    @property
    def last_audio(self) -> np.ndarray:
        """The audio block of the latest step (what a person hears while watching)."""
        return self._last_audio

    def display_frame(self) -> np.ndarray:
        """The larger frame a person watches, with the instruction captioned below it."""
        height, width = self.display_size
        caption_height = max(14, round(height * CAPTION_HEIGHT_FRACTION))
        if self._display_surface is None:
            pygame.font.init()
            self._display_surface = pygame.Surface((width, height + caption_height))
            self._caption_font = pygame.font.Font(None, round(caption_height * 0.8))
        surface = self._display_surface
        self._draw("draw_display", surface.subsurface((0, 0, width, height)))
        surface.fill(CAPTION_BACKGROUND, (0, height, width, caption_height))
        assert self._caption_font is not None
        caption = self._caption_font.render(self._instruction_text, True, CAPTION_COLOUR)
        surface.blit(caption, caption.get_rect(center=(width // 2, height + caption_height // 2)))
        return _surface_pixels(surface)

    def _observe(self) -> ObsDict:
        sentence = self.instruction()
        if sentence != self._instruction_text:
            self._instruction_ids = self._encode_instruction(sentence)
            self._instruction_text = sentence
        self._draw("draw_observation", self._observation_surface)
        audio = self._mix(self._sound_events(), self._checked_listener())
        self._last_audio = audio
        image = _surface_pixels(self._observation_surface)
        if self._frames_to_check:
            self._check_frame(image)
        observation = {
            "image": image,
            "text": self._instruction_ids.copy(),
            "audio": audio,
        }
        if self.observe_last_action:
            observation["last_action"] = self._last_action.copy()
        return observation

    def _draw(self, method: str, surface: pygame.Surface) -> None:
        """Call the drawing hook ``method`` on ``surface``; it must draw there and return None."""
        returned = getattr(self, method)(surface)
        if returned is None:
            return
        shape = getattr(returned, "shape", None)
        what = f"an array of shape {tuple(shape)}" if shape is not None else repr(returned)[:60]
        raise GameDefinitionError(
            f"{type(self).__name__}.{method}() returned {what}; it must draw on the "
            "pygame.Surface it is given and return None (the base reads the frame from that "
            "surface, so a returned frame is never seen). Draw with surface.fill, pygame.draw.* "
            "and surface.blit, or copy an (H, W, 3) uint8 array in with "
            "envs.core.blit_frame(surface, frame)"
        )

    def _check_frame(self, image: np.ndarray) -> None:
        """Warn once when the first :data:`BLANK_FRAMES_WARNED_AFTER` views are all one colour."""
        if (image == image[:1, :1]).all():
            self._frames_to_check -= 1
            if self._frames_to_check == 0:
                colour = tuple(int(value) for value in image[0, 0])
                warnings.warn(
                    f"{type(self).__name__}.draw_observation() drew {BLANK_FRAMES_WARNED_AFTER} "
                    f"views in a row that are all one colour {colour}: the agent sees nothing. "
                    "Draw on the surface it is given (surface.fill, pygame.draw.*, surface.blit "
                    "or envs.core.blit_frame); a frame it returns or draws on another surface "
                    "is never seen",
                    BlankFrameWarning,
                    stacklevel=4,
                )
        else:
            self._frames_to_check = 0  # it draws something: stop checking

    def _mix(self, events: list[SoundEvent], listener: Listener) -> np.ndarray:
        """The step's audio block; a non-finite mix is an error naming :meth:`sounds`."""
        try:
            return self.mixer.mix(events, listener)
        except ValueError as error:
            bad = [
                index
                for index, event in enumerate(events)
                if not np.isfinite(event.waveform[: self.samples_per_step - event.offset]).all()
            ]
            where = f"item {bad[0]} has NaN or infinite samples" if bad else f"{error}"
            raise GameDefinitionError(
                f"{type(self).__name__}.sounds() produced non-finite audio (NaN or inf): "
                f"{where}; check the waveforms and gains it returns (NaN or inf is never "
                "clipped to [-1, 1])"
            ) from error

    def _sound_events(self) -> list[SoundEvent]:
        """:meth:`sounds`, checked: a list of SoundEvent with 1-D float waveforms, each
        starting within the step."""
        name = f"{type(self).__name__}.sounds()"
        events = self.sounds()
        if not isinstance(events, (list, tuple)):
            raise GameDefinitionError(
                f"{name} returned {type(events).__name__}; return a list of SoundEvent"
            )
        for index, event in enumerate(events):
            if not isinstance(event, SoundEvent):
                raise GameDefinitionError(
                    f"{name} item {index} is a {type(event).__name__}; wrap waveforms in "
                    "SoundEvent(waveform, position=...)"
                )
            waveform = event.waveform
            if (
                not isinstance(waveform, np.ndarray)
                or waveform.ndim != 1
                or not np.issubdtype(waveform.dtype, np.floating)
            ):
                shape = getattr(waveform, "shape", None)
                dtype = getattr(waveform, "dtype", type(waveform).__name__)
                raise GameDefinitionError(
                    f"{name} item {index} has a waveform of shape {shape} and type {dtype}; a "
                    "SoundEvent waveform is a 1-D float array in [-1, 1] (make it with "
                    "envs.core.audio.tone, chirp, noise_burst; int16 PCM: divide by 32768)"
                )
            if event.offset >= self.samples_per_step:
                raise GameDefinitionError(
                    f"{name} item {index} has offset={event.offset}, past the step: a step has "
                    f"samples_per_step={self.samples_per_step} samples ({self.sample_rate} Hz × "
                    f"{self.step_seconds:g} s), so it would never be heard. Use an offset in "
                    f"0..{self.samples_per_step - 1}; a sound that starts in a later step is "
                    "returned by sounds() in that step"
                )
        return list(events)

    def _checked_listener(self) -> Listener:
        listener = self.listener()
        if not isinstance(listener, Listener):
            raise GameDefinitionError(
                f"{type(self).__name__}.listener() returned {listener!r}; return a Listener"
            )
        return listener

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"instruction": self._instruction_text}
        kind = self.instruction_kind()
        if kind is not None:
            info["instruction_kind"] = kind
        return info

    def _encode_instruction(self, sentence: str) -> np.ndarray:
        if not isinstance(sentence, str):
            raise GameDefinitionError(
                f"{type(self).__name__}.instruction() returned {sentence!r}; return a str"
            )
        try:
            return self.vocabulary.encode(sentence, self.instruction_length)
        except InstructionTooLongError as error:
            raise GameDefinitionError(
                f"{type(self).__name__}.instruction()/instructions(): {error}"
            ) from error

    def _action_id(self, action: Any) -> int:
        array = np.asarray(action)
        if array.size != 1 or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"action must be one integer, got {action!r}")
        action_id = int(array.reshape(()))
        if not 0 <= action_id < len(self.action_names):
            raise ValueError(
                f"action {action_id} is outside 0..{len(self.action_names) - 1} "
                f"({', '.join(self.action_names)})"
            )
        return action_id

    def _present(self) -> None:
        if self.render_mode != "human":
            return
        if self._window is None:
            self._window = HumanWindow(type(self).__name__, self.sample_rate)
        self._window.play(self._last_audio)
        self._window.show(self.display_frame(), fps=self.metadata["render_fps"])


def _surface_pixels(surface: pygame.Surface) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 copy of the surface's pixels."""
    width, height = surface.get_size()
    data = pygame.image.tobytes(surface, "RGB")
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).copy()
