"""One call for the common case: :func:`make_multimodal` stacks the plug-in wrappers.

Order, innermost first (each step only when asked for or needed):

1. :class:`~mmagent.plugins.text_observation.TextObservation` — when the observation is text
   (a ``str`` observation, a ``Text`` space, no space at all, a ``Dict`` with a ``Text`` entry)
   or ``text_key``/``to_text`` is given;
2. :class:`~mmagent.plugins.keys.MapToConvention` — always: key names and formats;
3. :class:`~mmagent.plugins.render_pixels.PixelsFromRender` — when ``image_size`` is given;
4. :class:`~mmagent.plugins.instruction.AddInstruction` — when ``instruction`` or
   ``instruction_per_step`` is given;
5. :class:`~mmagent.plugins.audio.AddAudio` — when ``sound`` is given.

So the instruction and sound functions see the observation already in the convention's form
(a ``Dict`` with ``image``/``text``/``audio``/vector keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.text import Vocabulary
from mmagent.plugins.audio import AddAudio, ListenerSource, SoundFunction
from mmagent.plugins.instruction import AddInstruction, StepDescriber
from mmagent.plugins.keys import TEXT, MapToConvention
from mmagent.plugins.render_pixels import PixelsFromRender
from mmagent.plugins.text_observation import TextConverter, TextObservation


def make_multimodal(
    env: gym.Env,
    *,
    keys: Mapping[str, str] | None = None,
    drop: Iterable[str] = (),
    audio_channels_first: bool | None = None,
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
    sample_rate: int = 16_000,
    audio_channels: int = 2,
    step_seconds: float = 0.1,
    listener: ListenerSource = None,
) -> gym.Env:
    """Wrap ``env`` so that ``mmagent train/eval/watch`` and the default ``MultimodalExtractor``
    read it: ``image``, ``text``, ``audio`` and vector keys (wrapper order in the module
    docstring).

    Text observation (see :class:`~mmagent.plugins.text_observation.TextObservation`):

    :param text_key: the ``Dict`` entry holding text, when not found by itself.
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

    Pixels (see :class:`~mmagent.plugins.render_pixels.PixelsFromRender`):

    :param image_size: add ``image`` from ``render()`` at this size (the env must have
        ``render_mode="rgb_array"`` and no image observation).
    :param resize: ``"area"`` or ``"nearest"``.

    Instruction (see :class:`~mmagent.plugins.instruction.AddInstruction`):

    :param instruction: a fixed sentence, or ``sample(np_random) -> str`` called per episode.
    :param instruction_per_step: ``describe(context) -> str`` called at every reset and step.
    :param instructions: every sentence a function can return (builds the vocabulary).
    :param instruction_length: token slots of the instruction.

    Audio (see :class:`~mmagent.plugins.audio.AddAudio`):

    :param sound: ``sound(context) -> list[SoundEvent] | waveform | None``.
    :param sample_rate: samples per second.
    :param audio_channels: 1 or 2.
    :param step_seconds: how long one step sounds.
    :param listener: where sound events are heard from.
    """
    wrapped: gym.Env = env
    if text_key is not None or to_text is not None or _observation_is_text(env):
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
    wrapped = MapToConvention(
        wrapped, keys=keys, drop=drop, audio_channels_first=audio_channels_first
    )
    if image_size is not None:
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
            sample_rate=sample_rate,
            channels=audio_channels,
            step_seconds=step_seconds,
            listener=listener,
        )
    return wrapped


def _observation_is_text(env: gym.Env) -> bool:
    space = getattr(env, "observation_space", None)
    if space is None or isinstance(space, spaces.Text):
        return True
    if isinstance(space, spaces.Dict):
        return any(isinstance(subspace, spaces.Text) for subspace in space.spaces.values())
    return False
