"""Where an article's CPU goes: a sequential ingest through the service's detector, split by stage.

    .venv/bin/python bench/ingest_cpu.py [--dataset FILE.jsonl] [--articles N] [--backend B] [--max-tokens T]

Ingests N real articles one at a time into a fresh data directory, through the
detector the server builds (the real model behind its batcher, FAISS, the LSH,
SQLite), without gRPC, and measures the process's CPU time in each stage. One
article at a time, so every CPU second of the process belongs to the stage
that is running. The baseline, in the same run, is the model's calls: on two
cores the service can at best ingest 2 / (model CPU per article) articles a
second, and the rest of the table is what stands between it and that. Last,
how many quote units the model embedded (they are embedded when an alignment
needs them), against the units long enough to be paraphrases.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from ingest_throughput import load
from model_options import articles_parser, clocked_stages, describe, open_model, server_settings
from samestory import quotes
from samestory.records import ArticleIn
from samestory.server import build_detector
from samestory.text import clean

# (label, the object's attribute path from the detector, the method): nested stages are reported
# inside the stage that calls them.
STAGES = [
    ("prepare: text, quotes, MinHash, entities", "", "_prepare"),
    ("  of which the model's calls", "embedder", "encode"),
    ("candidates: LSH, FAISS, store reads", "", "_candidates"),
    ("  of which cluster evidence", "", "_cluster_evidence"),
    ("decision record", "", "_decision"),
    ("  of which quote alignment", "", "_align"),
    ("store write (SQLite, fsync)", "store", "add"),
]


def main() -> int:
    args = articles_parser(__doc__.splitlines()[0]).parse_args()

    rows = load(args.dataset, args.articles)
    articles = [ArticleIn(article_id=r["id"], title=r["title"], text=r["text"]) for r in rows]
    totals: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = server_settings(args, Path(tmp))
        detector = build_detector(settings, open_model(args))
        stages = ((label, getattr(detector, path) if path else detector, name) for label, path, name in STAGES)
        try:
            with clocked_stages(stages, totals):
                detector.ingest(articles[0])  # warm up, not counted
                totals.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                for article in articles[1:]:
                    detector.ingest(article)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            made = detector.unit_vectors.made
        finally:
            detector.close()  # and its batcher

    n = len(articles) - 1
    model = totals["  of which the model's calls"]
    print(f"dataset {args.dataset.name}, {n} articles one at a time, {describe(args)}, python {sys.version.split()[0]}")
    print(f"sequential ingest: {n / wall:.1f} articles/s, {cpu * 1000 / n:.2f} ms of CPU per article")
    for label, _, _ in STAGES:
        print(f"  {label:44s} {totals[label] * 1000 / n:7.2f} ms")
    rest = cpu - sum(v for k, v in totals.items() if not k.startswith("  "))
    print(f"  {'the rest (replay check, indexes, locks)':44s} {rest * 1000 / n:7.2f} ms")
    print(f"baseline: the model's calls alone, on {args.threads} cores     {args.threads * n / model:7.1f} articles/s")
    print(f"outside the model                                 {1 - model / cpu:7.2f} of the CPU")
    # Quote units are embedded when an alignment needs them; before, every unit long enough to be a
    # paraphrase was embedded at ingest.
    units = sum(
        quotes.can_paraphrase(unit)
        for a in articles
        for q in quotes.extract(a.text, clean(a.text).paragraphs)
        for unit, _ in quotes.quote_units(a.text, q)
    )
    print(f"quote units embedded: {made} of the {units} long enough to be paraphrases (warm-up included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
