import dataclasses
import json
import logging
import pickle
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st
from samestory.lexical import (
    Hasher,
    LexicalIndex,
    LexicalParams,
    RedisLexicalIndex,
    Signature,
    band_key,
    band_keys,
    containment,
    jaccard,
    most_shared,
    shingles,
)
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


@pytest.mark.parametrize("scheme", ["affine32", "affine64", "legacy"])
def test_a_signature_is_datasketchs_minhash_of_the_shingles_whatever_came_before(scheme):
    params = dataclasses.replace(PARAMS, scheme=scheme)
    hasher = Hasher(params)
    texts = [tokens(TEXT), tokens("Football results in the league this week, and a cup draw"), [], tokens(TEXT)[:3]]
    texts.append(tokens("Zürich's café reopens: « un événement », says the 市長 of the city on Friday"))
    for words in texts * 2:
        # datasketch's own hash function for the scheme (sha1_hash32, or sha1_hash64 for affine64), one value at a time
        expected = MinHash(num_perm=params.num_perm, seed=params.seed, scheme=scheme)
        expected.update_batch(list(shingles(words, params.shingle_size)))
        got = hasher.signature(words)
        assert np.array_equal(got.hashvalues, expected.hashvalues) and got.hashvalues.dtype == expected.hashvalues.dtype
        assert got.shingles == len(shingles(words, params.shingle_size))


def test_threads_may_share_a_hasher():
    hasher = Hasher(PARAMS)
    texts = [tokens(TEXT)[i:] for i in range(30)]
    expected = [hasher.signature(words).hashvalues for words in texts]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns inside a signature, not only between them
    try:
        with ThreadPoolExecutor(4) as pool:
            for _ in range(5):
                got = list(pool.map(lambda words: hasher.signature(words).hashvalues, texts))
                assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    finally:
        sys.setswitchinterval(interval)


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
    assert containment(whole, half, jaccard(whole, half)) == containment(whole, half)  # the Jaccard given


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


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random signatures where every third one is an edited copy of an earlier one (shares most bands)."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**32 - 1, size=(n, PARAMS.num_perm), dtype=np.uint64)
    for i in range(3, n, 3):
        source = int(rng.integers(0, i))
        changed = rng.random(PARAMS.num_perm) < 0.15
        sigs[i] = np.where(changed, sigs[i], sigs[source])
    sigs[n - 1] = sigs[0]  # an exact copy: every bucket shared
    return np.arange(1, n + 1, dtype=np.int64), sigs


def _reference(keys, sigs) -> MinHashLSH:
    lsh = MinHashLSH(threshold=PARAMS.lsh_threshold, num_perm=PARAMS.num_perm)
    for key, sig in zip(keys.tolist(), sigs, strict=True):
        lsh.insert(key, LeanMinHash(seed=PARAMS.seed, hashvalues=sig, scheme=PARAMS.scheme))
    return lsh


def _query_all(index: LexicalIndex, sigs) -> list[list[int]]:
    return [sorted(index.query(Signature(sig, 100))) for sig in sigs]


def test_compact_storage_answers_like_datasketchs_own():
    keys, sigs = _planted(600, seed=3)
    reference = _reference(keys, sigs)
    one_by_one, bulk = LexicalIndex(PARAMS), LexicalIndex(PARAMS)
    for key, sig in zip(keys.tolist(), sigs, strict=True):
        one_by_one.add(key, Signature(sig, 100))
    bulk.add_arrays(keys[:250], np.full(250, 100), sigs[:250])
    bulk.add_arrays(keys, np.full(len(keys), 100), sigs)  # overlaps the first call: no double entries
    expected = [
        sorted(reference.query(LeanMinHash(seed=PARAMS.seed, hashvalues=sig, scheme=PARAMS.scheme))) for sig in sigs
    ]
    assert sum(len(found) > 1 for found in expected) >= 150  # the planted copies are found
    assert _query_all(one_by_one, sigs) == expected
    assert _query_all(bulk, sigs) == expected
    assert len(bulk) == len(one_by_one) == 600
    for key in range(1, 601, 2):
        bulk.remove(key)
        one_by_one.remove(key)
        reference.remove(key)
    expected = [
        sorted(reference.query(LeanMinHash(seed=PARAMS.seed, hashvalues=sig, scheme=PARAMS.scheme))) for sig in sigs
    ]
    assert _query_all(bulk, sigs) == _query_all(one_by_one, sigs) == expected
    assert len(bulk) == 300


