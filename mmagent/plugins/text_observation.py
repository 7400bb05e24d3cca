"""Turn a text observation into token ids: :class:`TextObservation`.

Handles an env whose observation *is* text (a ``str``, with a ``gymnasium.spaces.Text`` space,
a custom space, or none declared at all), or a ``Dict`` observation with one text entry
(``key=``; a single text subspace is found by itself: a ``Text`` space, or any space whose
``sample()`` returns ``str`` or ``bytes``, see :func:`is_text_space`). The text of a value is:

* a ``str`` as it is; ``bytes`` decoded as UTF-8 (undecodable bytes become U+FFFD);
* a 1-D ``uint8``/``int8`` array as bytes up to the first NUL (C strings such as NetHack's
  ``message``), decoded the same way;
* anything else through ``to_text(value) -> str``, which you supply.

Words are tokenised with a :class:`~envs.core.text.Vocabulary` — given, or built from
``sample_texts`` — unknown words get id 1 (each one counted in
:attr:`TextObservation.unknown_words` and warned about once, with
:class:`~mmagent.plugins.errors.UnknownWordWarning`), padding is 0. A text longer than
``length`` words is an error (:class:`~mmagent.plugins.errors.PluginOutputError`) unless
``truncate=True``, which keeps the first ``length`` words. The text that was tokenised (after
``to_text``) goes to ``info[info_key]``, where the HUD of ``mmagent watch`` shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.core.text import Vocabulary
from mmagent.plugins.constructor_args import record_constructor_args, unwrap_function
from mmagent.plugins.errors import PluginOutputError, callable_name
from mmagent.plugins.tokens import TextTokenizer, build_vocabulary

TextConverter = Callable[[Any], str]


class TextObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Replaces a text observation (or the ``key`` entry of a ``Dict``) with token ids under
    ``output_key``: ``Box(0, V-1, (length,), int64)``. Rules in the module docstring.

    :param env: the env to wrap.
    :param key: the ``Dict`` entry that holds text; ``None`` for an env whose whole observation
        is text, or a ``Dict`` with exactly one ``Text`` subspace.
    :param vocabulary: a :class:`~envs.core.text.Vocabulary` or a list of words.
    :param sample_texts: example texts to build the vocabulary from (instead of ``vocabulary``).
    :param length: token slots.
    :param truncate: keep the first ``length`` words of a longer text instead of raising.
    :param to_text: ``to_text(value) -> str`` for values that are neither str, bytes nor a
        byte array.
    :param output_key: the key of the token ids.
    :param info_key: the ``info`` entry that holds the raw text (``None``: not stored).
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        key: str | None = None,
        vocabulary: Vocabulary | Iterable[str] | None = None,
        sample_texts: Iterable[str] | None = None,
        length: int = 32,
        truncate: bool = False,
        to_text: TextConverter | None = None,
        output_key: str = "text",
        info_key: str | None = "instruction",
    ) -> None:
        to_text = unwrap_function(to_text)
        if to_text is not None and not callable(to_text):
            raise TypeError(f"TextObservation: to_text must be a function, got {to_text!r}")
        built = build_vocabulary(vocabulary, sample_texts, what="TextObservation")
        record_constructor_args(
            self,
            key=key,
            vocabulary=built.words,  # the words, not the texts: an iterable is used up
            sample_texts=None,
            length=length,
            truncate=truncate,
            to_text=to_text,
            output_key=output_key,
            info_key=info_key,
        )
        super().__init__(env)
        self.tokenizer = TextTokenizer(built, length, truncate=truncate, what="TextObservation")
        inner = getattr(env, "observation_space", None)
        env_name = type(env.unwrapped).__name__
        if isinstance(inner, spaces.Dict):
            key = key if key is not None else _single_text_key(inner)
            if key not in inner.spaces:
                raise KeyError(
                    f"TextObservation: no observation key {key!r}; the keys are {list(inner)}"
                )
            if output_key != key and output_key in inner.spaces:
                raise ValueError(
                    f"TextObservation: the observation already has a {output_key!r} key; pass "
                    "another output_key="
                )
            converted = {
                (output_key if name == key else name): (
                    self.tokenizer.space if name == key else subspace
                )
                for name, subspace in inner.spaces.items()
            }
            self.observation_space = spaces.Dict(converted)
            self.source = f"{env_name} observation {key!r}"
        else:
            if key is not None:
                raise ValueError(
                    f"TextObservation: key={key!r} was given, but {env_name}'s observation is "
                    f"not a Dict ({inner}); drop key="
                )
            self.observation_space = spaces.Dict({output_key: self.tokenizer.space})
            self.source = f"{env_name} observation"
        if to_text is not None:
            self.source = f"TextObservation to_text function {callable_name(to_text)} on the " + (
                self.source
            )
        self.key = key
        self.output_key = output_key
        self.info_key = info_key
        self.to_text = to_text
        self.text = ""

    @property
    def vocabulary(self) -> Vocabulary:
        """The vocabulary of the token ids."""
        return self.tokenizer.vocabulary

    @property
    def unknown_words(self) -> Counter[str]:
        """How often each word outside the vocabulary was seen (each became id 1)."""
        return self.tokenizer.unknown_words

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        return self._convert(observation, info)

    def step(self, action: Any) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        observation, info = self._convert(observation, info)
        return observation, reward, terminated, truncated, info

    def text_of(self, value: Any) -> str:
        """The text of one observation value (rules in the module docstring)."""
        if self.to_text is not None:
            return self.to_text(value)
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        if (
            isinstance(value, np.ndarray)
            and value.ndim == 1
            and value.dtype in (np.dtype(np.uint8), np.dtype(np.int8))
        ):
            raw = value.astype(np.uint8).tobytes()
            return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        raise PluginOutputError(
            f"{self.source} is {type(value).__name__} {value!r:.80}, not text; pass "
            "to_text=function(value) -> str to TextObservation"
        )

    def _convert(self, observation: Any, info: dict[str, Any]) -> tuple[dict[str, Any], dict]:
        value = observation if self.key is None else observation[self.key]
        self.text = self.text_of(value)
        ids = self.tokenizer.encode(self.text, self.source)
        if self.key is None:
            converted = {self.output_key: ids}
        else:
            converted = {
                (self.output_key if name == self.key else name): (ids if name == self.key else item)
                for name, item in observation.items()
            }
        info = dict(info)
        if self.info_key is not None:
            info[self.info_key] = self.text
        return converted, info


def is_text_space(space: spaces.Space | None) -> bool:
    """Whether observations of ``space`` are text: a ``gymnasium.spaces.Text``, or any other
    space (a custom ``Space`` subclass such as MiniGrid's ``MissionSpace``) whose ``sample()``
    returns a ``str`` or ``bytes``. The standard numeric and composite spaces never are."""
    if isinstance(space, spaces.Text):
        return True
    if space is None or isinstance(space, _NOT_TEXT_SPACES):
        return False
    try:
        sample = space.sample()
    except Exception:  # a space that cannot sample tells nothing; it is not taken for text
        return False
    return isinstance(sample, (str, bytes))


_NOT_TEXT_SPACES = (
    spaces.Box,
    spaces.Discrete,
    spaces.MultiDiscrete,
    spaces.MultiBinary,
    spaces.Dict,
    spaces.Tuple,
    spaces.Sequence,
    spaces.Graph,
    spaces.OneOf,
)


def _single_text_key(space: spaces.Dict) -> str:
    text_keys = [name for name, entry in space.spaces.items() if is_text_space(entry)]
    if len(text_keys) != 1:
        raise ValueError(
            f"TextObservation: cannot tell which observation key holds the text ({space}); "
            "pass key='...' (make_multimodal: text_key='...')"
        )
    return text_keys[0]
