"""Give any env an instruction channel: :class:`AddInstruction` adds ``text`` token ids.

Three kinds of instruction, exactly one per wrapper:

* ``fixed="reach the flag"`` — the same sentence every step of every episode;
* ``per_episode=sample`` — ``sample(np_random) -> str`` is called once at each reset with the
  wrapper's generator (seeded from ``reset(seed=...)``, so seeded episodes repeat);
* ``per_step=describe`` — ``describe(context) -> str`` at every reset and step, from the
  observation, info, reward... in the :class:`~mmagent.plugins.context.StepContext`.

The sentence is tokenised with :class:`~envs.core.text.Vocabulary` (0 = padding, 1 = unknown
word), stored raw in ``info["instruction"]``. A sentence longer than ``length`` words raises
:class:`~mmagent.plugins.errors.PluginOutputError` naming the function, unless
``truncate=True`` (then its first ``length`` words are kept).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
import numpy as np

from envs.core.text import Vocabulary
from mmagent.plugins.channel import ObservationChannel
from mmagent.plugins.constructor_args import record_constructor_args, unwrap_function
from mmagent.plugins.context import StepContext
from mmagent.plugins.errors import callable_name
from mmagent.plugins.tokens import TextTokenizer, build_vocabulary

EpisodeSampler = Callable[[np.random.Generator], str]
StepDescriber = Callable[[StepContext], str]


class AddInstruction(ObservationChannel, gym.utils.RecordConstructorArgs):
    """Adds ``text``: ``Box(0, V-1, (length,), int64)``, the instruction's token ids.

    :param env: the env to wrap (``Dict`` or ``Box`` observation).
    :param fixed: one sentence for every episode.
    :param per_episode: ``sample(np_random) -> str``, called at every reset.
    :param per_step: ``describe(context) -> str``, called at every reset and step.
    :param instructions: every sentence ``per_episode``/``per_step`` can return (builds the
        vocabulary and is length-checked now); or give ``vocabulary``.
    :param vocabulary: a :class:`~envs.core.text.Vocabulary` or a list of words.
    :param length: token slots.
    :param truncate: keep the first ``length`` words of a longer sentence instead of raising.
    :param key: the observation key to add.
    :param info_key: the ``info`` entry that holds the raw sentence.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        fixed: str | None = None,
        per_episode: EpisodeSampler | None = None,
        per_step: StepDescriber | None = None,
        instructions: Iterable[str] | None = None,
        vocabulary: Vocabulary | Iterable[str] | None = None,
        length: int = 12,
        truncate: bool = False,
        key: str = "text",
        info_key: str = "instruction",
    ) -> None:
        per_episode, per_step = unwrap_function(per_episode), unwrap_function(per_step)
        instructions = tuple(instructions) if instructions is not None else None
        if vocabulary is not None and not isinstance(vocabulary, (Vocabulary, str)):
            vocabulary = tuple(vocabulary)
        record_constructor_args(
            self,
            fixed=fixed,
            per_episode=per_episode,
            per_step=per_step,
            instructions=instructions,
            vocabulary=vocabulary.words if isinstance(vocabulary, Vocabulary) else vocabulary,
            length=length,
            truncate=truncate,
            key=key,
            info_key=info_key,
        )
        kinds = {"fixed": fixed, "per_episode": per_episode, "per_step": per_step}
        given = [name for name, value in kinds.items() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "AddInstruction needs exactly one of fixed='a sentence', "
                "per_episode=sample(np_random) or per_step=describe(context); "
                f"got {given or 'none'}"
            )
        if fixed is not None and not isinstance(fixed, str):
            raise TypeError(f"AddInstruction: fixed must be a str, got {fixed!r}")
        function = per_episode if per_episode is not None else per_step
        if function is not None and not callable(function):
            raise TypeError(f"AddInstruction: {given[0]} must be a function, got {function!r}")
        sentences = list(instructions) if instructions is not None else None
        if fixed is not None and vocabulary is None:
            sentences = [fixed, *(sentences or [])]
        self.tokenizer = TextTokenizer(
            build_vocabulary(vocabulary, sentences, what="AddInstruction"),
            length,
            truncate=truncate,
            what="AddInstruction",
        )
        self.source = (
            "AddInstruction fixed instruction"
            if function is None
            else f"AddInstruction {given[0]} function {callable_name(function)}"
        )
        self.tokenizer.check_fits(sentences or [], f"{self.source} (instructions=)")
        super().__init__(env, key, self.tokenizer.space)
        self.fixed = fixed
        self.per_episode = per_episode
        self.per_step = per_step
        self.info_key = info_key
        self.instruction = fixed or ""
        self._ids = np.zeros(length, dtype=np.int64)

    @property
    def vocabulary(self) -> Vocabulary:
        """The instruction vocabulary."""
        return self.tokenizer.vocabulary

    def channel_value(self, context: StepContext) -> np.ndarray:
        """The token ids of the instruction in force for this reset or step."""
        if self.per_step is not None:
            sentence: Any = self.per_step(context)
        elif self.per_episode is not None and context.is_reset:
            sentence = self.per_episode(context.np_random)
        elif context.is_reset:
            sentence = self.fixed
        else:
            return self._ids.copy()
        self._ids = self.tokenizer.encode(sentence, self.source)
        self.instruction = sentence
        return self._ids.copy()

    def describe_info(self, info: dict[str, Any]) -> None:
        """``info[info_key]`` holds the sentence."""
        info[self.info_key] = self.instruction
