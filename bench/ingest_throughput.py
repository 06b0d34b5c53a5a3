"""Ingest throughput over gRPC against the raw model throughput of the same texts, in one run.

    .venv/bin/python bench/ingest_throughput.py [--dataset FILE.jsonl] [--articles N]

Starts a real server on a loopback port with a fresh data directory, streams
N real articles through the real client (IngestStream), and compares with
`encode` of the same documents by the same model in the same process: the
ratio is the figure (how much of the time the service spends outside the
model). It also prints the process's CPU seconds per article in the all-at-once
baseline and in the stream, whose ratio the hypervisor's steal (up to 40 % of
the CPU here at times) does not move: with both cores busy in both, the
throughput ratio follows it. The default dataset is the project's own small labelled set; the
ECB+ and PolNeAR files in ../shared/eval give real volume.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model_options import (  # noqa: E402
    arrival_order_baseline,
    articles_parser,
    describe,
    open_model,
    server_settings,
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


def main() -> int:
    args = articles_parser(__doc__.splitlines()[0]).parse_args()

    rows = load(args.dataset, args.articles)
    embedder = open_model(args)
    docs = [document_text(row["title"], clean(row["text"])) for row in rows]
    embedder.raw_encode(docs[:8], batch_size=8)  # warm up
    # Two baselines: sentence-transformers sorts what it is given by length, so one call over
    # every document pads least; a stream cannot see ahead, so batches of 8 in arrival order
    # are what a streaming service could at best do with the documents alone. A backend that
    # runs several calls at once (onnx-int8) runs that many batches side by side in both.
    started, cpu = time.perf_counter(), time.process_time()
    embedder.raw_encode(docs, batch_size=8)
    raw = len(docs) / (time.perf_counter() - started)
    raw_cpu = (time.process_time() - cpu) / len(docs)
    arrival = arrival_order_baseline(embedder, docs)
    # The third: the service's own model calls on the documents alone (torch: planned batches;
    # onnx-int8: one document a call, as many calls at once as it runs), all documents known.
    calls = embedder.parallel_calls
    started = time.perf_counter()
    with ThreadPoolExecutor(calls) as pool:
        list(pool.map(embedder.encode, [docs[k::calls] for k in range(calls)]))
    own = len(docs) / (time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as tmp:
        with (
            BackgroundServer(server_settings(args, Path(tmp)), embedder) as server,
            SamestoryClient(server.target) as client,
        ):
            articles = [make_article(r["id"], r["text"], title=r["title"]) for r in rows]
            started, cpu = time.perf_counter(), time.process_time()
            errors = sum(1 for r in client.ingest_many(articles, timeout=3600) if r.HasField("error"))
            service = len(rows) / (time.perf_counter() - started)
            service_cpu = (time.process_time() - cpu) / len(rows)  # the client's share included

    print(f"dataset {args.dataset.name}, {len(rows)} articles, {describe(args)}, python {sys.version.split()[0]}")
    print(f"baseline: encode all documents at once, batch 8     {raw:8.1f} articles/s")
    print(f"baseline: encode in arrival order, batches of 8     {arrival:8.1f} articles/s")
    print(f"baseline: the service's own model calls             {own:8.1f} articles/s")
    print(f"samestory: IngestStream over gRPC, one client       {service:8.1f} articles/s  ({errors} errors)")
    print(f"ratio service / raw model (all at once)             {service / raw:8.2f}")
    print(f"ratio service / raw model (arrival order)           {service / arrival:8.2f}")
    print(f"ratio service / its own model calls                 {service / own:8.2f}")
    # The hypervisor here takes up to 40 % of the CPU at times, and a run's two halves can meet different
    # shares: CPU seconds, which it does not count, compare what the service spends with what the model does.
    print(f"CPU per article: encode all at once {raw_cpu * 1000:.1f} ms, the service {service_cpu * 1000:.1f} ms")
    print(f"ratio of CPU per article, raw model (all at once) / service {raw_cpu / service_cpu:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
