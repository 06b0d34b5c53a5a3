"""The Store protocol over SQL, shared by the SQLite and PostgreSQL backends.

Queries are written once, with `?` placeholders and the SQL both engines
speak (upserts, RETURNING); a backend gives the connection, the schema,
transactions and a consistent read view. Each store keeps one connection
behind a lock: its calls are short next to the model.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import threading
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..errors import NotFound, StaleDecision
from ..kept import Kept
from ..lexical import Signature
from ..profile import Profile
from ..quotes import Quote
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
    Stored,
)

__all__ = ["SQLStore"]

LOG = logging.getLogger(__name__)

# execute(sql, args) -> a cursor, for the main connection or a read view.
Execute = Callable[[str, Sequence[Any]], Any]

_ARTICLE_COLUMNS = (
    "a.key, a.id, a.title, a.text, a.published, a.source, a.url, a.ingested_at, a.content_hash, "
    "a.exact_key, a.cluster_id, c.rank, a.verdict, a.signature, a.shingles, a.entities, a.decision"
)
_LAST_CHANGE = "SELECT COALESCE(MAX(seq), 0) FROM changes"
_ARTICLE_SELECT = f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN clusters c ON c.id = a.cluster_id"
# A candidate's key, ids and cluster, read for every decision; what never changes once an article is
# stored (its time, signature and names) is read and decoded only when not already kept (`_Fixed`).
_CANDIDATE_SELECT = (
    "SELECT a.key, a.id, a.exact_key, a.cluster_id, c.rank FROM articles a JOIN clusters c ON c.id = a.cluster_id"
)
_FIXED_SELECT = "SELECT key, published, signature, shingles, entities FROM articles"
# Document frequencies kept where the store has one writer: about 12 MB when full (tracemalloc, terms of 4 to
# 17 characters).
KEPT_TERMS = 1 << 16
# How many stored articles' decoded time, signature and names are kept between decisions (3.7 KB each on
# average over ECB+, measured with tracemalloc).
KEPT_CANDIDATES = 4096
# How many stored articles' decoded quotes are kept: alignment reads those of a cluster's newest members.
KEPT_QUOTES = 1024
# How many cluster profiles are kept between decisions where the store has one writer (18 KB each for
# the events of ECB+, 11 articles on average).
KEPT_PROFILES = 512


def _json(value: dict) -> str:
    """A stored JSON column (keys sorted). orjson, not json: reading and writing these columns (entity
    counts, cluster profiles, quotes) took about 1 ms of the 12 ms of CPU an article spent outside the
    model on ECB+ (onnx-int8, one article at a time)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _ts(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


def _record(row: tuple) -> ArticleRecord:
    entity_counts = orjson.loads(row[15])
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
        signature=Signature.from_bytes(bytes(row[13]), row[14]),
        entities=frozenset(entity_counts),
        entity_counts=entity_counts,
        decision=_decision_text(row[16]),
    )


def _decision_text(stored: str | bytes) -> str:
    """A stored decision's JSON: text as written, or the zlib a store's `_stored_decision` made of it."""
    return stored if isinstance(stored, str) else zlib.decompress(stored).decode("utf-8")


_PROFILE_SELECT = "SELECT id, size, lead_sum, entities, first_published, last_published FROM clusters"


def _profile(row: tuple) -> Profile:
    """A cluster's profile from its row (_PROFILE_SELECT's columns)."""
    return Profile(
        size=row[1],
        lead_sum=None if row[2] is None else np.frombuffer(row[2], dtype="<f4").astype(np.float32),
        entities=orjson.loads(row[3]),
        first_published=_dt(row[4]),
        last_published=_dt(row[5]),
    )


# What a candidate record takes from a stored article that never changes: (published, signature, entities).
_Fixed = tuple[dt.datetime | None, Signature, frozenset[str]]

# The names' document counts are whole up to this change of the log (see `SQLStore.fold_every`).
_FOLDED = "entity_df_change"
_COUNT_TERMS = "INSERT INTO entity_df VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET n = entity_df.n + excluded.n"
_COUNT_DOCUMENTS = (
    "INSERT INTO meta VALUES ('entity_documents', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + ? AS TEXT)"
)


