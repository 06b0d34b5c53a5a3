"""The index side as the archive grows: query latency, memory per article, start-up, and a windowed stream.

    .venv/bin/python bench/index_scale.py [--sizes 10000 100000 1000000] [--queries 1000] [--stream 100000]

For each size N, fills the service's own LexicalIndex (datasketch MinHash-LSH
on compact storage) and VectorIndex (FAISS: exact up to SAMESTORY_IVF_FROM
articles, an inverted file above) with N synthetic articles, generated
reproducibly (seeded, like faiss.contrib.datasets.SyntheticDataset): random
MinHash signatures of the service's parameters and random unit vectors.
Queries are stored articles with 30% of their signature and some of their
vector changed, so each query has real candidates, as an edited copy would.

Prints, per size: LSH query and vector search p50/p99 (the index side of a
Check; the model's share is bench/ingest_throughput.py's), the recall of the
edited copies' originals, resident memory added per article by each index,
and start-up: writing an index snapshot, reading it back and rebuilding both
indexes from it (what a restart does before replaying the store's later
changes). Baselines in the same run: exact (flat) search at the same size,
and datasketch's own in-memory LSH storage at the smallest size.

--stream W then feeds 5 W articles through both indexes with a window of W
articles, evicting in batches of 1% as the service does, and prints the
resident memory after each W: it must stay flat.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
from datasketch import LeanMinHash, MinHashLSH
from samestory.config import Settings
from samestory.lexical import LexicalIndex, LexicalParams, Signature
from samestory.semantic import VectorIndex
from samestory.snapshot import Snapshot, read_snapshot, write_snapshot

DIM = 384


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def synthetic(n: int, num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 2**32 - 1, size=(n, num_perm), dtype=np.uint64)
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return signatures, vectors


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {p50 * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms"


def build_lexical(keys, signatures, params: LexicalParams) -> LexicalIndex:
    lexical = LexicalIndex(params)
    lexical.add_arrays(keys, np.full(len(keys), 500), signatures)
    return lexical


def build_vectors(keys, vectors, settings: Settings, lists=None, centroids=None) -> VectorIndex:
    index = VectorIndex(DIM, settings.ivf_from, settings.ivf_lists, settings.ivf_probe, centroids)
    for start in range(0, len(keys), 50_000):  # as a rebuild from the store adds them
        part = slice(start, start + 50_000)
        index.add(keys[part], vectors[part], None if lists is None else lists[part])
        index.train_when_due()  # as the service does at start-up, when the count is reached
    return index


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def grown(fn, *args):
    """What fn returns, and the resident memory it added."""
    gc.collect()
    before = rss_bytes()
    out = fn(*args)
    gc.collect()
    return out, rss_bytes() - before


def edited_queries(n, signatures, vectors, queries, params):
    rng = np.random.default_rng(n + 1)
    for target in rng.integers(0, n, size=queries):
        sig = signatures[target].copy()
        changed = rng.choice(params.num_perm, size=int(0.3 * params.num_perm), replace=False)
        sig[changed] = rng.integers(0, 2**32 - 1, size=len(changed), dtype=np.uint64)
        vec = vectors[target] + rng.standard_normal(DIM).astype(np.float32) * 0.02
        yield int(target + 1), sig, vec / np.linalg.norm(vec)


def search_times(index: VectorIndex, queries) -> tuple[list[float], int]:
    times, found = [], 0
    for key, _, vec in queries:
        hits, took = timed(index.search, vec, 20)
        times.append(took)
        found += bool(hits) and hits[0][0] == key
    return times, found


def measure(n: int, queries: int, settings: Settings, folder: Path, baseline_lsh: bool) -> dict[str, str]:
    params = settings.lexical
    signatures, vectors = synthetic(n, params.num_perm, seed=n)
    keys = np.arange(1, n + 1, dtype=np.int64)
    out: dict[str, str] = {}
    (lexical, lsh_memory), lsh_build = timed(grown, build_lexical, keys, signatures, params)
    (semantic, vector_memory), vector_build = timed(grown, build_vectors, keys, vectors, settings)
    probes = list(edited_queries(n, signatures, vectors, queries, params))
    lsh_times, lsh_found = [], 0
    for key, sig, _ in probes:
        hits, took = timed(lexical.query, Signature(sig, 500))
        lsh_times.append(took)
        lsh_found += key in hits
    out["lsh"] = f"{percentiles(lsh_times)}  recall {lsh_found / queries:.3f}"
    vector_times, vector_found = search_times(semantic, probes)
    out[semantic.kind] = f"{percentiles(vector_times)}  recall@1 {vector_found / queries:.3f}"
    if semantic.kind != "flat":
        exact = VectorIndex(DIM)
        exact.add(keys, vectors)
        flat_times, flat_found = search_times(exact, probes)
        out["flat"] = f"{percentiles(flat_times)}  recall@1 {flat_found / queries:.3f}  (baseline)"
        del exact
    out["memory"] = (
        f"{(lsh_memory + vector_memory) / n / 1024:.2f} KB per article "
        f"(LSH {lsh_memory / n / 1024:.2f}, vectors {vector_memory / n / 1024:.2f})"
    )
    if baseline_lsh:

        def datasketch_default():
            lsh = MinHashLSH(threshold=params.lsh_threshold, num_perm=params.num_perm)
            with lsh.insertion_session() as session:
                for key, sig in zip(keys.tolist(), signatures, strict=True):
                    session.insert(key, LeanMinHash(seed=params.seed, hashvalues=sig, scheme=params.scheme))
            return lsh

        (reference, memory), took = timed(grown, datasketch_default)
        out["memory"] += f"; datasketch's own LSH storage {memory / n / 1024:.2f} KB, built in {took:.1f} s (baseline)"
        del reference
    out["build"] = f"LSH {lsh_build:.1f} s, vectors {vector_build:.1f} s"

    path = folder / f"index-{n}.snapshot"
    centroids = semantic.centroids if semantic.centroids is not None else np.zeros((0, DIM), np.float32)
    snap = Snapshot(
        1,
        {"bench": "1"},
        keys,
        np.full(n, 500, np.int64),
        signatures,
        vectors,
        semantic.lists(keys),
        np.zeros(n),
        centroids,
    )
    size, written = timed(write_snapshot, path, snap)
    del lexical, semantic, snap
    gc.collect()
    started = time.perf_counter()
    loaded, read = timed(read_snapshot, path)
    build_lexical(loaded.keys, loaded.signatures, params)
    build_vectors(
        loaded.keys, loaded.vectors, settings, loaded.lists, loaded.centroids if len(loaded.centroids) else None
    )
    out["snapshot"] = f"{size / 1e6:.0f} MB written in {written:.1f} s"
    out["start_up"] = f"{time.perf_counter() - started:.1f} s (read and verify {read:.1f} s)"
    path.unlink()
    return out


def stream(window: int, settings: Settings) -> list[str]:
    """5 windows of articles through both indexes, evicting the oldest in 1% batches."""
    params = settings.lexical
    total = 5 * window
    signatures, vectors = synthetic(total, params.num_perm, seed=7)
    keys = np.arange(1, total + 1, dtype=np.int64)
    lexical = LexicalIndex(params)
    semantic = VectorIndex(DIM, settings.ivf_from, settings.ivf_lists, settings.ivf_probe)
    gc.collect()
    before = rss_bytes()
    lines = []
    batch = max(1, window // 100)
    for start in range(0, total, batch):
        part = slice(start, start + batch)
        for key, sig in zip(keys[part].tolist(), signatures[part], strict=True):
            lexical.add(key, Signature(sig, 500))
        semantic.add(keys[part], vectors[part])
        semantic.train_when_due()
        expired = keys[max(0, start + batch - window - batch) : max(0, start + batch - window)].tolist()
        for key in expired:
            lexical.remove(key)
        semantic.remove(expired)
        if (start + batch) % window == 0:
            gc.collect()
            lines.append(
                f"after {start + batch:>9,} articles: {len(semantic):>8,} indexed, "
                f"{(rss_bytes() - before) / 1e6:7.1f} MB added, vector index {semantic.kind}"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--stream", type=int, default=0, help="window size for the stream run (0: none)")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-lsh", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = Settings.load()  # SAMESTORY_IVF_FROM, _IVF_LISTS, _IVF_PROBE apply
    params = settings.lexical
    faiss.omp_set_num_threads(1)  # as the server runs it
    if not args.one:
        print(
            f"index side, {DIM}-d vectors, MinHash {params.num_perm} permutations, LSH threshold {params.lsh_threshold}"
        )
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; exact search up to {settings.ivf_from:,} "
            f"articles, then IVF-Flat with {settings.ivf_lists} lists, {settings.ivf_probe} probed"
        )
    if args.one:  # one size, in a process of its own, so memory freed by a smaller size is not reused
        with tempfile.TemporaryDirectory() as tmp:
            figures = measure(args.one, args.queries, settings, Path(tmp), baseline_lsh=args.baseline_lsh)
        print(f"\n{args.one:>9,} articles")
        for name, value in figures.items():
            print(f"  {name:<9} {value}")
        return 0
    for i, n in enumerate(sorted(args.sizes)):
        sys.stdout.flush()
        command = [sys.executable, __file__, "--one", str(n), "--queries", str(args.queries)]
        subprocess.run(command + ["--baseline-lsh"] * (i == 0), check=True)
    if args.stream:
        print(f"\nstream with a window of {args.stream:,} articles")
        for line in stream(args.stream, settings):
            print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
