"""Ingest throughput over gRPC against the raw model throughput of the same texts, in one run.

    .venv/bin/python bench/ingest_throughput.py [--dataset FILE.jsonl] [--articles N] [--rounds R]
        [--in-process] [--stages]

Starts a real server on a loopback port with a fresh data directory, streams
N real articles through the real client (IngestStream) from a process of its
own, as a service's callers are (--in-process runs the client in the server's
process, as before 2026-11-22), and compares with
`encode` of the same documents by the same model in the same process: the
ratio is the figure (how much of the time the service spends outside the
model). It also prints the server process's CPU seconds per article in the
all-at-once baseline and in the stream: the hypervisor's steal is not counted in them,
though a loaded host still slows each CPU second (the same `encode` took 76 to
102 ms of CPU per article here on 2026-11-22), and the whole machine's idle
and stolen shares of CPU time in each half: idle time while the stream runs
is time its structure left the cores unused. The stream's CPU is also split by
the server's threads (Linux): the model's workers, the threads that run the
requests (text, decision, store), the event loop with gRPC, and threads without
a Python name (a library's own pool: the tokenizer's took 1.3 ms an article
until 2026-11-23). With --rounds R the pair
(baseline, stream) runs R times, alternating which half runs first, each stream
into a fresh server, and the medians are the figures. With --stages, each stream
also times the server's calls by stage (text, quotes, MinHash, candidates, decision,
quote alignment, store write: the table of `bench/outside_model.py --stages`) by
their threads' CPU, and prints them in µs an article; the timers cost a little
throughput themselves. The default dataset is the
project's own small labelled set; the ECB+ and PolNeAR files in ../shared/eval
give real volume.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model_options import (  # noqa: E402
    arrival_order_baseline,
    articles_parser,
    client_process,
    cpu_by_role,
    describe,
    machine_shares,
    open_model,
    server_settings,
    stage_lines,
    thread_cpu,
    timed_stages,
)
from samestory.server import BackgroundServer  # noqa: E402
from samestory.text import clean, document_text  # noqa: E402
from samestory_client import SamestoryClient, make_article  # noqa: E402


def load(path: Path, count: int) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    # Repeat with an edit to reach volume: each copy is a distinct article to the service.
    out = []
    for n, row in enumerate(itertools.islice(itertools.cycle(rows), count)):
        rep = n // len(rows)
        text = row["text"] if rep == 0 else f"{row['text']}\nUpdate {rep}: this article was republished."
        out.append({"id": f"{row['id']}#{rep}", "title": row.get("title") or "", "text": text})
    return out


def _all_at_once(embedder, docs: list[str]) -> tuple[float, float, str]:
    """The raw model on every document at once (sentence-transformers sorts them by length, so one call
    over all of them pads least): articles a second, CPU seconds an article, and the machine's idle and
    stolen shares meanwhile."""
    with machine_shares() as shares:
        started, cpu = time.perf_counter(), time.process_time()
        embedder.raw_encode(docs, batch_size=8)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(docs) / seconds, cpu / len(docs), _shares(shares)


def _shares(shares: list[str]) -> str:
    return f"; machine {shares[0]}" if shares else ""


def ingest_all(target: str, rows: list[dict]) -> tuple[float, int, float]:
    """The client's half: every row through IngestStream; seconds taken, errors, and its process's CPU seconds."""
    with SamestoryClient(target) as client:
        articles = [make_article(r["id"], r["text"], title=r["title"]) for r in rows]
        started, cpu = time.perf_counter(), time.process_time()
        errors = sum(1 for r in client.ingest_many(articles, timeout=3600) if r.HasField("error"))
        return time.perf_counter() - started, errors, time.process_time() - cpu


def _stream(
    args, embedder, rows: list[dict], apart: Executor | None, stages: Counter
) -> tuple[float, float, int, str, str]:
    """The articles through IngestStream into a fresh server and data directory: articles a second,
    CPU seconds an article of this process (with the client in it, the client's share too), errors,
    and what the client's own process spent, when it has one, and the stream's CPU by the server's threads,
    with the machine's idle and stolen shares while the stream ran (the server's start left out). With
    --stages, the server's calls are timed by stage into `stages`."""
    with timed_stages(stages) if args.stages else contextlib.nullcontext(), tempfile.TemporaryDirectory() as tmp:
        with BackgroundServer(server_settings(args, Path(tmp)), embedder) as server, machine_shares() as shares:
            cpu, threads = time.process_time(), thread_cpu()
            if apart is None:
                seconds, errors, _ = ingest_all(server.target, rows)
                detail = ""
            else:
                seconds, errors, client_cpu = apart.submit(ingest_all, server.target, rows).result()
                detail = f", the client's process {client_cpu / len(rows) * 1000:.1f} ms"
            cpu = time.process_time() - cpu
            if roles := cpu_by_role(threads, thread_cpu(), len(rows)):
                detail += f"; by thread: {roles} ms"
        return len(rows) / seconds, cpu / len(rows), errors, detail, _shares(shares)


