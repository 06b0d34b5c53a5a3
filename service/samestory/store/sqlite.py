"""The embedded store: one SQLite database in WAL mode inside the data directory."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigurationError, NotFound
from ..lexical import Signature
from ..profile import Profile
from ..quotes import Quote
from .base import ArticleRecord, ClusterRecord, IndexChanges, IndexEntry, NewArticle, QuoteRecord

__all__ = ["SQLiteStore"]

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clusters (
    rank INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    merged_into TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    lead_sum BLOB,
    entities TEXT NOT NULL DEFAULT '{}',
    first_published REAL,
    last_published REAL
);
CREATE TABLE IF NOT EXISTS entity_df (term TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cluster_aliases (alias TEXT PRIMARY KEY, target TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cluster_aliases_target ON cluster_aliases (target);
CREATE TABLE IF NOT EXISTS articles (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    published REAL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    ingested_at REAL NOT NULL,
    content_hash TEXT NOT NULL,
    exact_key TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    verdict INTEGER NOT NULL,
    signature BLOB NOT NULL,
    shingles INTEGER NOT NULL,
    vector BLOB NOT NULL,
    lead_vector BLOB NOT NULL,
    entities TEXT NOT NULL,
    decision TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_exact ON articles (exact_key);
CREATE INDEX IF NOT EXISTS articles_cluster ON articles (cluster_id, key);
CREATE TABLE IF NOT EXISTS quotes (
    article_key INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    quote TEXT NOT NULL,
    vectors BLOB NOT NULL,
    units INTEGER NOT NULL,
    PRIMARY KEY (article_key, idx)
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    article_key INTEGER NOT NULL
);
"""
_ARTICLE_COLUMNS = (
    "a.key, a.id, a.title, a.text, a.published, a.source, a.url, a.ingested_at, a.content_hash, "
    "a.exact_key, a.cluster_id, c.rank, a.verdict, a.signature, a.shingles, a.entities, a.decision"
)
_LAST_CHANGE = "SELECT COALESCE(MAX(seq), 0) FROM changes"
_ARTICLE_SELECT = f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN clusters c ON c.id = a.cluster_id"


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


def _record(row: tuple) -> ArticleRecord:
    return ArticleRecord(
        key=row[0],
        article_id=row[1],
        title=row[2],
        text=row[3],
        published=_dt(row[4]),
        source=row[5],
        url=row[6],
        ingested_at=_dt(row[7]),
        content_hash=row[8],
        exact_key=row[9],
        cluster_id=row[10],
        cluster_rank=row[11],
        verdict=row[12],
        signature=Signature.from_bytes(row[13], row[14]),
        entities=frozenset(json.loads(row[15])),
        entity_counts=json.loads(row[15]),
        decision=row[16],
    )


