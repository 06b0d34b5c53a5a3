import numpy as np
import pytest
from samestory.lexical import Hasher, LexicalIndex, LexicalParams, Signature, containment, jaccard, shingles
from samestory.text import tokens

PARAMS = LexicalParams()
TEXT = (
    "Ukrainian President Volodymyr Zelenskyy said on Tuesday that he had discussed the deployment of North "
    "Korean troops to aid Russia with South Korea's president and agreed to strengthen security cooperation "
    "while allies grew concerned about the transfer of thousands of soldiers to the front"
)


def test_shingles_are_word_ngrams():
    assert shingles(["a", "b", "c", "d", "e", "f"], 5) == {b"a b c d e", b"b c d e f"}
    assert shingles(["a", "b"], 5) == {b"a b"}
    assert shingles([], 5) == set()


def test_identical_texts_have_identical_signatures_and_round_trip():
    hasher = Hasher(PARAMS)
    a, b = hasher.signature(tokens(TEXT)), hasher.signature(tokens(TEXT))
    assert jaccard(a, b) == 1.0
    again = Signature.from_bytes(a.to_bytes(), a.shingles)
    assert np.array_equal(again.hashvalues, a.hashvalues) and again.shingles == a.shingles


def test_jaccard_estimate_is_close_to_the_truth():
    hasher = Hasher(PARAMS)
    words = tokens(TEXT)
    edited = words[:20] + ["completely", "different", "words", "here"] + words[20:]
    truth = len(shingles(words, 5) & shingles(edited, 5)) / len(shingles(words, 5) | shingles(edited, 5))
    estimate = jaccard(hasher.signature(words), hasher.signature(edited))
    assert estimate == pytest.approx(truth, abs=0.12)


def test_containment_of_a_truncated_copy_is_high():
    hasher = Hasher(PARAMS)
    words = tokens(TEXT) + [f"word{i}" for i in range(60)]
    whole, half = hasher.signature(words), hasher.signature(words[: len(words) // 2])
    assert containment(whole, half) > 0.8
    assert jaccard(whole, half) < 0.8


def test_lsh_finds_near_copies_and_forgets_removed_keys():
    hasher = Hasher(PARAMS)
    index = LexicalIndex(PARAMS)
    words = tokens(TEXT)
    index.add(1, hasher.signature(words))
    index.add(2, hasher.signature(tokens("An entirely unrelated story about football results in the league")))
    assert index.query(hasher.signature(words[:-2])) == [1]
    index.remove(1)
    assert index.query(hasher.signature(words)) == []
    assert len(index) == 1


def test_params_are_described_for_storage():
    described = PARAMS.as_dict()
    assert described["minhash.scheme"] == "affine32"
    assert described["shingle.words"] == "5"
