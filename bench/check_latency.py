"""Check latency as the archive grows, split by stage: the model's share and the index side's.

    .venv/bin/python bench/check_latency.py [--sizes 10000 100000 1000000] [--real 200] [--checks 200]
        [--backend onnx-int8] [--max-tokens 128] [--threads 2]

For each size N: a fresh SQLite store is filled with N synthetic articles
(seeded random signatures and unit vectors, written straight into the store's
tables in one transaction, as an archive would have them), the detector
starts on it as the server does (indexes rebuilt from the store; past
SAMESTORY_IVF_FROM the vector index is an inverted file), then `--real` real
articles of the dataset are ingested with the real model, so Checks meet
real candidates, clusters and quotes. Then `--checks` further articles of the
dataset are checked one at a time, each with a Stopwatch: text (cleaning,
quotes), embed (the model), minhash, faiss, lsh, store (candidate records,
cluster profiles, entity frequencies), decide, align. Prints p50/p99 per
stage and in total. The baseline in the same run is the smallest size.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from model_options import add_model_arguments, describe, open_model  # noqa: E402
from samestory.config import Settings  # noqa: E402
from samestory.detector import Detector, Stopwatch  # noqa: E402
from samestory.records import ArticleIn  # noqa: E402
from samestory.store import SQLiteStore  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STAGES = ("text", "embed", "minhash", "faiss", "lsh", "store", "decide", "align")


def fill(path: Path, n: int, num_perm: int, dim: int) -> None:
    """N synthetic articles, each its own cluster, in the store's own tables."""
    rng = np.random.default_rng(n)
    now = time.time()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    with db:
        for start in range(0, n, 50_000):
            count = min(50_000, n - start)
            sigs = rng.integers(0, 2**32 - 1, size=(count, num_perm), dtype=np.uint64).astype("<u8")
            vecs = rng.standard_normal((count, dim), dtype=np.float32)
            vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype("<f4")
            ids = range(start, start + count)
            db.executemany(
                "INSERT INTO clusters (id, created_at, size, lead_sum, entities) VALUES (?, ?, 1, ?, '{}')",
                ((f"s{i}", now, vecs[i - start].tobytes()) for i in ids),
            )
            db.executemany(
                "INSERT INTO articles (id, title, text, published, source, url, ingested_at, content_hash, exact_key,"
                " cluster_id, verdict, signature, shingles, vector, lead_vector, entities, decision)"
                " VALUES (?, '', ?, NULL, '', '', ?, ?, ?, ?, 4, ?, 500, ?, ?, '{}', '{}')",
                (
                    (
                        f"syn-{i}",
                        f"synthetic article {i}",
                        now,
                        f"h{i}",
                        f"e{i}",
                        f"s{i}",
                        sigs[i - start].tobytes(),
                        vecs[i - start].tobytes(),
                        vecs[i - start].tobytes(),
                    )
                    for i in ids
                ),
            )
        db.execute("INSERT INTO changes (op, article_key) SELECT 'add', key FROM articles")
        db.execute(
            "INSERT INTO meta VALUES ('entity_documents', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(n),),
        )
        # The names' counts are whole (the synthetic articles name nothing): nothing is left to fold in.
        db.execute("UPDATE meta SET value = (SELECT CAST(MAX(seq) AS TEXT) FROM changes) WHERE key='entity_df_change'")
    db.close()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0]


def measure(n: int, rows: list[dict], real: int, checks: int, embedder) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings.load(env={}, data_dir=data_dir, snapshot_seconds=0)
        SQLiteStore(data_dir).close()  # the schema
        fill(data_dir / "samestory.sqlite3", n, settings.lexical.num_perm, embedder.dim)
        started = time.perf_counter()
        detector = Detector(settings, SQLiteStore(data_dir), embedder)
        took = time.perf_counter() - started
        print(f"  {n:>9,} synthetic articles indexed in {took:.1f} s ({detector.vector_index})", flush=True)
        for row in rows[:real]:
            detector.ingest(ArticleIn(article_id=row["id"], title=row.get("title") or "", text=row["text"]))
        detector.wait_for_training()
        laps: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total")}
        for row in rows[real : real + checks]:
            watch = Stopwatch()
            started = time.perf_counter()
            detector.check(ArticleIn(article_id="", title=row.get("title") or "", text=row["text"]), watch)
            laps["total"].append(time.perf_counter() - started)
            for stage in STAGES:
                laps[stage].append(watch.stages.get(stage, 0.0))
        detector.close()
    return {stage: (pct(v, 50), pct(v, 99)) for stage, v in laps.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dataset", type=Path, default=REPO.parent / "shared/eval/ecbplus_dev.jsonl")
    parser.add_argument("--real", type=int, default=200, help="real articles ingested before the Checks")
    parser.add_argument("--checks", type=int, default=200)
    add_model_arguments(parser)
    args = parser.parse_args()
    with args.dataset.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    embedder = open_model(args)
    results = {n: measure(n, rows, args.real, args.checks, embedder) for n in sorted(args.sizes)}
    print(f"\nCheck latency, p50 / p99 ms; {args.dataset.name}: {args.real} ingested, {args.checks} checked")
    print(describe(args))
    print(f"{'stage':<8}" + "".join(f"{n:>20,}" for n in results))
    for stage in (*STAGES, "total"):
        print(f"{stage:<8}" + "".join(f"{r[stage][0]:>11.2f} / {r[stage][1]:>6.2f}" for r in results.values()))
    base = results[min(results)]["total"][0]
    print("total p50 against the smallest size: " + ", ".join(f"{r['total'][0] / base:.2f}" for r in results.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