@dataclass
class _Unfolded:
    """The articles added since the change the names' document counts are whole up to (`_FOLDED`)."""

    counts: collections.Counter  # term -> articles that name it
    documents: int
    upto: int  # the newest of those changes (the folded one where there are none)


def _fixed(row: tuple) -> _Fixed:
    return _dt(row[1]), Signature.from_bytes(bytes(row[2]), row[3]), frozenset(orjson.loads(row[4]))


class SQLStore:
    """Every Store method but the connection's: see SQLiteStore and PostgresStore."""

    _lock: threading.Lock
    # Document frequencies of names and figures as read, kept between calls (term -> n, None where the
    # term has no row), where this process is the store's only writer: a decision reads those of every
    # term of its candidate clusters, a few hundred, most of them the same from one article to the next.
    # Every change to them is made by `_count_entities` inside a `_write`, which applies it to what is kept
    # once the transaction has committed, and forgets everything kept if the transaction fails.
    _kept_frequencies: Kept[str, int | None] | None = None
    _kept_documents: int | None = None  # the articles counted, beside the frequencies (None: not read yet)
    _uncounted: list[tuple[dict[str, int], int]]
    # Stored articles' decoded time, signature and names by key. Keys are never reused (AUTOINCREMENT,
    # an identity column) and those columns are never updated, so what is kept stays true whoever writes.
    _kept_fixed: Kept[int, _Fixed]
    _added: dict[int, _Fixed]  # by the write transaction under way, kept once it commits
    # Where this process is the store's only writer, an article's write leaves the names' document counts
    # (`entity_df`, and the count of articles) alone: they took 7.5 of the 21 pages an article wrote to the
    # WAL over ECB+, and 28 of 41 once a million names are counted, each rare name on a page of its own
    # (bench/store_writes.py). The articles added since the counts were last made whole are counted in
    # memory (`_unfolded`), and every `fold_every` of them are folded in at once, in one transaction that
    # also records the change the counts are whole up to (`_FOLDED`); a delete folds them in first, within
    # its own transaction. Where what memory holds is in doubt (at start, after a failed write, which may
    # have landed), the change log says what is unfolded: the articles added after the folded change (a
    # delete always folds first, so none comes after it).
    # 0: each write counts its names (other replicas read them).
    fold_every = 0
    _unfolded: _Unfolded | None = None  # None: in doubt, counted from the change log when next needed
    _folds: _Unfolded | None = None  # what the write transaction under way folds in
    _change = 0  # the change an add under way made
    # Stored articles' quotes, decoded, by key: never changed once stored (alignment fills the unit
    # vectors of the copies it is given, never the stored ones), so what is kept stays true whoever writes.
    _kept_quotes: Kept[int, tuple[tuple[Quote, np.ndarray | None], ...]]
    # Cluster profiles as read or saved, by id, where this process is the store's only writer: a decision
    # reads those of its candidate clusters, and an add that of its own, mostly the same from one article
    # to the next. Those a write saves are kept once it has committed; all are forgotten if it fails.
    _kept_profiles: Kept[str, Profile] | None = None
    _saved_profiles: dict[str, Profile] | None = None  # by the write transaction under way

    def _start_keeping(self, only_writer: bool) -> None:
        """The kept reads above: what never changes once stored, whoever writes; the document frequencies
        and the cluster profiles too where this process is the store's only writer."""
        self._kept_fixed = Kept(KEPT_CANDIDATES)
        self._kept_quotes = Kept(KEPT_QUOTES)
        if only_writer:
            self._kept_frequencies = Kept(KEPT_TERMS)
            self._kept_profiles = Kept(KEPT_PROFILES)

    @property
    def _writing(self) -> bool:
        """Inside a `_write`, whose changes are not committed yet: what is read then is not kept."""
        return self._saved_profiles is not None

    def _x(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Execute on the main connection (the caller holds the lock)."""
        raise NotImplementedError

    def _xmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _stored_decision(self, decision: str) -> str | bytes:
        """A decision as this store writes it (`_decision_text` reads it back): as it is here."""
        return decision

    def _one_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The condition that `column` holds one of `values`, and its parameters: an IN list here."""
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        """A write transaction on the main connection, rolled back on any exception."""
        raise NotImplementedError

    def _read_view(self) -> contextlib.AbstractContextManager[Execute]:
        """A second connection in one read-only transaction: a consistent view of the data."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """The lock and a write transaction; the kept document frequencies, fixed fields and profiles follow it
        once it has committed."""
        with self._lock:
            self._uncounted, self._added, self._saved_profiles = [], {}, {}
            self._folds, self._change = None, 0
            try:
                with self._transaction():
                    yield
            except BaseException:
                if self._kept_frequencies is not None:  # a commit that failed may have landed or not
                    self._kept_frequencies.clear()
                    self._kept_documents = None
                self._unfolded = None
                if self._kept_profiles is not None:
                    self._kept_profiles.clear()
                raise
            finally:
                saved, self._saved_profiles = self._saved_profiles, None
            # Kept once committed: a key rolled back would be given again (SQLite's sequence rolls back too).
            self._kept_fixed.keep(self._added)
            if self._kept_profiles is not None:
                self._kept_profiles.keep(saved)
            if self._kept_frequencies is not None:
                if self._kept_documents is not None:
                    self._kept_documents += sum(sign for _, sign in self._uncounted)
                for counts, sign in self._uncounted:
                    kept = self._kept_frequencies.found(counts)
                    self._kept_frequencies.keep({term: (n or 0) + sign for term, n in kept.items()})
            if self.fold_every:
                self._follow_unfolded()

    def _follow_unfolded(self) -> None:
        """Under the lock, once a write has committed: what it folded in and what it added, in `_unfolded`."""
        if self._folds is not None:
            self._unfolded = _Unfolded(collections.Counter(), 0, self._folds.upto)
        unfolded = self._unfolded
        if unfolded is None:
            return  # the change log counts them when next needed
        for counts, sign in self._uncounted:
            if sign > 0:
                unfolded.counts.update(counts.keys())
                unfolded.documents += 1
        unfolded.upto = max(unfolded.upto, self._change)

    def _unfolded_now(self) -> _Unfolded:
        """Under the lock: `_unfolded`, counted from the change log where it is in doubt."""
        if self._unfolded is not None:
            return self._unfolded
        row = self._x("SELECT value FROM meta WHERE key=?", (_FOLDED,)).fetchone()
        folded = int(row[0]) if row else 0
        unfolded = _Unfolded(collections.Counter(), 0, folded)
        for seq, entities in self._x(
            "SELECT c.seq, a.entities FROM changes c JOIN articles a ON a.key = c.article_key"
            " WHERE c.seq > ? AND c.op = 'add'",
            (folded,),
        ):
            unfolded.counts.update(orjson.loads(entities).keys())
            unfolded.documents += 1
            unfolded.upto = max(unfolded.upto, int(seq))
        if not self._writing:  # what has committed
            self._unfolded = unfolded
        return unfolded

    def _fold_in(self) -> None:
        """Inside a write transaction: fold the unfolded names' counts into `entity_df`; `_write` forgets
        them once it has committed."""
        unfolded = self._unfolded_now()
        if unfolded.documents:
            self._xmany(_COUNT_TERMS, sorted(unfolded.counts.items()))
            self._x(_COUNT_DOCUMENTS, (str(unfolded.documents), unfolded.documents))
        self._x(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_FOLDED, str(unfolded.upto)),
        )
        self._folds = unfolded

    def fold(self) -> None:
        """Fold the names' counts of the articles added since the last fold into the store (see `fold_every`):
        what the next start would otherwise count from the change log."""
        if self.fold_every:
            with self._write():
                self._fold_in()

    # ------------------------------------------------------------- parameters

    def parameters(self) -> dict[str, str]:
        with self._lock:
            rows = self._x(
                "SELECT key, value FROM meta WHERE key NOT IN ('schema_version', 'entity_documents', ?)", (_FOLDED,)
            ).fetchall()
        return dict(rows)

    def set_parameters(self, params: dict[str, str]) -> None:
        with self._write():
            self._xmany(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                sorted(params.items()),
            )

    # ----------------------------------------------------------------- writes

    def add(self, article: NewArticle) -> Stored:
        now = dt.datetime.now(dt.UTC).timestamp() if article.ingested_at is None else article.ingested_at
        with self._write():
            if article.decided_at_change is not None:
                (current,) = self._x(_LAST_CHANGE).fetchone()
                if current != article.decided_at_change:
                    raise StaleDecision(
                        f"{article.article_id!r} was decided at change {article.decided_at_change}; "
                        f"the store is at {current}"
                    )
            if article.new_cluster:
                self._x("INSERT INTO clusters (id, created_at) VALUES (?, ?)", (article.cluster_id, now))
            profile = self._profiles([article.cluster_id])[article.cluster_id]
            for old in article.merged:
                profile.absorb(self._profiles([old])[old])
                self._x("UPDATE clusters SET merged_into=? WHERE id=?", (article.cluster_id, old))
                self._x("UPDATE cluster_aliases SET target=? WHERE target=?", (article.cluster_id, old))
                self._x(
                    "INSERT INTO cluster_aliases VALUES (?, ?) "
                    "ON CONFLICT (alias) DO UPDATE SET target = excluded.target",
                    (old, article.cluster_id),
                )
                self._x("UPDATE articles SET cluster_id=? WHERE cluster_id=?", (article.cluster_id, old))
            profile.add(article.lead_vector, article.entity_counts, article.published)
            self._save_profile(article.cluster_id, profile)
            cursor = self._x(
                "INSERT INTO articles (id, title, text, published, source, url, ingested_at, content_hash,"
                " exact_key, cluster_id, verdict, signature, shingles, vector, lead_vector, entities, decision)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING key",
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
                    _json(article.entity_counts),
                    self._stored_decision(article.decision),
                ),
            )
            key = int(cursor.fetchone()[0])
            # As `_fixed` would read them back: the time through its stored timestamp.
            self._added[key] = (_dt(_ts(article.published)), article.signature, frozenset(article.entity_counts))
            self._xmany(
                "INSERT INTO quotes VALUES (?, ?, ?, ?, ?)",
                [
                    (key, i, _json(q.quote.to_dict()), _unit_blob(q.vectors), len(q.vectors))
                    for i, q in enumerate(article.quotes)
                ],
            )
            self._count_entities(article.entity_counts, 1)
            (change,) = self._x(
                "INSERT INTO changes (op, article_key) VALUES ('add', ?) RETURNING seq", (key,)
            ).fetchone()
            self._change = int(change)
        if self.fold_every and self._unfolded is not None and self._unfolded.documents >= self.fold_every:
            try:
                self.fold()
            except Exception:  # the article is stored; its names stay unfolded, counted from the log
                LOG.exception("folding the names' document counts into the store failed; a later write tries again")
        return Stored(key, int(change))

    def _count_entities(self, counts: dict[str, int], sign: int) -> None:
        self._uncounted.append((counts, sign))
        if sign > 0 and self.fold_every:
            return  # counted in `_unfolded` once committed, and folded in later
        self._xmany(_COUNT_TERMS, [(term, sign) for term in counts])
        self._x(_COUNT_DOCUMENTS, (str(max(sign, 0)), sign))

    def _profiles(self, cluster_ids: Sequence[str]) -> dict[str, Profile]:
        """Under the lock: the profiles of those of `cluster_ids` that exist, in that order; each a copy
        of its own, which the caller may change."""
        kept = self._kept_profiles
        found = {} if kept is None else kept.found(cluster_ids)
        missing = [c for c in cluster_ids if c not in found]
        if missing:
            where, args = self._one_of("id", missing)
            read = {row[0]: _profile(row) for row in self._x(f"{_PROFILE_SELECT} WHERE {where}", args)}
            if kept is not None and not self._writing:  # what has committed
                kept.keep(read)
            found.update(read)
        return {c: found[c].copy() for c in cluster_ids if c in found}

    def _save_profile(self, cluster_id: str, profile: Profile) -> None:
        row = (
            cluster_id,
            profile.size,
            None if profile.lead_sum is None else np.asarray(profile.lead_sum, "<f4").tobytes(),
            _json(profile.saved_entities()),
            _ts(profile.first_published),
            _ts(profile.last_published),
        )
        self._x(
            "UPDATE clusters SET size=?, lead_sum=?, entities=?, first_published=?, last_published=? WHERE id=?",
            (*row[1:], cluster_id),
        )
        if self._kept_profiles is not None and self._writing:
            self._saved_profiles[cluster_id] = _profile(row)  # as the next read would give it

    def delete(self, article_id: str) -> ArticleRecord:
        with self._write():
            row = self._x(f"{_ARTICLE_SELECT} WHERE a.id=?", (article_id,)).fetchone()
            if row is None:
                raise NotFound(f"no article with id {article_id!r}")
            record = _record(row)
            if self.fold_every:
                self._fold_in()  # what is unfolded must not outlive an article it counts (see `fold_every`)
            (lead,) = self._x("SELECT lead_vector FROM articles WHERE key=?", (record.key,)).fetchone()
            profile = self._profiles([record.cluster_id])[record.cluster_id]
            profile.add(np.frombuffer(lead, dtype="<f4"), record.entity_counts, None, sign=-1)
            self._save_profile(record.cluster_id, profile)
            self._count_entities(record.entity_counts, -1)
            self._x("DELETE FROM quotes WHERE article_key=?", (record.key,))
            self._x("DELETE FROM articles WHERE key=?", (record.key,))
            self._x("INSERT INTO changes (op, article_key) VALUES ('delete', ?)", (record.key,))
        return record

    # ------------------------------------------------------------------ reads

    def by_id(self, article_id: str) -> ArticleRecord | None:
        with self._lock:
            row = self._x(f"{_ARTICLE_SELECT} WHERE a.id=?", (article_id,)).fetchone()
        return None if row is None else _record(row)

    def by_keys(self, keys: Sequence[int]) -> dict[int, CandidateRecord]:
        if not keys:
            return {}
        where, args = self._one_of("a.key", keys)
        with self._lock:
            rows = self._x(f"{_CANDIDATE_SELECT} WHERE {where}", args).fetchall()
            return {record.key: record for record in self._candidates(rows)}

    def by_exact_key(self, exact_key: str) -> list[CandidateRecord]:
        with self._lock:
            rows = self._x(f"{_CANDIDATE_SELECT} WHERE a.exact_key=? ORDER BY a.key", (exact_key,)).fetchall()
            return self._candidates(rows)

    def _candidates(self, rows: Sequence[tuple]) -> list[CandidateRecord]:
        """Under the lock: candidate records of `rows` (_CANDIDATE_SELECT's), in their order."""
        fixed = self._kept_fixed.found(row[0] for row in rows)
        missing = [row[0] for row in rows if row[0] not in fixed]
        if missing:
            where, args = self._one_of("key", missing)
            read = {row[0]: _fixed(row) for row in self._x(f"{_FIXED_SELECT} WHERE {where}", args)}
            self._kept_fixed.keep(read)
            fixed.update(read)
        return [
            CandidateRecord(
                key=key,
                article_id=article_id,
                exact_key=exact,
                cluster_id=cluster_id,
                cluster_rank=rank,
                published=fixed[key][0],
                signature=fixed[key][1],
                entities=fixed[key][2],
            )
            for key, article_id, exact, cluster_id, rank in rows
            if key in fixed  # not when another replica deleted it between the two reads
        ]

    def quotes(self, keys: Sequence[int]) -> dict[int, list[QuoteRecord]]:
        """Each article's quotes by key, in order; their unit vectors are the caller's own to fill."""
        if not keys:
            return {}
        found = self._kept_quotes.found(keys)
        missing = [key for key in keys if key not in found]
        if missing:
            read: dict[int, list[tuple[Quote, np.ndarray | None]]] = {}
            where, args = self._one_of("a.key", missing)
            with self._lock:  # a row for each stored article: an article that is not (yet) stored keeps nothing
                rows = self._x(
                    "SELECT a.key, q.quote, q.vectors, q.units, length(a.vector) FROM articles a"
                    f" LEFT JOIN quotes q ON q.article_key = a.key WHERE {where} ORDER BY a.key, q.idx",
                    args,
                ).fetchall()
            for key, quote, vectors, units, vector_bytes in rows:
                quotes = read.setdefault(key, [])
                if quote is None:
                    continue
                quotes.append((Quote.from_dict(orjson.loads(quote)), _unit_matrix(vectors, units, vector_bytes // 4)))
            kept = {key: tuple(quotes) for key, quotes in read.items()}
            self._kept_quotes.keep(kept)
            found.update(kept)
        return {
            key: [QuoteRecord(quote, None if matrix is None else matrix.copy()) for quote, matrix in found.get(key, ())]
            for key in keys
        }

    def profiles(self, cluster_ids: Sequence[str]) -> dict[str, Profile]:
        if not cluster_ids:
            return {}
        with self._lock:
            return self._profiles(cluster_ids)

    def entity_frequencies(self, terms: Collection[str]) -> tuple[int, dict[str, int]]:
        kept = self._kept_frequencies
        with self._lock:
            unfolded = self._unfolded_now() if self.fold_every else None
            documents = self._kept_documents
            if documents is None:
                row = self._x("SELECT value FROM meta WHERE key='entity_documents'").fetchone()
                documents = (int(row[0]) if row else 0) + (unfolded.documents if unfolded else 0)
                if kept is not None and not self._writing:  # what has committed
                    self._kept_documents = documents
            found = {} if kept is None else kept.found(terms)
            read: dict[str, int | None] = dict.fromkeys(t for t in terms if t not in found)
            missing = list(read)
            for start in range(0, len(missing), 900):
                where, args = self._one_of("term", missing[start : start + 900])
                read.update(self._x(f"SELECT term, n FROM entity_df WHERE {where}", args))
            if unfolded is not None:
                for term in missing:
                    if term in unfolded.counts:
                        read[term] = (read[term] or 0) + unfolded.counts[term]
            if kept is not None:
                kept.keep(read)
        found.update(read)
        return documents, {term: n for term, n in found.items() if n is not None}

    def resolve_cluster(self, cluster_id: str) -> str | None:
        with self._lock:
            row = self._x("SELECT target FROM cluster_aliases WHERE alias=?", (cluster_id,)).fetchone()
            if row:
                return row[0]
            row = self._x("SELECT id FROM clusters WHERE id=?", (cluster_id,)).fetchone()
        return row[0] if row else None

    def _cluster_head(self, cluster_id: str) -> tuple[dt.datetime, tuple[str, ...]] | None:
        """Under the lock: a canonical cluster's creation time and aliases (None: not canonical)."""
        head = self._x("SELECT created_at FROM clusters WHERE id=? AND merged_into IS NULL", (cluster_id,)).fetchone()
        if head is None:
            return None
        aliases = self._x("SELECT alias FROM cluster_aliases WHERE target=? ORDER BY alias", (cluster_id,))
        return _dt(head[0]), tuple(r[0] for r in aliases)

    def cluster(self, cluster_id: str) -> ClusterRecord | None:
        with self._lock:
            head = self._cluster_head(cluster_id)
            if head is None:
                return None
            rows = self._x(f"{_ARTICLE_SELECT} WHERE a.cluster_id=? ORDER BY a.key", (cluster_id,)).fetchall()
        members = tuple(_record(row) for row in rows)
        created_at, aliases = head
        return ClusterRecord(cluster_id, aliases, created_at, members)

    def member_texts(self, cluster_id: str, limit: int) -> tuple[MemberText, ...]:
        with self._lock:
            rows = self._x(
                "SELECT key, id, text FROM articles WHERE cluster_id=? ORDER BY key DESC LIMIT ?", (cluster_id, limit)
            ).fetchall()
        return tuple(MemberText(*row) for row in reversed(rows))

    def cluster_page(self, cluster_id: str, after: int, count: int) -> ClusterPage | None:
        with self._lock:
            head = self._cluster_head(cluster_id)
            if head is None:
                return None
            (size,) = self._x("SELECT COUNT(*) FROM articles WHERE cluster_id=?", (cluster_id,)).fetchone()
            rows = self._x(
                "SELECT key, id, title, verdict, published, source FROM articles "
                "WHERE cluster_id=? AND key > ? ORDER BY key LIMIT ?",
                (cluster_id, after, count),
            ).fetchall()
        members = tuple(MemberRecord(r[0], r[1], r[2], r[3], _dt(r[4]), r[5]) for r in rows)
        created_at, aliases = head
        return ClusterPage(cluster_id, aliases, created_at, int(size), members)

    def index_entries(self, since: float | None = None) -> Iterator[IndexEntry]:
        return _entries(self._x, self._lock, *_since(since))

    @contextlib.contextmanager
    def index_state(self, since: float | None = None) -> Iterator[tuple[int, Iterator[IndexEntry]]]:
        # A second connection in one read transaction: a consistent view as of `seq` while
        # ingests go on through the main connection.
        with self._read_view() as execute:
            (seq,) = execute(_LAST_CHANGE, ()).fetchone()
            yield int(seq), _entries(execute, None, *_since(since))  # this connection is ours alone

    def count_since(self, since: float | None) -> int:
        where, args = _since(since)
        with self._lock:
            return int(self._x(f"SELECT COUNT(*) FROM articles WHERE TRUE {where}", args).fetchone()[0])

    def last_change(self) -> int:
        with self._lock:
            return int(self._x(_LAST_CHANGE).fetchone()[0])

    def index_changes(self, since: int) -> IndexChanges:
        with self._lock:
            rows = self._x("SELECT seq, op, article_key FROM changes WHERE seq > ? ORDER BY seq", (since,))
            rows = rows.fetchall()
            removed = {key for _, op, key in rows if op == "delete"}
            added = sorted({key for _, op, key in rows if op == "add"} - removed)
            entries = []
            for start in range(0, len(added), 500):
                where, args = self._one_of("key", added[start : start + 500])
                entries += _entries(self._x, None, f"AND {where}", args)
        return IndexChanges(tuple(entries), tuple(sorted(removed)), max([since, *(seq for seq, _, _ in rows)]))

    def counts(self) -> tuple[int, int]:
        with self._lock:
            articles = self._x("SELECT COUNT(*) FROM articles").fetchone()[0]
            clusters = self._x("SELECT COUNT(*) FROM clusters WHERE merged_into IS NULL").fetchone()[0]
        return int(articles), int(clusters)


def _unit_blob(vectors: np.ndarray) -> bytes:
    """A quote's unit vectors as stored: float32, row by row; nothing where none is made yet, as for nearly
    every quote (a unit is embedded when an alignment first needs it, and only the article's own ingest
    writes them): 1.5 KB of zeros a unit were more than a quarter of an archive's SQLite file."""
    return np.asarray(vectors, "<f4").tobytes() if vectors.any() else b""


def _unit_matrix(blob: bytes, units: int, dim: int) -> np.ndarray | None:
    """`_unit_blob` read back: `units` rows of `dim` (its article's vector's), zeros where none was stored."""
    if not units:
        return None
    if not blob:
        return np.zeros((units, dim), dtype=np.float32)
    return np.frombuffer(blob, dtype="<f4").astype(np.float32).reshape(units, -1)


def _since(since: float | None) -> tuple[str, tuple[float, ...]]:
    return ("", ()) if since is None else ("AND ingested_at >= ?", (since,))


def _entries(
    execute: Execute, lock: threading.Lock | None, where: str, args: Sequence[Any] = ()
) -> Iterator[IndexEntry]:
    """Index entries in key order, read in pages; `lock` is taken per page (None: no other user of `db` to fear)."""
    last = 0
    while True:
        with lock or contextlib.nullcontext():
            rows = execute(
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
