"""Stores: the Store protocol and its backends."""

from __future__ import annotations

from pathlib import Path

from .base import (
    ArticleRecord,
    CandidateRecord,
    ClusterPage,
    ClusterRecord,
    IndexChanges,
    IndexEntry,
    MemberRecord,
    MemberText,
    NewArticle,
    QuoteRecord,
    Store,
    Stored,
    lock_data_dir,
)
from .sqlite import SQLiteStore

__all__ = [
    "ArticleRecord",
    "CandidateRecord",
    "ClusterPage",
    "ClusterRecord",
    "IndexChanges",
    "IndexEntry",
    "MemberRecord",
    "MemberText",
    "NewArticle",
    "QuoteRecord",
    "SQLiteStore",
    "Store",
    "Stored",
    "open_store",
]


def open_store(data_dir: Path, url: str | None = None) -> Store:
    """The PostgreSQL store at `url` (postgresql://...), else the embedded SQLite store in `data_dir`."""
    if url:
        from .postgres import PostgresStore  # psycopg is needed only here

        lockfile = lock_data_dir(data_dir)  # the replica's snapshot lives there
        try:
            return PostgresStore(url, lockfile)
        except BaseException:
            lockfile.close()
            raise
    return SQLiteStore(data_dir)
