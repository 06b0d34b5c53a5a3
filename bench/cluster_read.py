"""What a cluster read (GetCluster) costs as a quoted story grows: its quote groups.

    .venv/bin/python bench/cluster_read.py [--members 60] [--backend onnx-int8] [--max-tokens 128]

A cluster is built from the three seed articles and edited copies of them
(another headline, boilerplate, a paragraph dropped or moved: the way a wire
story spreads), ingested with the real model, so every member carries the
seeds' quotes. Then `Detector.quote_groups`, the work GetCluster does beyond
reading the store, is timed: the first read after the stream (each ingest's
alignments with the cluster's newest SAMESTORY_ALIGN_ARTICLES members are kept
for it, so only the pairs further apart are aligned), a repeated read, and a
read after one more member joined (`--repeats` times, each after another member; medians
throughout, since a single read may meet a garbage collection). The baseline
in the same run is the same reads with nothing kept between calls, as a
first read is: every pair of the newest SAMESTORY_GROUP_ARTICLES members
aligned again on each read. Both must give the same groups.

Then the member list of a big story: the cluster's rows are copied in SQLite
until it holds `--pad` members (40,000 by default; copies carry no quotes),
and a first page of members (what GetCluster lists, SAMESTORY's page of 1000)
is timed against reading every member, as GetCluster did before it paged
(the baseline), with the size of the members' part of the reply.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from model_options import REPO, add_model_arguments, describe, open_model
from samestory.config import Settings
from samestory.detector import CLUSTER_PAGE, Detector
from samestory.nearcopies import edited_copy
from samestory.records import ArticleIn
from samestory.store import SQLiteStore
from samestory_client import pb


def seed_articles(members: int) -> list[ArticleIn]:
    """The seeds, then edited copies of them in turn, `members` articles in all."""
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    texts = [(p.stem, p.read_text(encoding="utf-8")) for p in seeds]
    out = [ArticleIn(stem, text, title=text.split("\n", 1)[0][:120]) for stem, text in texts]
    for n in range(members - len(out)):
        stem, text = texts[n % len(texts)]
        copy = edited_copy(text.split("\n", 1)[0][:120], text, seed=n)
        out.append(ArticleIn(f"{stem}~{n}", copy.text, title=copy.title))
    return out


def timed(fn, repeats: int) -> tuple[float, object]:
    """The median of `repeats` calls in ms, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pad", type=int, default=40_000, help="members of the big story whose list is read")
    add_model_arguments(parser)
    args = parser.parse_args()
    embedder = open_model(args)
    articles = seed_articles(args.members + args.repeats)
    with tempfile.TemporaryDirectory(prefix="samestory-bench-") as tmp:
        settings = Settings.load(env={}, data_dir=Path(tmp), snapshot_seconds=0)
        detector = Detector(settings, SQLiteStore(Path(tmp)), embedder)
        decisions = list(detector.ingest_in_order(articles[: args.members]))
        clusters = {d.cluster_id for d in decisions}
        if len(clusters) != 1:
            print(f"the {len(decisions)} articles made {len(clusters)} clusters, not one", file=sys.stderr)
            return 1

        cluster = detector.get_cluster(decisions[0].cluster_id)

        def read():
            return detector.quote_groups(cluster.cluster_id)

        def uncached():
            detector.clear_alignments()
            return read()

        members = cluster.size
        grouped = min(members, settings.group_articles)
        print(f"{describe(args)}; a cluster of {members} articles, the newest {grouped} grouped")
        first_ms, first = timed(read, 1)
        base_ms, base = timed(uncached, args.repeats)
        again_ms, again = timed(read, args.repeats)
        grown = []
        for article in articles[args.members :]:
            detector.ingest(article)
            grown.append(timed(read, 1)[0])
        grown_ms = statistics.median(grown)
        grown_base_ms, _ = timed(uncached, args.repeats)
        same = base == again == first
        pad(Path(tmp) / "samestory.sqlite3", cluster.cluster_id, args.pad)
        size = detector.get_cluster(cluster.cluster_id).size
        page_ms, page = timed(lambda: detector.get_cluster(cluster.cluster_id, 0, CLUSTER_PAGE + 1), args.repeats)
        whole_ms, whole = timed(lambda: detector.store.cluster(cluster.cluster_id), args.repeats)
        detector.close()
    print(f"{'read':38} {'ms':>8} {'baseline ms':>12} {'ratio':>7}")
    for name, ms, baseline in (
        ("first read after the stream", first_ms, base_ms),
        ("read again", again_ms, base_ms),
        ("read after one more member joined", grown_ms, grown_base_ms),
    ):
        print(f"{name:38} {ms:8.1f} {baseline:12.1f} {baseline / ms:6.1f}x")
    statements = sum(1 for g in base if len({w.article_id for w in g}) > 1)
    print(f"{len(base)} statements, {statements} worded by several articles; same groups as the baseline: {same}")
    page_mb, whole_mb = listed_mb(page.members[:CLUSTER_PAGE]), listed_mb(whole.members)
    print(f"a story of {size} members: the first page of {CLUSTER_PAGE} members {page_ms:.1f} ms, {page_mb:.2f} MB;")
    print(f"  baseline, every member read (as before paging): {whole_ms:.1f} ms, {whole_mb:.2f} MB")
    return 0 if same else 1


def pad(database: Path, cluster_id: str, size: int) -> None:
    """Copy the cluster's article rows (not their quotes) under new ids until it holds `size` members."""
    columns = (
        "title, text, published, source, url, ingested_at, content_hash, exact_key, cluster_id, verdict, "
        "signature, shingles, vector, lead_vector, entities, decision"
    )
    db = sqlite3.connect(database)
    with db:
        while (
            have := db.execute("SELECT COUNT(*) FROM articles WHERE cluster_id=?", (cluster_id,)).fetchone()[0]
        ) < size:
            db.execute(
                f"INSERT INTO articles (id, {columns}) SELECT id || '~' || (key + (SELECT MAX(key) FROM articles)), "
                f"{columns} FROM articles WHERE cluster_id=? ORDER BY key LIMIT ?",
                (cluster_id, size - have),
            )
    db.close()


def listed_mb(members) -> float:
    """The size of the members' part of a GetCluster reply."""
    message = pb.Cluster()
    for m in members:
        message.articles.add(article_id=m.article_id, title=m.title, verdict=m.verdict, source=m.source)
    return message.ByteSize() / 1e6


if __name__ == "__main__":
    sys.exit(main())
