"""The embedder: batch planning, micro-batching across callers, and the bf16 and int8 backends."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from samestory.config import Settings
from samestory.detector import Detector
from samestory.errors import ConfigurationError, IncompatibleData
from samestory.records import ArticleIn
from samestory.semantic import (
    BatchingEmbedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    VectorIndex,
    default_model_path,
    open_embedder,
    plan_batches,
)
from samestory.store import SQLiteStore


def _cost(lengths, batches, call_cost):
    return sum(call_cost + len(b) * max(lengths[i] for i in b) for b in batches)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 256), max_size=60), st.integers(256, 4096), st.integers(0, 200))
def test_batch_plan_covers_every_text_once_within_the_budget(lengths, budget, call_cost):
    batches = plan_batches(lengths, budget, call_cost)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= budget
    # Never worse than the two naive plans: one text per call, or greedy fill in length order.
    assert _cost(lengths, batches, call_cost) <= _cost(lengths, [[i] for i in range(len(lengths))], call_cost)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=1, max_size=7), st.integers(0, 150))
def test_batch_plan_is_the_cheapest_cut_of_the_sorted_texts(lengths, call_cost):
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    best = float("inf")
    for cuts in itertools.product([False, True], repeat=len(order) - 1):
        batches, current = [], [order[0]]
        for index, cut in zip(order[1:], cuts, strict=True):
            if cut:
                batches.append(current)
                current = []
            current.append(index)
        batches.append(current)
        if all(len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 1024 for b in batches):
            best = min(best, _cost(lengths, batches, call_cost))
    assert _cost(lengths, plan_batches(lengths, 1024, call_cost), call_cost) == best


@pytest.fixture(scope="module")
def two_calls() -> SentenceTransformerEmbedder:
    """torch fp32 as the server runs it by default: two one-thread model calls at once."""
    return SentenceTransformerEmbedder(threads=2, calls=2)


@pytest.mark.parametrize("backend", ["embedder", "two_calls", "int8"])
def test_planned_batches_give_the_vectors_of_one_text_at_a_time(request, backend, seed_texts):
    embedder = request.getfixturevalue(backend)
    texts = [t[: 40 * (n + 1)] for n, t in enumerate(itertools.islice(itertools.cycle(seed_texts.values()), 12))]
    one_by_one = np.vstack([embedder.raw_encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(embedder.encode(texts), one_by_one, atol=2e-5)


@pytest.mark.parametrize("backend", ["embedder", "two_calls", "int8"])
def test_concurrent_callers_share_model_calls_and_get_their_own_rows(request, backend, seed_texts):
    embedder = request.getfixturevalue(backend)
    texts = [p for t in seed_texts.values() for p in t.split("\n") if len(p.split()) > 5][:48]
    expected = embedder.encode(texts)
    batching = BatchingEmbedder(embedder, wait=0.05)
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(8)

    def call(n: int) -> None:
        barrier.wait()
        results[n] = batching.encode(texts[n * 6 : n * 6 + 6])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batching.close()
    if embedder.batches_texts:
        assert batching.batches < 8  # calls were merged
    else:
        assert batching.batches == 8  # each text runs alone anyway: each caller's texts a call of their own
    np.testing.assert_allclose(np.vstack([results[n] for n in range(8)]), expected, atol=2e-5)


@pytest.mark.parametrize("backend", ["embedder", "two_calls", "int8"])
def test_a_lead_is_pooled_from_its_documents_pass(request, backend, seed_texts):
    embedder = request.getfixturevalue(backend)
    doc = " ".join(next(iter(seed_texts.values())).split()[:150])
    lead = doc[: doc.index(".") + 1]
    other = "A different text altogether about the weather in spring."
    pooled = embedder.encode([other, lead, doc], prefixes=[(1, 2)])
    alone = embedder.encode([other, lead, doc])
    np.testing.assert_allclose(pooled[[0, 2]], alone[[0, 2]], atol=2e-5)  # the other rows as ever
    tokens = _token_states(embedder, doc)
    count = _token_count(embedder, lead) - 1
    by_hand = tokens[:count].mean(axis=0)
    np.testing.assert_allclose(pooled[1], by_hand / np.linalg.norm(by_hand), atol=1e-5)
    assert 0.6 < float(pooled[1] @ alone[1]) < 0.9999  # the lead's meaning, in its document's context
    with pytest.raises(ValueError, match="prefix"):
        embedder.encode([other, doc], prefixes=[(0, 1)])


class _InFlight:
    """Counts the calls inside `call()` at once; each takes long enough for every caller to arrive."""

    def __init__(self) -> None:
        self.running = self.most = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def call(self):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


@pytest.mark.parametrize(("backend", "at_once"), [("embedder", 1), ("two_calls", 2)])
def test_torch_runs_as_many_model_calls_at_once_as_it_is_told(request, backend, at_once, seed_texts):
    embedder = request.getfixturevalue(backend)
    texts = [p for t in seed_texts.values() for p in t.split("\n") if len(p.split()) > 5][:8]
    forward = embedder._run
    in_flight, threads = _InFlight(), []

    def watched(features):
        threads.append(torch.get_num_threads())
        with in_flight.call():
            return forward(features)

    expected = embedder.encode(texts)
    embedder._run = watched
    try:
        alone = embedder.encode(texts[:1])
        assert threads == [2]  # a call that starts alone takes both threads
        with ThreadPoolExecutor(4) as pool:  # four callers at once, two texts each
            got = list(pool.map(embedder.encode, [texts[n : n + 2] for n in range(0, 8, 2)]))
    finally:
        del embedder._run
    assert in_flight.most == at_once
    assert min(threads) == 2 // at_once  # beside another, a call takes its share
    np.testing.assert_allclose(np.vstack(got), expected, atol=2e-5)
    np.testing.assert_allclose(alone, expected[:1], atol=2e-5)
    assert embedder.parallel_calls == at_once


def test_the_batcher_keeps_each_callers_prefixes_with_its_own_rows(embedder, seed_texts):
    docs = [" ".join(t.split()[:80]) for t in seed_texts.values()]
    requests = [([f"filler {n} " * 3, d[: d.index(" ", 60)], d], [(1, 2)]) for n, d in enumerate(docs)]
    expected = [embedder.encode(texts, prefixes) for texts, prefixes in requests]
    batching = BatchingEmbedder(embedder, wait=0.05)
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(requests))

    def call(n: int) -> None:
        barrier.wait()
        results[n] = batching.encode(*requests[n])

    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batching.close()
    assert batching.batches < len(requests)
    for n, rows in enumerate(expected):
        np.testing.assert_allclose(results[n], rows, atol=2e-5)


def _token_count(embedder, text: str) -> int:
    """[CLS], the text's tokens and [SEP], as the backend's own tokenizer counts them."""
    if isinstance(embedder, OnnxEmbedder):
        return len(embedder._token_ids([text])[0])
    return len(embedder._model.tokenizer(text)["input_ids"])


def _token_states(embedder, text: str) -> np.ndarray:
    if isinstance(embedder, OnnxEmbedder):
        return embedder._states(embedder._token_ids([text]))[0]
    return embedder._forward([text])[0][1]


class _Slow:
    """A model whose calls take a while, counted as they run."""

    identity, dim = "slow", 4

    def __init__(self, parallel_calls: int) -> None:
        self.parallel_calls = parallel_calls
        self.in_flight = _InFlight()

    def encode(self, texts, prefixes=()):
        with self.in_flight.call():
            return np.array([[len(t)] * 4 for t in texts], dtype=np.float32)


@pytest.mark.parametrize("parallel_calls", [1, 2])
def test_the_batcher_runs_as_many_model_calls_at_once_as_the_embedder_can(parallel_calls):
    slow = _Slow(parallel_calls)
    batching = BatchingEmbedder(slow, wait=0)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda n: batching.encode(["x" * n]), range(1, 17)))
    batching.close()
    assert slow.in_flight.most == parallel_calls
    assert [int(r[0, 0]) for r in results] == list(range(1, 17))  # each caller its own rows
    assert not any(worker.is_alive() for worker in batching._workers)


@pytest.mark.parametrize("backend", ["embedder", "two_calls"])
def test_a_call_made_now_runs_beside_every_running_call_on_one_thread(request, backend, seed_texts):
    embedder = request.getfixturevalue(backend)
    units = ["this war is becoming internationalized", "we discussed the involvement of North Korean forces"]
    expected = embedder.encode(units)
    with ThreadPoolExecutor(2) as pool:
        for _ in range(embedder.parallel_calls):  # every turn taken, as by batches of documents
            embedder._calls.acquire()
        try:
            got = pool.submit(embedder.encode_now, units).result(timeout=60)
            waiting = pool.submit(embedder.encode, units)
            with pytest.raises(TimeoutError):
                waiting.result(timeout=0.5)  # a call in turn waits
        finally:
            for _ in range(embedder.parallel_calls):
                embedder._calls.release()
        np.testing.assert_allclose(waiting.result(timeout=60), expected, atol=2e-5)
    np.testing.assert_allclose(got, expected, atol=2e-5)


class _Alone:
    """A model that runs each text alone, one call at a time; each call takes a while."""

    identity, dim, parallel_calls, batches_texts = "alone", 4, 1, False

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts, prefixes=()):
        self.calls.append(list(texts))
        time.sleep(0.05)
        return np.array([[len(t)] * 4 for t in texts], dtype=np.float32)


def test_callers_of_a_model_that_runs_texts_alone_are_not_merged_and_get_their_rows_when_made():
    alone = _Alone()
    batching = BatchingEmbedder(alone, wait=0.5)  # a merging batcher would wait for company
    done: dict[int, float] = {}
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batching.encode, ["x" * n, "y"]) for n in range(1, 5)]
        for n, future in enumerate(futures):
            future.add_done_callback(lambda _, n=n: done.__setitem__(n, time.monotonic()))
        results = [f.result(timeout=60) for f in futures]
    batching.close()
    assert sorted(map(tuple, alone.calls)) == [("x" * n, "y") for n in range(1, 5)]  # one caller a call
    assert [int(r[0, 0]) for r in results] == [1, 2, 3, 4]
    assert max(done.values()) - min(done.values()) > 0.1  # each answered as its call ended, not all at once


class _Busy:
    """A model whose queued calls wait for `free`; a call made now does not."""

    identity, dim, parallel_calls = "busy", 4, 1

    def __init__(self) -> None:
        self.free = threading.Event()

    def encode(self, texts, prefixes=()):
        self.free.wait(60)
        return np.ones((len(texts), 4), dtype=np.float32)

    def encode_now(self, texts):
        return np.full((len(texts), 4), 2, dtype=np.float32)


def test_the_batchers_call_made_now_passes_its_queue():
    busy = _Busy()
    batching = BatchingEmbedder(busy, wait=0)
    with ThreadPoolExecutor(2) as pool:
        queued = pool.submit(batching.encode, ["document"])
        assert batching.encode_now(["unit", "unit"]).tolist() == [[2.0] * 4] * 2  # the worker is busy
        assert not queued.done()
        busy.free.set()
        assert queued.result(timeout=60).shape == (1, 4)
    batching.close()
    # An embedder without a call made now runs the texts directly, still past the queue.
    failing = BatchingEmbedder(_Failing(), wait=0)
    with pytest.raises(RuntimeError, match="the model broke"):
        failing.encode_now(["a"])
    assert failing.encode(["b"]).shape == (1, 4)
    failing.close()


class _Failing:
    identity, dim = "failing", 4

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, prefixes=()):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the model broke")
        return np.ones((len(texts), 4), dtype=np.float32)


def test_a_failed_model_call_reaches_its_callers_and_the_batcher_goes_on():
    batching = BatchingEmbedder(_Failing(), wait=0)
    with pytest.raises(RuntimeError, match="the model broke"):
        batching.encode(["a"])
    assert batching.encode(["b", "c"]).shape == (2, 4)
    batching.close()


class _Closable:
    identity, dim = "closable", 4

    def __init__(self) -> None:
        self.closed = 0

    def encode(self, texts, prefixes=()):
        assert not self.closed, "encode after close"
        return np.ones((len(texts), 4), dtype=np.float32)

    def close(self) -> None:
        self.closed += 1


def test_the_batcher_closes_the_model_only_when_it_owns_it():
    lent, owned = _Closable(), _Closable()
    for model, owns in ((lent, False), (owned, True)):
        batching = BatchingEmbedder(model, wait=0, owns=owns)
        assert batching.encode(["a"]).shape == (1, 4)
        batching.close()
    assert (lent.closed, owned.closed) == (0, 1)


class _Policies:
    """Records the scheduling policy of the thread each call runs on; two calls at once."""

    identity, dim = "policies", 4
    parallel_calls = 2
    batches_texts = False

    def __init__(self, on_caller: bool) -> None:
        self.calls_on_caller = on_caller
        self.seen: dict[str, int] = {}
        self._both = threading.Barrier(2, timeout=10)  # both workers take a call

    def encode(self, texts, prefixes=()):
        self.seen[threading.current_thread().name] = os.sched_getscheduler(0)
        self._both.wait()
        return np.ones((len(texts), 4), dtype=np.float32)


@pytest.mark.parametrize(("on_caller", "idle_calls", "idle"), [(True, 1, 1), (True, 5, 1), (True, 0, 0), (False, 1, 0)])
def test_the_batcher_runs_some_model_calls_at_idle_priority(on_caller, idle_calls, idle):
    """Calls that run on the calling thread (onnx-int8) may run at idle priority, never all of them."""
    model = _Policies(on_caller)
    batching = BatchingEmbedder(model, wait=0, idle_calls=idle_calls)
    with ThreadPoolExecutor(2) as pool:
        assert [v.shape for v in pool.map(batching.encode, [["a"], ["b"]])] == [(1, 4), (1, 4)]
    batching.close()
    assert sorted(model.seen) == ["samestory-embedder-0", "samestory-embedder-1"]
    assert sorted(model.seen.values()) == sorted([os.SCHED_OTHER] * (2 - idle) + [os.SCHED_IDLE] * idle)
    if idle:
        assert model.seen["samestory-embedder-1"] == os.SCHED_IDLE


def _model_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("samestory-model")]


def test_a_detector_that_loaded_its_model_lets_go_of_the_models_threads(tmp_path):
    from samestory.server import build_detector

    before = _model_threads()
    detector = build_detector(Settings.load(env={}, data_dir=tmp_path / "data", model_calls=2))
    # Texts of two lengths make two planned batches, which run side by side on the model's threads.
    texts = ["short"] * 8 + [" ".join(["long"] * 200)] * 8
    assert detector.embedder.encode(texts).shape == (16, 384)
    assert len(_model_threads()) > len(before)
    detector.close()
    assert _model_threads() == before


@pytest.fixture(scope="module")
def bf16() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(threads=2, backend="torch-bf16")


def test_bf16_vectors_agree_with_fp32_and_never_share_its_index(tmp_path, embedder, bf16, seed_texts):
    texts = list(seed_texts.values())
    cosines = np.sum(embedder.encode(texts) * bf16.encode(texts), axis=1)
    assert cosines.min() > 0.9999
    assert bf16.identity != embedder.identity and "torch-bf16" in bf16.identity
    _refuses_the_data_of(embedder, bf16, tmp_path, texts[0])


@pytest.mark.parametrize("backend", ["embedder", "bf16"])
def test_torch_runs_the_transformer_as_one_traced_graph_with_the_modules_numbers(request, backend, seed_texts):
    embedder = request.getfixturevalue(backend)
    calls = []
    # The transformer's layers, attention, linear maps and norms: modules run one by one from Python.
    hooks = [
        module.register_forward_pre_hook(lambda module, args: calls.append(module))
        for module in embedder._model[0].model.modules()
    ]
    # Paragraphs of every length in one batch, so most rows are padded; a lead pooled from its document.
    texts = sorted({p for t in seed_texts.values() for p in t.split("\n") if p.strip()}, key=len)[::7]
    texts.append(texts[-1][: len(texts[-1]) // 3])
    prefixes = [(len(texts) - 1, len(texts) - 2)]
    preprocess, tokenized = embedder._model.preprocess, []

    def watched(texts, *args, **kwargs):
        tokenized.append(texts)
        return preprocess(texts, *args, **kwargs)

    embedder._model.preprocess = watched
    try:
        traced = embedder.encode(texts, prefixes)
        assert embedder.traced and not calls  # no module ran in Python
        assert not tokenized  # the graph's inputs are padded from the ids that planned the batches
        with embedder.modules_only():
            modules = embedder.encode(texts, prefixes)
        assert calls and tokenized  # the hook sees the modules when they run, on preprocess's inputs
    finally:
        del embedder._model.preprocess
        for hook in hooks:
            hook.remove()
    np.testing.assert_array_equal(traced, modules)


def test_a_transformer_that_cannot_be_traced_the_same_runs_module_by_module(embedder, monkeypatch, caplog):
    from samestory.semantic import _TracedTransformer

    def broken(*args, **kwargs):
        raise RuntimeError("cannot trace this")

    with monkeypatch.context() as patch:
        patch.setattr(torch.jit, "trace", broken)
        assert _TracedTransformer.trace(embedder._model, embedder._autocast) is None
    assert "model cannot be traced (cannot trace this)" in caplog.text
    freeze = torch.jit.freeze

    def off_by_a_little(module):
        graph = freeze(module)
        return lambda *tensors: tuple(out + 1e-4 for out in graph(*tensors))

    with monkeypatch.context() as patch:
        patch.setattr(torch.jit, "freeze", off_by_a_little)
        assert _TracedTransformer.trace(embedder._model, embedder._autocast) is None
    assert "token_embeddings differ from the modules'" in caplog.text
    assert _TracedTransformer.trace(embedder._model, embedder._autocast) is not None


def test_graph_inputs_come_from_preprocess_where_padded_ids_would_differ(embedder, monkeypatch):
    names = embedder._graph.names
    assert embedder._pads_ids and embedder._same_inputs(names)
    with monkeypatch.context() as patch:  # ids cut one token short of the read: not preprocess's
        patch.setattr(embedder, "max_tokens", embedder.max_tokens - 1)
        assert not embedder._same_inputs(names)

    def unpaddable(ids, names):
        raise TypeError("no padding token")  # as np.full raises for a tokenizer whose pad_token_id is None

    with monkeypatch.context() as patch:
        patch.setattr(embedder, "_padded", unpaddable)
        assert not embedder._same_inputs(names)


def test_int8_vectors_agree_with_fp32_and_never_share_its_index(tmp_path, embedder, int8, seed_texts):
    texts = list(seed_texts.values())
    lead = texts[0][:300]
    # Documents, and a lead pooled from its document's token states, as the detector asks for them.
    mine = int8.encode([*texts, lead], prefixes=[(len(texts), 0)])
    fp32 = embedder.encode([*texts, lead], prefixes=[(len(texts), 0)])
    assert np.sum(mine * fp32, axis=1).min() > 0.98
    assert np.allclose(np.linalg.norm(mine, axis=1), 1, atol=1e-5)
    assert "onnx-int8@" in int8.identity and int8.identity != embedder.identity
    _refuses_the_data_of(embedder, int8, tmp_path, texts[0])


def _refuses_the_data_of(built_with, other, data_dir, text: str) -> None:
    """A data directory built with one backend's vectors does not open with another's, and says which."""
    settings = Settings.load(env={}, data_dir=data_dir, snapshot_seconds=0)
    detector = Detector(settings, SQLiteStore(data_dir), built_with)
    detector.ingest(ArticleIn(article_id="a", text=text))
    detector.store.close()
    store = SQLiteStore(data_dir)
    with pytest.raises(IncompatibleData, match=re.escape(other.identity)):
        Detector(settings, store, other)
    store.close()


def test_every_detector_keeps_faiss_to_one_thread(tmp_path, embedder):
    # Not only the server's: `samestory eval` and the benches build their detectors directly.
    faiss.omp_set_num_threads(2)
    detector = Detector(Settings.load(env={}, data_dir=tmp_path, snapshot_seconds=0), SQLiteStore(tmp_path), embedder)
    try:
        assert faiss.omp_get_max_threads() == 1
    finally:
        detector.close()


def test_the_int8_model_is_converted_once_and_reused(tmp_path):
    first = open_embedder(backend="onnx-int8", cache_dir=tmp_path)
    converted = list(tmp_path.glob("*.onnx"))
    assert len(converted) == 1 and not list(tmp_path.glob(".converting-*"))
    stamp = converted[0].stat().st_mtime_ns
    second = open_embedder(backend="onnx-int8", cache_dir=tmp_path)
    assert converted[0].stat().st_mtime_ns == stamp, "the cached model was converted again"
    assert second.identity == first.identity
    # An upgrade of the converters converts again and removes what the old ones left; other models' files stay.
    left_behind = tmp_path / re.sub(r"-torch[^-]+-", "-torch1.0-", converted[0].name)
    other_model = tmp_path / f"other-model-{converted[0].name.split('-', 1)[1]}"
    for file in (left_behind, other_model):
        file.write_bytes(b"an old conversion")
    converted[0].unlink()
    third = open_embedder(backend="onnx-int8", cache_dir=tmp_path)
    assert sorted(tmp_path.glob("*.onnx")) == sorted([converted[0], other_model])
    assert third.identity == first.identity


def test_a_converted_int8_model_starts_without_torch(int8, model_cache, seed_texts):
    """Once converted, the int8 backend runs on ONNX Runtime and the model folder's tokenizer alone; and
    the tokenizer starts no threads of its own (a pool whose workers spin between the model's calls)."""
    text = next(iter(seed_texts.values()))[:2000]
    script = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from samestory.semantic import open_embedder\n"
        f"model = open_embedder(backend='onnx-int8', threads=2, cache_dir=Path({str(model_cache)!r}))\n"
        "threads = len(os.listdir('/proc/self/task'))\n"
        "text = sys.stdin.read()\n"
        "model.encode([text[:300], text[:200], text[:100]])\n"
        "vector = model.encode([text])[0]\n"
        "threads = len(os.listdir('/proc/self/task')) - threads\n"
        "print(json.dumps({'identity': model.identity, 'vector': vector.tolist(), 'torch': 'torch' in sys.modules,"
        " 'threads': threads}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TOKENIZERS_PARALLELISM"}  # the service's own default
    done = subprocess.run(
        [sys.executable, "-c", script], input=text, capture_output=True, text=True, timeout=120, check=True, env=env
    )
    started = json.loads(done.stdout.splitlines()[-1])
    assert started["torch"] is False, "starting on a converted model loaded torch"
    assert started["threads"] == 0, "encoding started threads"
    assert started["identity"] == int8.identity
    np.testing.assert_allclose(np.array(started["vector"], dtype=np.float32), int8.encode([text])[0], atol=1e-6)


