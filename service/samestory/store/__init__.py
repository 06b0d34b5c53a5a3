"""Stores: the Store protocol and its backends."""

from __future__ import annotations

from pathlib import Path

from .base import ArticleRecord, ClusterRecord, IndexChanges, IndexEntry, NewArticle, QuoteRecord, Store
from .sqlite import SQLiteStore

__all__ = [
    "ArticleRecord",
    "ClusterRecord",
    "IndexChanges",
    "IndexEntry",
    "NewArticle",
    "QuoteRecord",
    "SQLiteStore",
    "Store",
    "open_store",
]


def open_store(data_dir: Path) -> Store:
    """The embedded SQLite store in `data_dir`."""
    return SQLiteStore(data_dir)
