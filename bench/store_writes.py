"""What an ingest writes to the embedded store, and its CPU, as the archive's names pile up.

    .venv/bin/python bench/store_writes.py [--dataset FILE.jsonl] [--articles N] [--names 0 1000000]
        [--fold-every 256] [--backend B] [--max-tokens T]

Ingests N real articles through the detector the server builds (the real model), keeping every
write it hands the SQLite store. Then, for each --names count, replays those writes one at a time
into fresh stores whose names' document counts already hold that many other names (synthetic, as a
long-running archive gathers them: most articles name a few people, places or figures seen nowhere
else). The store's WAL is not written back during the replay (no checkpoint), so its frames, each
one page, say what each write wrote, by B-tree (SQLite's dbstat); the CPU is the `add` calls'
thread CPU, the COMMIT and its fsync included.

The baseline, in the same run: the same writes into a store that counts each article's names
with its own write (`fold_every` 0, as the shared PostgreSQL store does), against one that folds
them in every --fold-every articles (the embedded default).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import random
import sqlite3
import string
import struct
import sys
import tempfile
import time
from pathlib import Path

from ingest_throughput import load
from model_options import articles_parser, describe, open_model, server_settings
from samestory.records import ArticleIn
from samestory.server import build_detector
from samestory.store import NewArticle, SQLiteStore

_DB = "samestory.sqlite3"


def main() -> int:
    parser = articles_parser(__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, nargs="+", default=[0, 1_000_000], help="other names already counted")
    parser.add_argument("--fold-every", type=int, default=SQLiteStore.fold_every)
    args = parser.parse_args()
    rows = load(args.dataset, args.articles)
    writes = _writes(args, [ArticleIn(article_id=r["id"], title=r["title"], text=r["text"]) for r in rows])
    print(f"dataset {args.dataset.name}, {len(writes)} articles' writes replayed, {describe(args)}")
    setups = (("each write counts its names", 0), (f"folded every {args.fold_every}", args.fold_every))
    n = len(writes)
    for names in args.names:
        for label, fold_every in setups:
            cpu, frames, page_size, by_tree = _replay(writes, names, fold_every)
            top = ", ".join(f"{tree} {count / n:.1f}" for tree, count in by_tree.most_common(4))
            print(
                f"{names:>9,} other names, {label:<28} {cpu / n * 1e6:5.0f} us of CPU an article, "
                f"{frames / n:4.1f} pages ({frames * page_size / n / 1024:5.1f} KB) of WAL; by B-tree: {top}"
            )
    return 0


def _writes(args, articles: list[ArticleIn]) -> list[NewArticle]:
    """The store writes of ingesting `articles` one at a time, in order."""
    writes: list[NewArticle] = []
    with tempfile.TemporaryDirectory() as tmp:
        detector = build_detector(server_settings(args, Path(tmp)), open_model(args))
        add = detector.store.add
        detector.store.add = lambda article: writes.append(article) or add(article)
        try:
            for article in articles:
                detector.ingest(article)
        finally:
            detector.close()
    return writes


def _replay(writes: list[NewArticle], names: int, fold_every: int) -> tuple[float, int, int, collections.Counter]:
    """The writes into a fresh store already counting `names` other names: thread CPU seconds of the adds,
    WAL frames written, the page size, and the frames by B-tree."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp))
        store.fold_every = fold_every
        if names:
            _count_other_names(store._db, names)
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store._db.execute("PRAGMA wal_autocheckpoint=0")  # every frame stays in the WAL
        cpu = 0.0
        for write in writes:
            started = time.thread_time()
            store.add(dataclasses.replace(write, decided_at_change=None))
            cpu += time.thread_time() - started
        started = time.thread_time()
        store.fold()  # what is left unfolded, as a stop would fold it: counted too
        cpu += time.thread_time() - started
        frames, page_size = _wal_pages(Path(tmp) / f"{_DB}-wal")
        store.close()
        with contextlib.closing(sqlite3.connect(Path(tmp) / _DB)) as db:
            tree = dict(db.execute("SELECT pageno, name FROM dbstat"))
    by_tree: collections.Counter = collections.Counter()
    for page, count in frames.items():
        by_tree[tree.get(page, "(freed)")] += count
    return cpu, sum(frames.values()), page_size, by_tree


def _count_other_names(db: sqlite3.Connection, names: int) -> None:
    rng = random.Random(7)
    letters = string.ascii_lowercase
    terms = ("".join(rng.choices(letters, k=rng.randint(5, 14))) for _ in range(names))
    db.execute("BEGIN")
    db.executemany("INSERT OR IGNORE INTO entity_df VALUES (?, 1)", ((t,) for t in terms))
    db.execute("COMMIT")


def _wal_pages(path: Path) -> tuple[collections.Counter, int]:
    """Page number -> frames of it in a WAL file (its header 32 bytes, each frame's 24), and the page size."""
    wal = path.read_bytes()
    page_size = struct.unpack(">I", wal[8:12])[0]
    pages: collections.Counter = collections.Counter()
    for offset in range(32, len(wal) - 24 + 1, 24 + page_size):
        pages[struct.unpack(">I", wal[offset : offset + 4])[0]] += 1
    return pages, page_size


if __name__ == "__main__":
    sys.exit(main())