def test_int8_tokenizes_as_sentence_transformers_does(int8, embedder, seed_texts):
    texts = [*seed_texts.values(), "“Quoted” — naïve café, 中文, 😀 and a URL: https://example.com/a?b=1"]
    expected = embedder._model.tokenizer(texts, truncation=True, max_length=int8.max_tokens)["input_ids"]
    assert int8._token_ids(texts) == expected


def _model_folder_copy(target: Path) -> Path:
    """The shipped model folder, its files linked, for a test to change one of them."""
    source = default_model_path()
    for item in source.rglob("*"):
        if item.is_file():
            (target / item.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / item.relative_to(source)).symlink_to(item)
    return target


def test_int8_refuses_a_model_it_would_run_wrongly(tmp_path):
    cls_pooled = _model_folder_copy(tmp_path / "cls-pooled")
    pooling = cls_pooled / "1_Pooling" / "config.json"
    config = {**json.loads(pooling.read_text()), "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    pooling.unlink()
    pooling.write_text(json.dumps(config))
    with pytest.raises(ConfigurationError, match="pools its token states by cls_token"):
        OnnxEmbedder(cls_pooled, cache_dir=tmp_path / "cache")
    slow_tokenizer = _model_folder_copy(tmp_path / "no-fast-tokenizer")
    (slow_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ConfigurationError, match="no tokenizer.json"):
        OnnxEmbedder(slow_tokenizer, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists(), "a model it refuses was converted"


def test_a_model_cache_it_cannot_write_is_a_configuration_error(tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    with pytest.raises(ConfigurationError, match="cannot write to .*SAMESTORY_MODEL_CACHE"):
        open_embedder(backend="onnx-int8", cache_dir=not_a_folder / "cache")


@pytest.mark.parametrize("backend", ["torch-fp32", "onnx-int8"])
def test_the_model_reads_max_tokens_of_a_text_and_that_is_part_of_its_identity(
    tmp_path, model_cache, embedder, backend, seed_texts
):
    short = open_embedder(threads=2, backend=backend, cache_dir=model_cache, max_tokens=32)
    text = min(seed_texts.values(), key=len)
    head, longer = text[:600], text[:600] + " Later paragraphs say something else entirely."
    assert np.array_equal(*short.encode([head, longer])), "words past the first 32 tokens moved the vector"
    # The full-length model does read them, and vectors of one length never meet the other's.
    assert float(np.dot(*embedder.encode([head, longer]))) < 0.9999
    assert "/32/" in short.identity and "/256/" in embedder.identity
    _refuses_the_data_of(embedder, short, tmp_path, text)


def test_a_length_the_model_cannot_read_is_refused():
    with pytest.raises(ConfigurationError, match="between 8 and 512 tokens"):
        SentenceTransformerEmbedder(max_tokens=1024)


def test_a_backend_is_run_by_its_own_embedder():
    with pytest.raises(ConfigurationError, match="use open_embedder"):
        SentenceTransformerEmbedder(backend="onnx-int8")


def test_an_unknown_backend_is_refused():
    with pytest.raises(ConfigurationError, match="torch-fp32, torch-bf16, onnx-int8"):
        SentenceTransformerEmbedder(backend="openvino-int8")


# ------------------------------------------------------------ the vector index


def _unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """Vectors around 40 topic centres, as news embeddings cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _top(index: VectorIndex, queries: np.ndarray, k: int = 1) -> list[list[int]]:
    return [[key for key, _ in index.search(q, k)] for q in queries]


def test_vector_index_moves_to_an_inverted_file_and_keeps_answering():
    dim, n = 32, 1200
    vectors = _unit_vectors(n, dim, seed=1)
    keys = np.arange(1, n + 1, dtype=np.int64)
    exact, index = VectorIndex(dim), VectorIndex(dim, ivf_from=8 * 39, ivf_lists=8, ivf_probe=3)
    exact.add(keys, vectors)
    index.add(keys[:300], vectors[:300])
    assert index.kind == "flat"
    index.add(keys[300:], vectors[300:])
    assert index.kind == "flat" and index.due()
    index.use_centroids(index.train(index.sample()))
    assert index.kind == "ivf8" and len(index) == n and not index.due()
    edited = vectors + 0.05 * np.random.default_rng(2).standard_normal(vectors.shape).astype(np.float32)
    edited /= np.linalg.norm(edited, axis=1, keepdims=True)
    # Exact search finds the original of every edited copy first; the inverted file, searching 3 of
    # its 8 lists, nearly every one.
    originals = [[int(k)] for k in keys]
    assert _top(exact, edited) == originals
    found = sum(a == b for a, b in zip(_top(index, edited), originals, strict=True)) / n
    assert found >= 0.95, found
    assert np.allclose(index.vector(17), vectors[16])
    index.remove([17, 18, 99999])
    assert len(index) == n - 2 and 17 not in index
    assert _top(index, edited[16:18]) != [[17], [18]]
    # Rebuilt from its centroids and recorded lists (what a snapshot holds), it answers the same.
    lists = index.lists(keys)
    assert (lists[[16, 17]] == -1).all() and (lists[lists >= 0] < 8).all()
    again = VectorIndex(dim, ivf_from=8 * 39, ivf_lists=8, ivf_probe=3, centroids=index.centroids)
    lists[:50] = -1  # unknown lists are assigned afresh
    again.add(keys, vectors, lists)
    again.remove([17, 18])
    assert again.kind == "ivf8" and np.array_equal(again.lists(keys), index.lists(keys))
    assert _top(again, edited, k=5) == _top(index, edited, k=5)


def test_vector_index_ignores_centroids_of_another_list_count():
    dim = 16
    vectors = _unit_vectors(100, dim, seed=3)
    index = VectorIndex(dim, ivf_from=0, ivf_lists=8, centroids=vectors[:8])
    assert index.kind == "flat"  # inverted files are off
    index = VectorIndex(dim, ivf_from=8 * 39, ivf_lists=4, centroids=vectors[:8])
    assert index.kind == "flat"  # trained for another setting: retrained when the count is reached
