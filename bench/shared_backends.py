"""Embedded against shared backends, in one run: ingest throughput, Check latency, and replica lag.

    .venv/bin/python bench/shared_backends.py [--dataset FILE.jsonl] [--articles 150] [--checks 100]
        [--backend B] [--max-tokens T]

Starts throwaway PostgreSQL and Redis servers (Debian's packages, as the tests
do) and, for each setup, a real gRPC server with the real model on a fresh
store: the embedded default (SQLite, in-memory LSH), PostgreSQL with the
in-memory LSH, and PostgreSQL with the LSH in Redis. Each ingests the same
articles over one IngestStream, then answers the same Checks one at a time.
The embedded setup is the baseline: each shared setup's figures are printed
as a ratio to it.

Then two replicas over PostgreSQL and Redis: articles are ingested through the
first, one at a time, and the time until the second replica's indexes hold each
one is the lag (SAMESTORY_FOLLOW_SECONDS 0.25, the default).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' throwaway servers

from model_options import articles_parser, describe, model_settings, open_model  # noqa: E402
from samestory.config import Settings  # noqa: E402
from samestory.server import BackgroundServer  # noqa: E402
from samestory_client import SamestoryClient, make_article  # noqa: E402

from tests.engines import fresh_database, postgres_server, redis_server  # noqa: E402


def load(path: Path, count: int):
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [
        make_article(f"{row['id']}#{n // len(rows)}", row["text"], title=row.get("title") or "")
        for n, row in zip(range(count), itertools.cycle(rows), strict=False)
    ]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def run_setup(settings: Settings, embedder, articles, checks) -> dict[str, float]:
    with BackgroundServer(settings, embedder) as server, SamestoryClient(server.target, timeout=600) as client:
        started = time.perf_counter()
        decisions = list(client.ingest_many(articles))  # a lazy iterator: the answers arrive as read
        assert len(decisions) == len(articles)
        ingest = len(articles) / (time.perf_counter() - started)
        latencies = []
        for article in checks:
            t = time.perf_counter()
            client.check(article)
            latencies.append(time.perf_counter() - t)
    return {"ingest": ingest, "p50": pct(latencies, 50), "p99": pct(latencies, 99)}


def replica_lag(base: dict, embedder, articles, tmp: Path) -> list[float]:
    first = BackgroundServer(Settings.load(env={}, data_dir=tmp / "a", **base), embedder)
    second = BackgroundServer(Settings.load(env={}, data_dir=tmp / "b", **base), embedder)
    lags = []
    try:
        with SamestoryClient(first.target, timeout=600) as client:
            for article in articles:
                client.ingest(article)
                written = time.perf_counter()
                target = first.detector.stats()["semantic_index_size"]
                while second.detector.stats()["semantic_index_size"] < target:
                    time.sleep(0.002)
                lags.append(time.perf_counter() - written)
    finally:
        first.stop()
        second.stop()
    return lags


def main() -> int:
    parser = articles_parser(__doc__.splitlines()[0])
    parser.set_defaults(articles=150)
    parser.add_argument("--checks", type=int, default=100)
    parser.add_argument("--lag-articles", type=int, default=40)
    args = parser.parse_args()
    articles = load(args.dataset, args.articles)
    checks = [make_article("", a.text, title=a.title) for a in articles[: args.checks]]
    embedder = open_model(args)
    common = {"host": "127.0.0.1", "port": 0, "snapshot_seconds": 0, **model_settings(args)}
    with postgres_server() as postgres, redis_server() as redis, tempfile.TemporaryDirectory() as tmp:
        setups = {
            "SQLite, in-memory LSH": {},
            "PostgreSQL, in-memory LSH": {"store": fresh_database(postgres, "bench_pg")},
            "PostgreSQL, Redis LSH": {"store": fresh_database(postgres, "bench_pg_redis"), "lsh": redis},
        }
        results = {}
        for n, (name, extra) in enumerate(setups.items()):
            settings = Settings.load(env={}, data_dir=Path(tmp) / str(n), **common, **extra)
            results[name] = run_setup(settings, embedder, articles, checks)
        shared = {**common, "store": fresh_database(postgres, "bench_lag"), "lsh": redis, "lsh_basename": "lag"}
        lags = replica_lag(shared, embedder, load(args.dataset, args.lag_articles), Path(tmp))

    print(f"{args.dataset.name}: {len(articles)} articles ingested over one stream, {len(checks)} Checks one by one")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {describe(args)}; baseline: the embedded setup")
    base = results["SQLite, in-memory LSH"]
    print(f"{'setup':<28} {'ingest/s':>9} {'ratio':>6} {'Check p50 ms':>13} {'p99 ms':>8} {'p50 ratio':>10}")
    for name, r in results.items():
        print(
            f"{name:<28} {r['ingest']:9.1f} {r['ingest'] / base['ingest']:6.2f} {r['p50']:13.1f} {r['p99']:8.1f} "
            f"{r['p50'] / base['p50']:10.2f}"
        )
    print(
        f"replica lag over {len(lags)} ingests (follow every 0.25 s): p50 {pct(lags, 50):.0f} ms, "
        f"p99 {pct(lags, 99):.0f} ms, max {max(lags) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
