"""The embedded store: one SQLite database in WAL mode inside the data directory."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, ConfigurationError
from .base import lock_data_dir
from .sql import Execute, SQLStore

__all__ = ["SQLiteStore"]

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 4
# The schema of a new database. A table keyed by text alone is WITHOUT ROWID: one B-tree, not a table
# and an index beside it that repeats every key.
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
CREATE TABLE IF NOT EXISTS entity_df (term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
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
# A database of an older schema is brought to this one at open, in one transaction: _MIGRATIONS[v] takes
# version v to v + 1.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # The names' document counts in one B-tree: each article's write touched about 10 pages of them, of 26
    # in all, and 7 now (ECB+, the WAL's frames by B-tree); a lookup descends one tree instead of two.
    1: (
        "CREATE TABLE entity_df_v2 (term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
        "INSERT INTO entity_df_v2 (term, n) SELECT term, n FROM entity_df ORDER BY term",  # appended in order
        "DROP TABLE entity_df",
        "ALTER TABLE entity_df_v2 RENAME TO entity_df",
    ),
    # Decisions are written compressed (`_stored_decision`); those written before stay as text. Nothing
    # changes in the tables: the version keeps a build of schema 2, which reads text only, out.
    2: (),
    # The names' document counts are folded in every SQLiteStore.fold_every articles, not written with each
    # (SQLStore.fold_every): up to the newest change, they are whole. The version keeps a build of schema 3,
    # which counts with each article and knows nothing of what is unfolded, out.
    3: (
        "INSERT INTO meta SELECT 'entity_df_change', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM changes"
        " WHERE TRUE ON CONFLICT (key) DO NOTHING",
    ),
}


class SQLiteStore(SQLStore):
    """SQLite in WAL mode with full fsync: a committed ingest survives a crash.

    One process per data directory (a file lock): the in-memory indexes belong to it.
    """

    shared = False
    # The names' document counts are folded in every this many articles (see SQLStore.fold_every): 256
    # articles' names in one transaction of 16-57 ms where a million names are counted (throwaway timings),
    # once in 256 ingests; the next start counts at most that many articles' names from the change log.
    fold_every = 256

    def __init__(self, data_dir: Path) -> None:
        self._lockfile = lock_data_dir(data_dir)
        try:
            self._open(data_dir)
        except BaseException:
            self._lockfile.close()
            raise

    def _open(self, data_dir: Path) -> None:
        self.path = data_dir / "samestory.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._start_keeping(only_writer=True)  # the data directory's lock keeps other processes out
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            found = None
            if self._db.execute("SELECT 1 FROM sqlite_schema WHERE type='table' AND name='meta'").fetchone():
                found = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if found is not None:
                self._migrate(int(found[0]))
            self._db.executescript(_SCHEMA)  # a new database's tables; those that exist stay as they are
            if found is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self._db.execute("INSERT INTO meta VALUES ('entity_df_change', '0')")
            self._unfolded_now()  # the articles whose names the last process left unfolded

    def _migrate(self, version: int) -> None:
        """Bring a database of schema `version` to this build's, all steps in one transaction."""
        if version > SCHEMA_VERSION:
            raise ConfigurationError(
                f"{self.path} has schema version {version}; this build reads {SCHEMA_VERSION}: upgrade Samestory"
            )
        if version == SCHEMA_VERSION:
            return
        LOG.info("%s has schema version %d: migrating it to %d", self.path, version, SCHEMA_VERSION)
        with self._transaction():
            for step in range(version, SCHEMA_VERSION):
                for sql in _MIGRATIONS[step]:
                    self._db.execute(sql)
            self._db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        LOG.info("%s migrated from schema version %d to %d", self.path, version, SCHEMA_VERSION)

    def _x(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._db.execute(sql, args)

    def _xmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except sqlite3.IntegrityError as exc:
            self._db.execute("ROLLBACK")
            raise AlreadyExists(f"the store refused a duplicate: {exc}") from exc
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _read_view(self) -> Iterator[Execute]:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("BEGIN")
            yield db.execute
            db.execute("COMMIT")
        finally:
            db.close()

    def _stored_decision(self, decision: str) -> bytes:
        """zlib: a decision's JSON, 4.4 KB an article on ECB+ (most of it the matches' repeated keys), takes
        a fifth of that, for 40 us an article (read back 12 us). PostgreSQL compresses values this large
        itself (TOAST)."""
        return zlib.compress(decision.encode("utf-8"), 3)

    def decision_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held around a decision and its write; one process owns the directory, so nothing to take."""
        return contextlib.nullcontext()

    def close(self) -> None:
        if self._unfolded is None or self._unfolded.documents:
            try:
                self.fold()
            except Exception:  # the next start counts them from the change log
                LOG.exception("folding the names' document counts into %s failed", self.path)
        with self._lock:
            self._db.close()
            self._lockfile.close()
