"""One call for the common case: :func:`make_multimodal` stacks the plug-in wrappers.

Order, innermost first (each step only when asked for or needed):

1. :class:`~mmagent.plugins.text_observation.TextObservation` — when the observation is text
   (a ``str`` observation, a ``Text`` space or any space whose samples are ``str``/``bytes``,
   no space at all, a ``Dict`` with one such entry) or ``text_key``/``to_text`` is given;
2. :class:`~mmagent.plugins.keys.MapToConvention` — always: key names and formats; then
   :class:`~mmagent.plugins.grid_codes.DeclareGridCodes` — for ``grid_codes`` or MiniGrid's view;
3. :class:`~mmagent.plugins.render_pixels.PixelsFromRender` — when ``image_size`` is given and
   the env has no ``image``; :class:`~mmagent.plugins.render_pixels.ResizeImage` when it has one;
4. :class:`~mmagent.plugins.instruction.AddInstruction` — when ``instruction`` or
   ``instruction_per_step`` is given;
5. :class:`~mmagent.plugins.audio.AddAudio` — when ``sound`` is given;
6. :class:`~mmagent.plugins.success.ReportSuccess` — when ``success`` is given.

So the instruction, sound and success functions see the observation already in the
convention's form (a ``Dict`` with ``image``/``text``/``audio``/vector keys).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.text import Vocabulary
from mmagent.plugins.audio import AddAudio, ListenerSource, SoundFunction
from mmagent.plugins.grid_codes import DeclareGridCodes, minigrid_view_codes
from mmagent.plugins.instruction import AddInstruction, StepDescriber
from mmagent.plugins.keys import AUDIO, IMAGE, TEXT, MapToConvention
from mmagent.plugins.render_pixels import PixelsFromRender, ResizeImage
from mmagent.plugins.success import ReportSuccess, SuccessRule
from mmagent.plugins.text_observation import TextConverter, TextObservation, is_text_space

#: The sample rate of a ``sound=`` track when ``sample_rate`` is not given.
DEFAULT_SAMPLE_RATE = 16_000


def make_multimodal(
    env: gym.Env,
    *,
    keys: Mapping[str, str] | None = None,
    drop: Iterable[str] = (),
    audio_channels_first: bool | None = None,
    grid_codes: Sequence[int] | None = None,
    text_key: str | None = None,
    to_text: TextConverter | None = None,
    vocabulary: Vocabulary | Iterable[str] | None = None,
    sample_texts: Iterable[str] | None = None,
    text_length: int = 32,
    truncate: bool = False,
    image_size: int | Sequence[int] | None = None,
    resize: str = "area",
    instruction: str | Callable[[np.random.Generator], str] | None = None,
    instruction_per_step: StepDescriber | None = None,
    instructions: Iterable[str] | None = None,
    instruction_length: int = 12,
    sound: SoundFunction | None = None,
    sample_rate: int | None = None,
    audio_channels: int = 2,
    step_seconds: float = 0.1,
    listener: ListenerSource = None,
    success: SuccessRule | None = None,
) -> gym.Env:
    """Wrap ``env`` so that ``mmagent train/eval/watch`` and the default ``MultimodalExtractor``
    read it: ``image``, ``text``, ``audio`` and vector keys (wrapper order in the module
    docstring).

    Text observation (see :class:`~mmagent.plugins.text_observation.TextObservation`):

    :param text_key: the ``Dict`` entry holding text, when not found by itself (its space may
        be any space, e.g. a custom ``Space`` whose ``sample()`` returns a ``str``).
    :param to_text: ``to_text(value) -> str`` for text in a custom format.
    :param vocabulary: words of the text observation (or of the instruction, when the env
        has no text observation).
    :param sample_texts: example texts to build that vocabulary from instead.
    :param text_length: token slots of the text observation.
    :param truncate: keep the first words of a too-long text or instruction instead of raising.

    Keys and formats (see :class:`~mmagent.plugins.keys.MapToConvention`):

    :param keys: ``{"old": "new"}`` renames, over the default aliases (``screen``→``image``...).
    :param drop: keys to remove.
    :param audio_channels_first: layout of 2-D audio when its shape cannot tell.
    :param grid_codes: codes per channel of an ``image`` that holds integer cell codes declared
        with pixel bounds (see :class:`~mmagent.plugins.grid_codes.DeclareGridCodes`): it is then
        embedded as a symbolic grid, not read as pixels. MiniGrid's and BabyAI's own view is
        recognised without it (11 objects, 6 colours, 3 states).

    Pixels (see :class:`~mmagent.plugins.render_pixels.PixelsFromRender` and
    :class:`~mmagent.plugins.render_pixels.ResizeImage`):

    :param image_size: the agent's image size: the env's own ``image`` is resized to it; an
        env without one gets ``image`` from ``render()`` at this size (it must have
        ``render_mode="rgb_array"``). A symbolic grid is refused (it is read at its own size).
    :param resize: ``"area"`` or ``"nearest"``.

    Instruction (see :class:`~mmagent.plugins.instruction.AddInstruction`):

    :param instruction: a fixed sentence, or ``sample(np_random) -> str`` called per episode.
    :param instruction_per_step: ``describe(context) -> str`` called at every reset and step.
    :param instructions: every sentence a function can return (builds the vocabulary).
    :param instruction_length: token slots of the instruction.

    Audio (see :class:`~mmagent.plugins.audio.AddAudio`):

    :param sound: ``sound(context) -> list[SoundEvent] | waveform | None``.
    :param sample_rate: samples per second: of the ``sound`` track (default 16000), or, without
        ``sound``, of the env's own audio observation, so that ``mmagent watch`` plays it and
        ``--record`` writes it (stored in ``metadata["audio_sample_rate"]``; an env may declare
        it there itself).
    :param audio_channels: 1 or 2.
    :param step_seconds: how long one step sounds.
    :param listener: where sound events are heard from.

    Success (see :class:`~mmagent.plugins.success.ReportSuccess`):

    :param success: sets ``info["is_success"]`` at the end of each episode: a function
        ``success(observation, reward, terminated, truncated, info) -> bool | None`` (``None``:
        not known) or ``"terminated_with_positive_reward"``.
    """
    wrapped: gym.Env = env
    drop = tuple(drop)
    if text_key is not None or to_text is not None or _observation_is_text(env, drop):
        wrapped = TextObservation(
            wrapped,
            key=text_key,
            vocabulary=vocabulary,
            sample_texts=sample_texts,
            length=text_length,
            truncate=truncate,
            to_text=to_text,
        )
        vocabulary = sample_texts = None  # used up by the text observation
    mapping: dict[str, Any] = {
        "keys": keys,
        "drop": drop,
        "audio_channels_first": audio_channels_first,
    }
    mapped = MapToConvention(wrapped, **mapping)
    if sound is None and sample_rate is not None:
        if AUDIO in mapped.observation_space.spaces:
            mapped = MapToConvention(wrapped, **mapping, sample_rate=sample_rate)
        else:
            warnings.warn(
                f"make_multimodal: sample_rate={sample_rate} is unused: the env has no audio "
                "observation (map its sound key with keys={...: 'audio'}) and no sound= "
                "function was given",
                stacklevel=2,
            )
    wrapped = mapped
    codes = grid_codes if grid_codes is not None else minigrid_view_codes(wrapped)
    if codes is not None:
        wrapped = DeclareGridCodes(wrapped, codes)
    if image_size is not None:
        if IMAGE in wrapped.observation_space.spaces:  # a Dict after MapToConvention
            wrapped = ResizeImage(wrapped, image_size, method=resize)
        else:
            wrapped = PixelsFromRender(wrapped, image_size, method=resize)
    if instruction is not None or instruction_per_step is not None:
        observation_space = wrapped.observation_space
        if isinstance(observation_space, spaces.Dict) and TEXT in observation_space.spaces:
            raise ValueError(
                "make_multimodal: the env already has a text observation, so an instruction "
                "cannot also be 'text'. Wrap it yourself with AddInstruction(env, ..., "
                "key='instruction') and train with features_extractor_kwargs="
                "{'modalities': {'instruction': 'text'}}"
            )
        if isinstance(instruction, str):
            kinds = {"fixed": instruction}
        elif instruction is not None:
            kinds = {"per_episode": instruction}
        else:
            kinds = {}
        wrapped = AddInstruction(
            wrapped,
            **kinds,
            per_step=instruction_per_step,
            instructions=instructions,
            vocabulary=vocabulary,
            length=instruction_length,
            truncate=truncate,
        )
    elif vocabulary is not None or sample_texts is not None or instructions is not None:
        raise ValueError(
            "make_multimodal: vocabulary/sample_texts/instructions were given, but there is "
            "no text observation or instruction to use them for"
        )
    if sound is not None:
        wrapped = AddAudio(
            wrapped,
            sound,
            sample_rate=DEFAULT_SAMPLE_RATE if sample_rate is None else sample_rate,
            channels=audio_channels,
            step_seconds=step_seconds,
            listener=listener,
        )
    if success is not None:
        wrapped = ReportSuccess(wrapped, success)
    return wrapped


def _observation_is_text(env: gym.Env, drop: Sequence[str]) -> bool:
    space = getattr(env, "observation_space", None)
    if space is None or is_text_space(space):
        return True
    if isinstance(space, spaces.Dict):
        return any(
            is_text_space(subspace)
            for name, subspace in space.spaces.items()
            if name not in drop  # a dropped text entry needs no tokens
        )
    return False
