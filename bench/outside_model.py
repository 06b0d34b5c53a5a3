"""The CPU an article costs outside the model, with no model beside it, and a digest of the decisions.

    .venv/bin/python bench/outside_model.py [--dataset FILE.jsonl] [--articles N] [--repeat R]
        [--backend B] [--max-tokens T]

Ingests N real articles one at a time through the detector the server builds, into
a fresh data directory, with the real model, keeping every vector it gives; then R
times more, each into a fresh directory, with the model's calls answered from what
was kept. A replay runs everything the service does but the model (text, quotes,
MinHash, candidates, evidence, decision, quote alignment, SQLite with fsync), alone
on the cores, so its CPU is the work outside the model without the model's
contention, and it moves less from run to run than a whole ingest does. The figure
is the best replay; the baseline, in the same run, is the CPU of the model's calls
in the first pass.

With --stages, one more replay runs with a thread-CPU timer around each stage of
the work (the preparation and its text, quotes and MinHash; the commit and its
candidates, cluster evidence, names' frequencies, decision, quote alignment (with
the quote units' vectors, made on the model and here replayed) and
store write) and prints each stage's CPU per article. The timers add their own
cost, so these figures say where the time goes, and the best replay says how much.

The size of the SQLite file the first pass leaves, an article, is printed beside
the size of the articles' text.

Last, a digest of the decisions: SHA-256 of their JSON, with cluster ids numbered
in order of appearance, keys sorted. The same digest before and after a change says that the
change kept every decision, with its scores and alignments (run the previous commit
from a git worktree on PYTHONPATH). Every replay must give the first pass's digest,
or the vectors did not replay and the bench stops.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
from ingest_throughput import load
from model_options import (
    articles_parser,
    clocked,
    describe,
    keeping,
    model_calls_through,
    open_model,
    replaying,
    server_settings,
    stage_lines,
    timed_stages,
)
from samestory.records import ArticleIn, Decision
from samestory.server import build_detector

_CLUSTER_ID = re.compile(r"c_[0-9a-f]{24}")


def main() -> int:
    parser = articles_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="replays without the model; the best is the figure")
    parser.add_argument("--stages", action="store_true", help="one more replay, timing each stage of the work")
    args = parser.parse_args()
    rows = load(args.dataset, args.articles)
    articles = [ArticleIn(article_id=r["id"], title=r["title"], text=r["text"]) for r in rows]
    model = open_model(args)
    kept: dict[tuple, object] = {}

    first, model_cpu, digest, stored = ingest(args, model, articles, lambda call: keeping(call, kept))
    replays = []
    for _ in range(args.repeat):
        cpu, _, again, _ = ingest(args, model, articles, lambda call: replaying(call, kept))
        if again != digest:
            print(f"a replay decided otherwise ({again[:12]} against {digest[:12]}): the vectors did not replay")
            return 1
        replays.append(cpu)

    n = len(articles) - 1
    best = min(replays)
    print(f"dataset {args.dataset.name}, {n} articles one at a time, {describe(args)}, python {sys.version.split()[0]}")
    print(f"with the model: {first * 1000 / n:.2f} ms of CPU per article, its calls {model_cpu * 1000 / n:.2f} ms")
    print(
        f"outside the model, vectors replayed: {best * 1000 / n:.2f} ms of CPU per article "
        f"(best of {args.repeat}: {', '.join(f'{r * 1000 / n:.2f}' for r in replays)})"
    )
    print(f"outside the model / the model's calls (the baseline): {best / model_cpu:.2f}")
    print(f"decisions: sha256 {digest} ({len(articles)} decisions, the same in every replay)")
    text = sum(len(a.text.encode("utf-8")) for a in articles) / len(articles)
    print(
        f"the store: {stored / len(articles) / 1024:.1f} KB an article on disk (SQLite), its text {text / 1024:.1f} KB"
    )
    if args.stages:
        spent: Counter = Counter()
        with timed_stages(spent):
            cpu, _, again, _ = ingest(args, model, articles, lambda call: replaying(call, kept))
        if again != digest:
            print(f"the timed replay decided otherwise ({again[:12]} against {digest[:12]})")
            return 1
        print(f"by stage, a replay with timers ({cpu * 1000 / n:.2f} ms of CPU per article in all), µs per article:")
        print("\n".join(stage_lines(spent, n)))
    return 0


def ingest(args, model, articles: list[ArticleIn], wrap: Callable) -> tuple[float, float, str, int]:
    """The articles one at a time into a fresh data directory, the model's calls through `wrap`: CPU
    seconds (the first article, a warm-up, not counted), of which the model's calls, the digest, and the
    size of the SQLite file once closed (its log written back)."""
    model_cpu: Counter = Counter()
    through = model_calls_through(model, lambda call: clocked(wrap(call), model_cpu, "model"))
    with through, tempfile.TemporaryDirectory() as tmp:
        detector = build_detector(server_settings(args, Path(tmp)), model)
        try:
            decisions = [detector.ingest(articles[0])]
            model_cpu.clear()
            cpu = time.process_time()
            decisions += [detector.ingest(article) for article in articles[1:]]
            cpu = time.process_time() - cpu
        finally:
            detector.close()
        stored = (Path(tmp) / "samestory.sqlite3").stat().st_size
    return cpu, model_cpu["model"], _digest(decisions), stored


def _digest(decisions: list[Decision]) -> str:
    """SHA-256 of the decisions' JSON, keys sorted and spaces left out (so that it does not depend on how the
    stored form is written), cluster ids numbered in order of appearance (they are random)."""
    names: dict[str, str] = {}
    text = "\n".join(orjson.dumps(orjson.loads(d.to_json()), option=orjson.OPT_SORT_KEYS).decode() for d in decisions)
    text = _CLUSTER_ID.sub(lambda m: names.setdefault(m.group(), f"cluster-{len(names)}"), text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