def main() -> int:
    parser = articles_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="pairs of (all-at-once baseline, stream), alternating which runs first; the median ratio is the figure",
    )
    parser.add_argument("--in-process", action="store_true", help="run the client in the server's process")
    parser.add_argument("--stages", action="store_true", help="time the server's calls by stage in each stream")
    args = parser.parse_args()
    with contextlib.nullcontext() if args.in_process else client_process() as apart:
        return measure(args, apart)


def measure(args, apart: Executor | None) -> int:
    rows = load(args.dataset, args.articles)
    embedder = open_model(args)
    docs = [document_text(row["title"], clean(row["text"])) for row in rows]
    embedder.raw_encode(docs[:8], batch_size=8)  # warm up
    # Three baselines. All at once: see _all_at_once. A stream cannot see ahead, so batches of 8 in
    # arrival order are what a streaming service could at best do with the documents alone. A backend
    # that runs several calls at once (onnx-int8) runs that many batches side by side in both. Last, the
    # service's own model calls on the documents alone (torch: planned batches; onnx-int8: one document
    # a call, as many calls at once as it runs), all documents known.
    arrival = arrival_order_baseline(embedder, docs)
    calls = embedder.parallel_calls
    started = time.perf_counter()
    with ThreadPoolExecutor(calls) as pool:
        list(pool.map(embedder.encode, [docs[k::calls] for k in range(calls)]))
    own = len(docs) / (time.perf_counter() - started)

    print(
        f"dataset {args.dataset.name}, {len(rows)} articles, {describe(args)}, client "
        f"{'in the server' if apart is None else 'apart'}, python {sys.version.split()[0]}"
    )
    print(f"baseline: encode in arrival order, batches of 8     {arrival:8.1f} articles/s")
    print(f"baseline: the service's own model calls             {own:8.1f} articles/s")
    # The hypervisor here takes up to 40 % of the CPU at times, and the two halves of a pair can meet
    # different shares: rounds alternate which half runs first, and CPU seconds, where steal is not
    # counted, compare what the service spends with what the model does.
    ratios, cpu_ratios, services = [], [], []
    for n in range(args.rounds):
        spent: Counter = Counter()
        if n % 2:
            service, service_cpu, errors, detail, shares = _stream(args, embedder, rows, apart, spent)
            raw, raw_cpu, raw_shares = _all_at_once(embedder, docs)
        else:
            raw, raw_cpu, raw_shares = _all_at_once(embedder, docs)
            service, service_cpu, errors, detail, shares = _stream(args, embedder, rows, apart, spent)
        ratios.append(service / raw)
        cpu_ratios.append(raw_cpu / service_cpu)
        services.append(service)
        print(
            f"round {n + 1}: encode all documents at once, batch 8 {raw:.1f} articles/s ({raw_cpu * 1000:.1f} ms of "
            f"CPU each{raw_shares}); IngestStream over gRPC, one client, {service:.1f} articles/s "
            f"({service_cpu * 1000:.1f} ms{detail}, {errors} errors{shares}): ratio {ratios[-1]:.2f}, "
            f"by CPU {cpu_ratios[-1]:.2f}"
        )
        if args.stages:
            print(f"round {n + 1}, the stream by stage, µs of its threads' CPU an article:")
            print("\n".join(stage_lines(spent, len(rows))))
    service = statistics.median(services)
    print(f"samestory: IngestStream over gRPC, one client       {service:8.1f} articles/s (median of {args.rounds})")
    print(f"ratio service / raw model (all at once)             {statistics.median(ratios):8.2f} (median)")
    print(f"ratio of CPU per article, raw (all at once) / service {statistics.median(cpu_ratios):6.2f} (median)")
    print(f"ratio service / raw model (arrival order)           {service / arrival:8.2f}")
    print(f"ratio service / its own model calls                 {service / own:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
