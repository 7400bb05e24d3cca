"""Text → fixed-length token ids, shared by the instruction channel and text observations.

Rules (the same as the built-in games, :class:`envs.core.text.Vocabulary`):

* words are lower-case runs of letters, digits and apostrophes (:func:`split_words`);
* id 0 is padding, id 1 is any word outside the vocabulary, the vocabulary's words follow;
  every unknown word is counted (:attr:`TextTokenizer.unknown_words`) and warned about once per
  tokenizer with :class:`~mmagent.plugins.errors.UnknownWordWarning`, naming how to add it
  (after :data:`MAX_WORD_WARNINGS` distinct words, one last warning says the rest are only
  counted);
* a text with more words than the token limit is an error naming its source, unless the
  tokenizer was made with ``truncate=True``: then only the first ``length`` words are kept.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable

import numpy as np
from gymnasium import spaces

from envs.core.text import PAD_ID, UNKNOWN_ID, Vocabulary, split_words
from mmagent.plugins.errors import PluginOutputError, UnknownWordWarning

#: Distinct unknown words a tokenizer warns about one by one; later ones are only counted.
MAX_WORD_WARNINGS = 20


def build_vocabulary(
    vocabulary: Vocabulary | Iterable[str] | None,
    sample_texts: Iterable[str] | None,
    *,
    what: str,
) -> Vocabulary:
    """The vocabulary of a text channel: the one given, or one built from example texts.

    :param vocabulary: a :class:`Vocabulary`, or the words themselves (each one word, as
        :func:`split_words` produces them).
    :param sample_texts: example texts (every instruction, some observations); their words,
        in order of first appearance, make the vocabulary.
    :param what: what the vocabulary is for, named in errors (e.g. ``"AddInstruction"``).
    :raises ValueError: when both or neither are given.
    """
    if vocabulary is not None and sample_texts is not None:
        raise ValueError(
            f"{what}: give vocabulary= or sample_texts=, not both; to add sample texts to a "
            "vocabulary, build it with Vocabulary.from_sentences([...])"
        )
    if isinstance(vocabulary, Vocabulary):
        return vocabulary
    if vocabulary is not None:
        if isinstance(vocabulary, str):
            raise ValueError(
                f"{what}: vocabulary={vocabulary!r} is one string; give a list of words "
                "(or sample_texts=[...] to build one from sentences)"
            )
        return Vocabulary(vocabulary)
    if sample_texts is None:
        raise ValueError(
            f"{what} needs a vocabulary: pass vocabulary=Vocabulary([...]) or a list of words, "
            "or sample_texts=[...] with example texts (every sentence it can produce)"
        )
    if isinstance(sample_texts, str):
        raise ValueError(
            f"{what}: sample_texts={sample_texts!r} is one string; give a list of texts"
        )
    texts = list(sample_texts)
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(f"{what}: sample_texts holds {text!r}; every sample must be a str")
    return Vocabulary.from_sentences(texts)


class TextTokenizer:
    """Encodes texts into ``length`` token ids with a fixed vocabulary.

    :param vocabulary: the words; unknown words get id 1.
    :param length: token slots; shorter texts are padded with 0.
    :param truncate: keep the first ``length`` words of a longer text instead of raising.
    :param what: the wrapper that owns the tokenizer, named in unknown-word warnings.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        length: int,
        *,
        truncate: bool = False,
        what: str = "the text channel",
    ) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            raise ValueError(f"the token limit (length) must be a positive int, got {length!r}")
        self.vocabulary = vocabulary
        self.length = length
        self.truncate = bool(truncate)
        self.what = what
        self.unknown_words: Counter[str] = Counter()
        """How often each word outside the vocabulary was encoded (as id 1)."""

    @property
    def space(self) -> spaces.Box:
        """``Box(0, V-1, (length,), int64)``, the space of the encoded ids."""
        return spaces.Box(0, self.vocabulary.size - 1, (self.length,), np.int64)

    def encode(self, text: object, source: str) -> np.ndarray:
        """The token ids of ``text``.

        :param source: what produced the text (a function, a method), named in errors.
        :raises PluginOutputError: when ``text`` is not a str, or is too long and
            ``truncate`` is off.
        """
        if not isinstance(text, str):
            raise PluginOutputError(
                f"{source} returned {text!r} ({type(text).__name__}); it must return a str"
            )
        words = split_words(text)
        if len(words) > self.length:
            if not self.truncate:
                raise PluginOutputError(
                    f"{source} gave {text!r}: {len(words)} words, but the token limit is "
                    f"{self.length}; raise the limit or pass truncate=True to keep the first "
                    f"{self.length} words"
                )
            words = words[: self.length]
        ids = np.full(self.length, PAD_ID, dtype=np.int64)
        ids[: len(words)] = [self.vocabulary.token_id(word) for word in words]
        for word, token in zip(words, ids.tolist(), strict=False):
            if token == UNKNOWN_ID:
                self._count_unknown(word, source)
        return ids

    def _count_unknown(self, word: str, source: str) -> None:
        first = word not in self.unknown_words
        self.unknown_words[word] += 1
        if not first:
            return
        distinct = len(self.unknown_words)
        if distinct <= MAX_WORD_WARNINGS:
            warnings.warn(
                f"{source} gave the word {word!r}, which is not in {self.what}'s vocabulary of "
                f"{self.vocabulary.size - 2} words, so it reads as id {UNKNOWN_ID} (unknown); "
                f"add it: vocabulary=[..., {word!r}], or a text holding it in "
                "sample_texts=/instructions=",
                UnknownWordWarning,
                stacklevel=2,
            )
        if distinct == MAX_WORD_WARNINGS:
            warnings.warn(
                f"{self.what}: {MAX_WORD_WARNINGS} different unknown words so far; further "
                "ones are counted without a warning (see the wrapper's unknown_words)",
                UnknownWordWarning,
                stacklevel=2,
            )

    def check_fits(self, texts: Iterable[str], source: str) -> None:
        """Encode every text once, so a too-long one fails at construction, not mid-training."""
        for text in texts:
            self.encode(text, source)