def test_bulk_add_skips_empty_texts():
    keys, sigs = _planted(10, seed=4)
    index = LexicalIndex(PARAMS)
    index.add_arrays(keys, np.array([0, 5, 5, 5, 5, 5, 5, 5, 5, 5]), sigs)
    assert 1 not in index and 2 in index and len(index) == 9


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=8))
def test_band_key_of_one_band_equals_the_vectorised_one(values):
    band = np.asarray(values, dtype=np.uint64)
    scalar = band_key(bytes(band.byteswap().data), len(values))
    assert scalar < 2**60
    if max(values) < 2**32:  # a 32-bit scheme's values, as datasketch holds them
        assert band_key(bytes(band.astype(np.uint32).byteswap().data), len(values)) == scalar
    assert int(band_keys(band[None, :], [(0, len(values))])[0, 0]) == scalar


def test_a_query_gives_the_keys_that_share_the_most_buckets_first():
    """A caller takes the first `lexical_candidates`: the copies closest to the query, however many older
    ones a syndicated story left in its buckets."""
    assert most_shared([{1, 2}, {2, 3}, {2}, {3, 9}, ()]) == [2, 3, 9, 1]  # by buckets shared, then newest
    rng = np.random.default_rng(11)
    query = rng.integers(0, 2**32 - 1, size=PARAMS.num_perm, dtype=np.uint64)
    index = LexicalIndex(PARAMS)
    for key, changed in enumerate((0.0, 0.3, 0.05, 0.15), start=1):  # the share of values an edit changed
        sig = np.where(rng.random(PARAMS.num_perm) < changed, rng.integers(0, 2**32 - 1, PARAMS.num_perm), query)
        index.add(key, Signature(sig.astype(np.uint64), 100))
    assert index.query(Signature(query, 100)) == [1, 3, 4, 2]


def test_a_bucket_full_of_copies_gives_a_query_its_newest_only():
    """A story syndicated to thousands of outlets: with `per_bucket`, each bucket gives its newest keys only,
    whether the copies came one by one or in bulk (start-up), and after some are removed."""
    sig = np.random.default_rng(12).integers(0, 2**32 - 1, size=PARAMS.num_perm, dtype=np.uint64)
    copies = np.tile(sig, (300, 1))
    one_by_one, bulk = LexicalIndex(PARAMS), LexicalIndex(PARAMS)
    for key in range(1, 301):
        one_by_one.add(key, Signature(sig, 100))
    bulk.add_arrays(np.arange(1, 201), np.full(200, 100), copies[:200])
    bulk.add_arrays(np.arange(1, 301), np.full(300, 100), copies)  # the rest, after a snapshot's
    for index in (one_by_one, bulk):
        _check_newest(index, sig)


def _check_newest(index, sig: np.ndarray) -> None:
    """`index` holds 300 copies of `sig`, keys 1 to 300: its queries give the newest, also after removals."""
    assert index.query(Signature(sig, 100), per_bucket=5) == [300, 299, 298, 297, 296]
    assert index.query(Signature(sig, 100)) == list(range(300, 0, -1))
    index.remove_many([300, 298])
    assert index.query(Signature(sig, 100), per_bucket=3) == [299, 297, 296]
    index.remove_many(range(3, 300))
    assert index.query(Signature(sig, 100), per_bucket=3) == [2, 1]


# ------------------------------------------------------------ Redis


def test_the_redis_lsh_answers_like_the_in_memory_one(redis_url):
    keys, sigs = _planted(300, seed=5)
    memory, shared = LexicalIndex(PARAMS), RedisLexicalIndex(PARAMS, redis_url, "lexical-test")
    shared.clear()
    memory.add_arrays(keys, np.full(len(keys), 100), sigs)
    shared.add_arrays(keys[:100], np.full(100, 100), sigs[:100])
    for key, sig in zip(keys[100:].tolist(), sigs[100:], strict=True):
        shared.add(key, Signature(sig, 100))
    shared.add(1, Signature(sigs[0], 100))  # present already: nothing changes
    shared.add_arrays(keys[:150], np.full(150, 100), sigs[:150])  # nor here
    assert all(len(shared._lsh.keys.get(pickle.dumps(k))) == shared.bands for k in (1, 120, 250))  # no double entries
    assert len(shared) == len(memory) == 300
    assert _query_all(shared, sigs) == _query_all(memory, sigs)
    # Its own query and insert (one round trip, and two) keep datasketch's layout: datasketch's own query
    # (over the same list buckets) finds what `add` wrote, as the one-by-one reads of datasketch's query did.
    assert _query_all(shared, sigs) == [sorted(shared._lsh.query(shared._lean(Signature(s, 100)))) for s in sigs]
    assert shared.query(Signature(sigs[5], 0)) == []
    # Ordered alike: the exact copy (key 300) and its original (1) share every bucket, the newer first.
    assert shared.query(Signature(sigs[0], 100)) == memory.query(Signature(sigs[0], 100))
    assert shared.query(Signature(sigs[0], 100))[:2] == [300, 1]
    removed = list(range(1, 301, 3))
    shared.remove_many(removed)
    shared.remove_many(removed)  # another replica got there first: no error
    memory.remove_many(removed)
    assert _query_all(shared, sigs) == _query_all(memory, sigs) and len(shared) == 200
    # A second process on the same basename sees the same index and the same recorded change.
    shared.set_seq(42)
    again = RedisLexicalIndex(PARAMS, redis_url, "lexical-test")
    assert again.seq == 42 and len(again) == 200 and 2 in again


