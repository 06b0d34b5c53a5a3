"""Mixed Check and Ingest load from N concurrent clients for T seconds, on loopback only.

    .venv/bin/python bench/load.py [--clients 1 4 16] [--seconds 20] [--dataset FILE.jsonl]

Starts a real server on 127.0.0.1 with a fresh data directory (the real
model), then, for each client count, runs that many asyncio clients, each
alternating Ingest of a new article and Check of a known one, until the time
is up (bounded: at most --max-calls calls per run). The clients run in a
process of their own, as callers of a service do, so their Python does not
take the server's lock or its CPU time (--in-process puts them in the
server's process, as before 2026-11-22). Prints throughput,
p50/p99 latency per kind and errors by status. Two baselines, measured in the
same run: one client's throughput, and the raw model throughput of the same
backend on the dataset's documents (batches of 8 in arrival order, as many
batches at once as the backend runs calls), which 16 clients should reach.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import grpc  # noqa: E402
from model_options import (  # noqa: E402
    add_model_arguments,
    arrival_order_baseline,
    client_process,
    describe,
    load_documents,
    open_model,
    server_settings,
)
from samestory.server import BackgroundServer  # noqa: E402
from samestory_client import make_article, pb  # noqa: E402
from samestory_client._proto import samestory_pb2_grpc as pb_grpc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def articles(path: Path):
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for n, row in enumerate(itertools.cycle(rows)):
        rep = n // len(rows)
        text = row["text"] if rep == 0 else f"{row['text']}\nUpdate {rep}: republished with changes."
        yield make_article(f"{row['id']}#{rep}", text, title=row.get("title") or "")


async def run(target: str, clients: int, seconds: float, max_calls: int, source) -> dict:
    latencies: dict[str, list[float]] = {"Ingest": [], "Check": []}
    errors: Counter = Counter()
    known: list[pb.Article] = []
    calls = taken = 0
    deadline = time.monotonic() + seconds

    async def client(number: int) -> None:
        nonlocal calls, taken
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.SamestoryStub(channel)
            turn = number
            while time.monotonic() < deadline and calls < max_calls:
                calls += 1
                turn += 1
                kind = "Check" if known and turn % 2 else "Ingest"
                article = known[turn % len(known)] if kind == "Check" else next(source)
                taken += kind == "Ingest"
                started = time.perf_counter()
                try:
                    if kind == "Ingest":
                        await stub.Ingest(pb.IngestRequest(article=article), timeout=60)
                        known.append(article)
                    else:
                        await stub.Check(pb.CheckRequest(article=article), timeout=60)
                    latencies[kind].append(time.perf_counter() - started)
                except grpc.aio.AioRpcError as exc:
                    errors[exc.code().name] += 1

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.monotonic() - started
    done = sum(len(v) for v in latencies.values())
    return {"clients": clients, "calls_per_s": done / elapsed, "latencies": latencies, "errors": errors, "taken": taken}


def run_apart(target: str, clients: int, seconds: float, max_calls: int, dataset: Path, skip: int) -> dict:
    """`run` in a process of its own, on the dataset's articles after the first `skip`."""
    source = itertools.islice(articles(dataset), skip, None)
    return asyncio.run(run(target, clients, seconds, max_calls, source))


def run_all(args: argparse.Namespace, target: str) -> list[dict]:
    """A run for each client count, one after another, each on new articles."""
    if args.in_process:
        source = articles(args.dataset)
        return [asyncio.run(run(target, n, args.seconds, args.max_calls, source)) for n in args.clients]
    results: list[dict] = []
    with client_process() as apart:  # one for every run
        for n in args.clients:
            skip = sum(r["taken"] for r in results)
            job = apart.submit(run_apart, target, n, args.seconds, args.max_calls, args.dataset, skip)
            results.append(job.result())
    return results


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else values[0] * 1000
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-calls", type=int, default=5000)
    parser.add_argument("--dataset", type=Path, default=REPO / "tests/data/labelled_small.jsonl")
    parser.add_argument("--in-process", action="store_true", help="run the clients in the server's process")
    add_model_arguments(parser)
    args = parser.parse_args()

    embedder = open_model(args)
    docs = load_documents(args.dataset, 200)
    embedder.raw_encode(docs[:8], batch_size=8)  # warm up
    raw = arrival_order_baseline(embedder, docs)

    with tempfile.TemporaryDirectory() as tmp:
        with BackgroundServer(server_settings(args, Path(tmp)), embedder) as server:
            results = run_all(args, server.target)
    base = results[0]["calls_per_s"]
    print(
        f"dataset {args.dataset.name}, {args.seconds:.0f} s per run, loopback, clients "
        f"{'in the server' if args.in_process else 'apart'}, {describe(args)}, "
        f"python {sys.version.split()[0]}"
    )
    print(f"baseline: raw model, batches of 8 in arrival order, {len(docs)} documents: {raw:.1f}/s")
    print("clients  calls/s  vs first  vs raw   Ingest p50/p99 ms   Check p50/p99 ms   errors")
    for r in results:
        ing, chk = r["latencies"]["Ingest"], r["latencies"]["Check"]
        errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "none"
        print(
            f"{r['clients']:7d}  {r['calls_per_s']:7.1f}  {r['calls_per_s'] / base:8.2f}  "
            f"{r['calls_per_s'] / raw:6.2f}   "
            f"{pct(ing, 50):7.0f} {pct(ing, 99):7.0f}     {pct(chk, 50):7.0f} {pct(chk, 99):7.0f}    {errors}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
