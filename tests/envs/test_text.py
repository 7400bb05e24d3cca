"""Instruction vocabularies: ids, padding, unknown words, the token limit."""

from __future__ import annotations

import numpy as np
import pytest

from envs.core.text import PAD_ID, UNKNOWN_ID, InstructionTooLongError, Vocabulary, split_words


def test_split_words_lowercases_and_drops_punctuation() -> None:
    assert split_words("Go to the RED ball!") == ["go", "to", "the", "red", "ball"]


def test_encode_pads_and_marks_unknown_words() -> None:
    vocabulary = Vocabulary.from_sentences(["go to the red ball", "find the box"])
    ids = vocabulary.encode("go to the green ball", 8)
    assert ids.dtype == np.int64 and ids.shape == (8,)
    assert ids[3] == UNKNOWN_ID and (ids[5:] == PAD_ID).all()
    assert ids[0] == 2 and vocabulary.size == len(vocabulary.words) + 2
    assert vocabulary.decode(ids) == "go to the <unk> ball"


def test_duplicates_keep_their_first_id() -> None:
    vocabulary = Vocabulary(["a", "b", "a"])
    assert vocabulary.words == ("a", "b") and vocabulary.token_id("b") == 3


def test_too_long_instruction_is_rejected() -> None:
    vocabulary = Vocabulary(["one", "two"])
    with pytest.raises(InstructionTooLongError, match="token limit is 1"):
        vocabulary.encode("one two", 1)


@pytest.mark.parametrize("word", ["Two Words", "UPPER", "", "comma,"])
def test_vocabulary_rejects_words_that_are_not_tokens(word: str) -> None:
    with pytest.raises(ValueError, match="single lower-case word"):
        Vocabulary([word])


def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="outside"):
        Vocabulary(["a"]).decode([5])