class SQLiteStore:
    """SQLite in WAL mode with full fsync: a committed ingest survives a crash.

    One connection guarded by a lock; SQLite calls are short next to the model.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        # The in-memory indexes belong to one process: a second server on the same directory
        # would never see the first one's writes in its indexes.
        self._lockfile = (data_dir / "samestory.lock").open("a")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.close()
            raise ConfigurationError(
                f"the data directory {data_dir} is in use by another Samestory process; "
                "stop it first or give this one its own --data-dir"
            ) from None
        try:
            self._open(data_dir)
        except BaseException:
            self._lockfile.close()
            raise

    def _open(self, data_dir: Path) -> None:
        self.path = data_dir / "samestory.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(found[0]) != SCHEMA_VERSION:
                raise ConfigurationError(
                    f"{self.path} has schema version {found[0]}; this build reads {SCHEMA_VERSION}"
                )

    # ------------------------------------------------------------- parameters

    def parameters(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM meta WHERE key NOT IN ('schema_version', 'entity_documents')"
            ).fetchall()
        return dict(rows)

    def set_parameters(self, params: dict[str, str]) -> None:
        with self._lock, self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(params.items()))

    # ----------------------------------------------------------------- writes

    def _transaction(self):
        return _Transaction(self._db)

    def add(self, article: NewArticle) -> int:
        now = dt.datetime.now(dt.UTC).timestamp() if article.ingested_at is None else article.ingested_at
        with self._lock, self._transaction():
            db = self._db
            if article.new_cluster:
                db.execute("INSERT INTO clusters (id, created_at) VALUES (?, ?)", (article.cluster_id, now))
            profile = self._profiles([article.cluster_id])[article.cluster_id]
            for old in article.merged:
                profile.absorb(self._profiles([old])[old])
                db.execute("UPDATE clusters SET merged_into=? WHERE id=?", (article.cluster_id, old))
                db.execute("UPDATE cluster_aliases SET target=? WHERE target=?", (article.cluster_id, old))
                db.execute("INSERT OR REPLACE INTO cluster_aliases VALUES (?, ?)", (old, article.cluster_id))
                db.execute("UPDATE articles SET cluster_id=? WHERE cluster_id=?", (article.cluster_id, old))
            profile.add(article.lead_vector, article.entity_counts, article.published)
            self._save_profile(article.cluster_id, profile)
            cursor = db.execute(
                "INSERT INTO articles (id, title, text, published, source, url, ingested_at, content_hash,"
                " exact_key, cluster_id, verdict, signature, shingles, vector, lead_vector, entities, decision)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.article_id,
                    article.title,
                    article.text,
                    _ts(article.published),
                    article.source,
                    article.url,
                    now,
                    article.content_hash,
                    article.exact_key,
                    article.cluster_id,
                    article.verdict,
                    article.signature.to_bytes(),
                    article.signature.shingles,
                    np.asarray(article.vector, dtype="<f4").tobytes(),
                    np.asarray(article.lead_vector, dtype="<f4").tobytes(),
                    json.dumps(article.entity_counts, sort_keys=True),
                    article.decision,
                ),
            )
            key = int(cursor.lastrowid)
            db.executemany(
                "INSERT INTO quotes VALUES (?, ?, ?, ?, ?)",
                [
                    (key, i, json.dumps(q.quote.to_dict()), np.asarray(q.vectors, "<f4").tobytes(), len(q.vectors))
                    for i, q in enumerate(article.quotes)
                ],
            )
            self._count_entities(article.entity_counts, 1)
            db.execute("INSERT INTO changes (op, article_key) VALUES ('add', ?)", (key,))
        return key

    def _count_entities(self, counts: dict[str, int], sign: int) -> None:
        self._db.executemany(
            "INSERT INTO entity_df VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET n = n + excluded.n",
            [(term, sign) for term in counts],
        )
        self._db.execute(
            "INSERT INTO meta VALUES ('entity_documents', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
            (str(max(sign, 0)), sign),
        )

    def _profiles(self, cluster_ids: Sequence[str]) -> dict[str, Profile]:
        marks = ",".join("?" * len(cluster_ids))
        rows = self._db.execute(
            f"SELECT id, size, lead_sum, entities, first_published, last_published FROM clusters WHERE id IN ({marks})",
            list(cluster_ids),
        ).fetchall()
        return {
            row[0]: Profile(
                size=row[1],
                lead_sum=None if row[2] is None else np.frombuffer(row[2], dtype="<f4").astype(np.float32),
                entities=json.loads(row[3]),
                first_published=_dt(row[4]),
                last_published=_dt(row[5]),
            )
            for row in rows
        }

    def _save_profile(self, cluster_id: str, profile: Profile) -> None:
        self._db.execute(
            "UPDATE clusters SET size=?, lead_sum=?, entities=?, first_published=?, last_published=? WHERE id=?",
            (
                profile.size,
                None if profile.lead_sum is None else np.asarray(profile.lead_sum, "<f4").tobytes(),
                json.dumps({t: round(w, 6) for t, w in profile.entities.items()}, sort_keys=True),
                _ts(profile.first_published),
                _ts(profile.last_published),
                cluster_id,
            ),
        )

    def delete(self, article_id: str) -> ArticleRecord:
        with self._lock, self._transaction():
            row = self._db.execute(f"{_ARTICLE_SELECT} WHERE a.id=?", (article_id,)).fetchone()
            if row is None:
                raise NotFound(f"no article with id {article_id!r}")
            record = _record(row)
            (lead,) = self._db.execute("SELECT lead_vector FROM articles WHERE key=?", (record.key,)).fetchone()
            profile = self._profiles([record.cluster_id])[record.cluster_id]
            profile.add(np.frombuffer(lead, dtype="<f4"), record.entity_counts, None, sign=-1)
            self._save_profile(record.cluster_id, profile)
            self._count_entities(record.entity_counts, -1)
            self._db.execute("DELETE FROM quotes WHERE article_key=?", (record.key,))
            self._db.execute("DELETE FROM articles WHERE key=?", (record.key,))
            self._db.execute("INSERT INTO changes (op, article_key) VALUES ('delete', ?)", (record.key,))
        return record

    # ------------------------------------------------------------------ reads

    def by_id(self, article_id: str) -> ArticleRecord | None:
        with self._lock:
            row = self._db.execute(f"{_ARTICLE_SELECT} WHERE a.id=?", (article_id,)).fetchone()
        return None if row is None else _record(row)

    def by_keys(self, keys: Sequence[int]) -> dict[int, ArticleRecord]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._db.execute(f"{_ARTICLE_SELECT} WHERE a.key IN ({marks})", list(keys)).fetchall()
        return {row[0]: _record(row) for row in rows}

    def by_exact_key(self, exact_key: str) -> list[ArticleRecord]:
        with self._lock:
            rows = self._db.execute(f"{_ARTICLE_SELECT} WHERE a.exact_key=? ORDER BY a.key", (exact_key,)).fetchall()
        return [_record(row) for row in rows]

    def quotes(self, keys: Sequence[int]) -> dict[int, list[QuoteRecord]]:
        out: dict[int, list[QuoteRecord]] = {key: [] for key in keys}
        if not keys:
            return out
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = self._db.execute(
                f"SELECT article_key, quote, vectors, units FROM quotes WHERE article_key IN ({marks})"
                " ORDER BY article_key, idx",
                list(keys),
            ).fetchall()
        for key, quote, vectors, units in rows:
            matrix = np.frombuffer(vectors, dtype="<f4").astype(np.float32).reshape(units, -1) if units else None
            out[key].append(QuoteRecord(Quote.from_dict(json.loads(quote)), matrix))
        return out

    def profiles(self, cluster_ids: Sequence[str]) -> dict[str, Profile]:
        if not cluster_ids:
            return {}
        with self._lock:
            return self._profiles(cluster_ids)

    def entity_frequencies(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        terms = list(dict.fromkeys(terms))
        found: dict[str, int] = {}
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='entity_documents'").fetchone()
            for start in range(0, len(terms), 900):
                chunk = terms[start : start + 900]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT term, n FROM entity_df WHERE term IN ({marks})", chunk))
        return (int(row[0]) if row else 0), found

    def resolve_cluster(self, cluster_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT target FROM cluster_aliases WHERE alias=?", (cluster_id,)).fetchone()
            if row:
                return row[0]
            row = self._db.execute("SELECT id FROM clusters WHERE id=?", (cluster_id,)).fetchone()
        return row[0] if row else None

    def cluster(self, cluster_id: str, limit: int | None = None) -> ClusterRecord | None:
        with self._lock:
            head = self._db.execute(
                "SELECT created_at FROM clusters WHERE id=? AND merged_into IS NULL", (cluster_id,)
            ).fetchone()
            if head is None:
                return None
            aliases = [
                r[0]
                for r in self._db.execute(
                    "SELECT alias FROM cluster_aliases WHERE target=? ORDER BY alias", (cluster_id,)
                )
            ]
            rows = self._db.execute(
                f"{_ARTICLE_SELECT} WHERE a.cluster_id=? ORDER BY a.key DESC LIMIT ?",
                (cluster_id, -1 if limit is None else limit),
            ).fetchall()
        members = tuple(_record(row) for row in reversed(rows))
        return ClusterRecord(cluster_id, tuple(aliases), _dt(head[0]), members)

    def index_entries(self, since: float | None = None) -> Iterator[IndexEntry]:
        return _entries(self._db, self._lock, *_since(since))

    @contextlib.contextmanager
    def index_state(self, since: float | None = None) -> Iterator[tuple[int, Iterator[IndexEntry]]]:
        # A second, read-only connection in one read transaction: a consistent view as of
        # `seq` while ingests go on through the main connection (WAL lets both run).
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("BEGIN")
            (seq,) = db.execute(_LAST_CHANGE).fetchone()
            yield int(seq), _entries(db, None, *_since(since))  # this connection is ours alone
            db.execute("COMMIT")
        finally:
            db.close()

    def count_since(self, since: float | None) -> int:
        where, args = _since(since)
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM articles WHERE 1 {where}", args).fetchone()[0])

    def last_change(self) -> int:
        with self._lock:
            return int(self._db.execute(_LAST_CHANGE).fetchone()[0])

    def index_changes(self, since: int) -> IndexChanges:
        with self._lock:
            rows = self._db.execute("SELECT seq, op, article_key FROM changes WHERE seq > ? ORDER BY seq", (since,))
            rows = rows.fetchall()
            removed = {key for _, op, key in rows if op == "delete"}
            added = sorted({key for _, op, key in rows if op == "add"} - removed)
            entries = []
            for start in range(0, len(added), 500):
                chunk = added[start : start + 500]
                entries += _entries(self._db, None, f"AND key IN ({','.join('?' * len(chunk))})", chunk)
        return IndexChanges(tuple(entries), tuple(sorted(removed)))

    def counts(self) -> tuple[int, int]:
        with self._lock:
            articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            clusters = self._db.execute("SELECT COUNT(*) FROM clusters WHERE merged_into IS NULL").fetchone()[0]
        return int(articles), int(clusters)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._lockfile.close()


def _since(since: float | None) -> tuple[str, tuple[float, ...]]:
    return ("", ()) if since is None else ("AND ingested_at >= ?", (since,))


def _entries(
    db: sqlite3.Connection, lock: threading.Lock | None, where: str, args: Sequence[int] = ()
) -> Iterator[IndexEntry]:
    """Index entries in key order, read in pages; `lock` is taken per page (None: no other user of `db` to fear)."""
    last = 0
    while True:
        with lock or contextlib.nullcontext():
            rows = db.execute(
                f"SELECT key, signature, shingles, vector, ingested_at FROM articles WHERE key > ? {where} "
                "ORDER BY key LIMIT 5000",
                (last, *args),
            ).fetchall()
        if not rows:
            return
        for key, signature, shingles, vector, ingested_at in rows:
            yield IndexEntry(
                key, Signature.from_bytes(signature, shingles), np.frombuffer(vector, dtype="<f4"), ingested_at
            )
        last = rows[-1][0]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
