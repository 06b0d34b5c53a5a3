"""The index side as the archive grows: query latency, memory per article and start-up time.

    .venv/bin/python bench/index_scale.py [--sizes 10000 100000] [--queries 1000]

For each size N, fills the service's own LexicalIndex (datasketch MinHash-LSH)
and VectorIndex (FAISS) with N synthetic articles, generated reproducibly
(seeded, like faiss.contrib.datasets.SyntheticDataset): random MinHash
signatures of the service's parameters and random unit vectors. Queries are
stored articles with 30% of their signature and some of their vector changed,
so each query has real candidates, as an edited copy would.

Prints, per size: LSH query and FAISS search p50/p99 (the index side of a
Check; the model's share is bench/ingest_throughput.py's), resident memory
added per article, and start-up: writing an index snapshot, reading it back
and rebuilding both indexes from it (what a restart does before replaying
the store's later changes). The baseline in the same run is the smallest
size: how much each figure grows with N.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
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


def build(keys, signatures, vectors, params: LexicalParams) -> tuple[LexicalIndex, VectorIndex]:
    lexical = LexicalIndex(params)
    lexical.add_arrays(keys, np.full(len(keys), 500), signatures)
    semantic = VectorIndex(DIM)
    semantic.add(keys, vectors)
    return lexical, semantic


def measure(n: int, queries: int, params: LexicalParams, folder: Path) -> dict[str, str]:
    signatures, vectors = synthetic(n, params.num_perm, seed=n)
    keys = np.arange(1, n + 1, dtype=np.int64)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    lexical, semantic = build(keys, signatures, vectors, params)
    built = time.perf_counter() - started
    gc.collect()
    per_article = (rss_bytes() - before) / n

    rng = np.random.default_rng(n + 1)
    lsh_times, faiss_times, found = [], [], 0
    for target in rng.integers(0, n, size=queries):
        sig = signatures[target].copy()
        changed = rng.choice(params.num_perm, size=int(0.3 * params.num_perm), replace=False)
        sig[changed] = rng.integers(0, 2**32 - 1, size=len(changed), dtype=np.uint64)
        vec = vectors[target] + rng.standard_normal(DIM).astype(np.float32) * 0.02
        vec /= np.linalg.norm(vec)
        t = time.perf_counter()
        hits = lexical.query(Signature(sig, 500))
        lsh_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        semantic.search(vec, 20)
        faiss_times.append(time.perf_counter() - t)
        found += int(target + 1) in hits

    path = folder / f"index-{n}.snapshot"
    snap = Snapshot(1, {"bench": "1"}, keys, np.full(n, 500, np.int64), signatures, vectors)
    t = time.perf_counter()
    size = write_snapshot(path, snap)
    written = time.perf_counter() - t
    del lexical, semantic, snap
    gc.collect()
    t = time.perf_counter()
    loaded = read_snapshot(path)
    read = time.perf_counter() - t
    build(loaded.keys, loaded.signatures, loaded.vectors, params)
    start_up = time.perf_counter() - t
    path.unlink()
    return {
        "lsh": percentiles(lsh_times),
        "faiss": percentiles(faiss_times),
        "recall": f"{found / queries:.3f}",
        "memory": f"{per_article / 1024:.1f} KB",
        "build": f"{built:.1f} s",
        "snapshot": f"{size / 1e6:.0f} MB written in {written:.1f} s",
        "start_up": f"{start_up:.1f} s (read {read:.1f} s)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    params = LexicalParams()
    faiss.omp_set_num_threads(1)  # as the server runs it
    print(f"index side, {DIM}-d vectors, MinHash {params.num_perm} permutations, LSH threshold {params.lsh_threshold}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; FAISS {VectorIndex.__doc__.splitlines()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.sizes):
            figures = measure(n, args.queries, params, Path(tmp))
            print(f"\n{n:>9,} articles")
            for name, value in figures.items():
                print(f"  {name:<9} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
