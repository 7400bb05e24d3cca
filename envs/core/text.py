"""Instruction text: a fixed vocabulary that turns sentences into fixed-length token ids.

Id 0 is padding and id 1 stands for any word outside the vocabulary; the vocabulary's own
words follow from id 2 in the order they were declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

PAD_ID = 0
UNKNOWN_ID = 1
RESERVED_TOKENS = ("<pad>", "<unk>")

_WORD_PATTERN = re.compile(r"[a-z0-9']+")


def split_words(sentence: str) -> list[str]:
    """Lower-case ``sentence`` and split it into words, dropping punctuation."""
    return _WORD_PATTERN.findall(sentence.lower())


class InstructionTooLongError(ValueError):
    """An instruction has more words than the token limit."""


class Vocabulary:
    """A word list that encodes sentences into fixed-length ``int64`` token ids.

    :param words: the words the game can say, in a fixed order (duplicates are dropped,
        the first occurrence keeps its id). Words are lower-case runs of letters, digits
        and apostrophes, the same units :func:`split_words` produces.
    """

    def __init__(self, words: Iterable[str]) -> None:
        ordered: dict[str, None] = {}
        for word in words:
            if not isinstance(word, str) or split_words(word) != [word]:
                raise ValueError(
                    f"vocabulary word {word!r} is not a single lower-case word; "
                    "declare words as split_words() produces them (e.g. 'red', \"don't\")"
                )
            ordered.setdefault(word, None)
        self.words: tuple[str, ...] = tuple(ordered)
        self._ids = {word: index + len(RESERVED_TOKENS) for index, word in enumerate(self.words)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[str]) -> Vocabulary:
        """Build a vocabulary from example sentences, words in order of first appearance."""
        return cls(word for sentence in sentences for word in split_words(sentence))

    @property
    def size(self) -> int:
        """Number of distinct token ids, padding and unknown included."""
        return len(self.words) + len(RESERVED_TOKENS)

    def __len__(self) -> int:
        return self.size

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def token_id(self, word: str) -> int:
        """The id of ``word``, or :data:`UNKNOWN_ID` when it is not in the vocabulary."""
        return self._ids.get(word, UNKNOWN_ID)

    def encode(self, sentence: str, length: int) -> np.ndarray:
        """Token ids of ``sentence``, padded with :data:`PAD_ID` to ``length``.

        :raises InstructionTooLongError: when the sentence has more than ``length`` words.
        """
        words = split_words(sentence)
        if len(words) > length:
            raise InstructionTooLongError(
                f"instruction {sentence!r} has {len(words)} words but the token limit is "
                f"{length}; shorten it or raise instruction_length"
            )
        ids = np.zeros(length, dtype=np.int64)
        ids[: len(words)] = [self.token_id(word) for word in words]
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The sentence behind ``ids``; padding is dropped, unknown words read ``<unk>``."""
        words = []
        for token in np.asarray(ids, dtype=np.int64).tolist():
            if token == PAD_ID:
                continue
            if token == UNKNOWN_ID:
                words.append(RESERVED_TOKENS[UNKNOWN_ID])
            elif len(RESERVED_TOKENS) <= token < self.size:
                words.append(self.words[token - len(RESERVED_TOKENS)])
            else:
                raise ValueError(f"token id {token} is outside this vocabulary of {self.size}")
        return " ".join(words)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self.words)} words)"