def test_the_redis_lsh_gives_a_query_the_newest_of_a_full_bucket(redis_url):
    """As the in-memory index does: its buckets are lists, oldest first, and a query reads their newest."""
    sig = np.random.default_rng(12).integers(0, 2**32 - 1, size=PARAMS.num_perm, dtype=np.uint64)
    index = RedisLexicalIndex(PARAMS, redis_url, "newest-test")
    index.clear()
    index.add_arrays(np.arange(1, 201), np.full(200, 100), np.tile(sig, (200, 1)))
    for key in range(201, 301):
        index.add(key, Signature(sig, 100))
    _check_newest(index, sig)
    # An emptied bucket leaves nothing behind: not its list, nor its name in its table.
    index.remove_many([1, 2, 2])
    assert len(index) == 0 and all(table.size() == 0 for table in index._lsh.hashtables)
    assert list(index._redis.scan_iter(match=b"newest-test_*")) == []


def test_a_redis_lsh_of_datasketch_sets_is_cleared_to_be_built_again(redis_url, caplog):
    """Samestory kept the buckets as datasketch's sets before 2026-11-23, and recorded no layout."""
    sig = np.random.default_rng(13).integers(0, 2**32 - 1, size=PARAMS.num_perm, dtype=np.uint64)
    RedisLexicalIndex(PARAMS, redis_url, "layout-test").clear()
    config = {"type": "redis", "basename": b"layout-test", "redis": {"host": "127.0.0.1", "port": _port(redis_url)}}
    old = MinHashLSH(threshold=PARAMS.lsh_threshold, num_perm=PARAMS.num_perm, storage_config=config)
    old.insert(7, LeanMinHash(seed=PARAMS.seed, hashvalues=sig, scheme=PARAMS.scheme))
    fields = {**PARAMS.as_dict(), "lsh.bands": old.b, "lsh.rows": old.r}
    old.keys._redis.set("layout-test:params", json.dumps(fields, sort_keys=True))
    old.keys._redis.set("layout-test:seq", 5)
    with caplog.at_level(logging.WARNING, logger="samestory.lexical"):
        index = RedisLexicalIndex(PARAMS, redis_url, "layout-test")
    assert "keeps its buckets as sets" in caplog.text
    assert len(index) == 0 and index.seq == 0  # the detector builds it again from the store
    index.add(7, Signature(sig, 100))
    assert index.query(Signature(sig, 100), per_bucket=5) == [7]
    assert RedisLexicalIndex(PARAMS, redis_url, "layout-test").query(Signature(sig, 100)) == [7]  # kept now


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def test_the_redis_lsh_refuses_other_parameters_and_keeps_basenames_apart(redis_url):
    from samestory.errors import ConfigurationError, IncompatibleData

    first = RedisLexicalIndex(PARAMS, redis_url, "params-test")
    first.clear()
    first.add(7, Signature(_planted(1, seed=6)[1][0], 10))
    with pytest.raises(IncompatibleData, match="other parameters"):
        RedisLexicalIndex(LexicalParams(lsh_threshold=0.7), redis_url, "params-test")
    other = RedisLexicalIndex(LexicalParams(lsh_threshold=0.7), redis_url, "params-test-other")
    other.clear()
    assert len(other) == 0 and len(first) == 1
    first.clear()
    assert len(first) == 0 and len(RedisLexicalIndex(PARAMS, redis_url, "params-test")) == 0
    with pytest.raises(ConfigurationError, match="cannot reach the Redis LSH"):
        RedisLexicalIndex(PARAMS, "redis://127.0.0.1:1/0", "x")
