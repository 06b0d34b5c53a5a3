"""The detector: composes text, lexical, semantic, decide and quotes over a store.

`check` and `ingest` are blocking and thread-safe; the gRPC layer runs them
off the event loop. The model runs outside the lock; index reads, the
decision and the store write run under one writer lock, so the LSH and FAISS
indexes are never mutated concurrently and two articles of one event cannot
both start a cluster.
"""

from __future__ import annotations

import collections
import datetime as dt
import heapq
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np

from . import quotes as quotes_mod
from . import text as text_mod
from .config import Settings
from .decide import Candidate, ClusterEvidence, Outcome, Probe, decide
from .errors import (
    AlreadyExists,
    DeadlineExceeded,
    IncompatibleData,
    InvalidArticle,
    LimitExceeded,
    NotFound,
    StaleDecision,
)
from .lexical import Hasher, LexicalIndex, RedisLexicalIndex, Signature
from .profile import cluster_evidence
from .records import ArticleIn, Decision, Match
from .semantic import Embedder, VectorIndex
from .snapshot import Snapshot, SnapshotError, read_snapshot, write_snapshot
from .store import ArticleRecord, ClusterPage, IndexEntry, NewArticle, QuoteRecord, Store

__all__ = ["CLUSTER_PAGE", "MAX_CLUSTER_PAGE", "Detector", "Pending", "Stopwatch"]

LOG = logging.getLogger(__name__)
_R = TypeVar("_R")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_FIELD_CHARS = 4096
# Parameters that change what the indexes hold: a mismatch means the data must be rebuilt.
_INDEX_PARAMETERS = ("model", "vector.dim", "minhash.", "shingle.", "lsh.")
SNAPSHOT_FILE = "index.snapshot"
_DAY = 86_400.0
_DECISION_ATTEMPTS = 3
# Pairs of articles whose quote alignments cluster reads keep: 80 clusters of SAMESTORY_GROUP_ARTICLES
# (50) members each. The keys take 14 MB; most pairs align nothing and keep an empty tuple.
_ALIGNED_PAIRS = 100_000
# Quote units whose vectors are kept by text: a paraphrase's units meet each new member of its
# cluster. 10,000 vectors of 384 floats take 15 MB.
_UNIT_VECTORS = 10_000
# Members a cluster read lists by default, and at most: a story of 40,000 members read whole took
# 3.9 s here and made a 5.9 MB reply, over gRPC's default limit of 4 MB (bench/cluster_read.py).
CLUSTER_PAGE = 1000
MAX_CLUSTER_PAGE = 10_000


@dataclass(frozen=True)
class _Prepared:
    article: ArticleIn
    published: dt.datetime | None
    clean: text_mod.CleanText
    signature: Signature
    exact_key: str
    entity_counts: dict[str, int]
    vector: np.ndarray
    lead_vector: np.ndarray
    quotes: tuple[QuoteRecord, ...]
    # quotes_mod.quote_units of each quote, in the same order: what its vectors embed.
    units: tuple[tuple[tuple[str, tuple[int, int]], ...], ...]

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(self.entity_counts)


class Stopwatch:
    """Seconds spent in each stage of one call: what bench/check_latency.py splits a Check into."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._last
        self._last = now


class _Unwatched(Stopwatch):
    def lap(self, stage: str) -> None:
        pass


_UNWATCHED = _Unwatched()


@dataclass(frozen=True)
class Pending:
    """An ingest between `prepare` and `commit`: its prepared article, or the stored answer to replay."""

    article: ArticleIn
    content_hash: str
    prepared: _Prepared | None
    replay: Decision | None


class Detector:
    def __init__(
        self, settings: Settings, store: Store, embedder: Embedder, clock: Callable[[], float] = time.time
    ) -> None:
        # One query at a time gains nothing from FAISS's OpenMP threads, and they would fight the
        # model's threads for the same cores (a process-wide setting: every detector wants it).
        faiss.omp_set_num_threads(1)
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._hasher = Hasher(settings.lexical)
        self._lock = threading.Lock()
        self._aligned_pairs = quotes_mod.PairCache(_ALIGNED_PAIRS)
        # Quote units are embedded when an alignment first needs them (see quotes.align), not at ingest.
        # That is under the writer lock: an embedder that can (the server's batcher) runs them at once,
        # not queued behind a batch of documents.
        now = getattr(embedder, "encode_now", embedder.encode)
        self.unit_vectors = quotes_mod.UnitVectors(now, _UNIT_VECTORS)
        self._lexical = self._new_lexical()
        self._vectors = self._new_vectors()
        # The time window: (ingest time, key) of every indexed article, oldest first. Articles
        # ingested before the horizon leave the in-memory indexes; they stay in the store.
        self._clock = clock
        self._window = settings.index_window_days * _DAY
        self._ages: list[tuple[float, int]] = []
        self._training: threading.Thread | None = None
        self.parameters = self._check_parameters()
        self._snapshot_lock = threading.Lock()
        self._snapshot_seq: int | None = None
        self._applied = 0  # the newest change of the store's log that the indexes reflect
        # Whether the store may hold changes the indexes lack, so that a write reads its log first: always
        # where other replicas write; for the sole writer only after one of its writes failed (a commit that
        # fails may still have landed). Reading the log otherwise cost 60 us an ingest (its two statements timed
        # by thread CPU over 300 ECB+ articles).
        self._may_lag = True
        self._load_indexes()
        self._vectors.train_when_due()  # nobody is waiting yet: train here
        if self._lexical.persistent:
            with self.store.decision_lock():
                self._before_write()
        self._closing = threading.Event()
        self._snapshots: threading.Thread | None = None
        if settings.snapshot_seconds > 0:
            self._snapshots = threading.Thread(target=self._snapshot_loop, name="samestory-snapshots", daemon=True)
            self._snapshots.start()
        self._follower: threading.Thread | None = None
        if store.shared and settings.follow_seconds > 0:
            self._follower = threading.Thread(target=self._follow_loop, name="samestory-follower", daemon=True)
            self._follower.start()

    # ------------------------------------------------------------ start-up

    def _check_parameters(self) -> dict[str, str]:
        lexical = self.settings.lexical
        current = {
            "model": self.embedder.identity,
            "vector.dim": str(self.embedder.dim),
            **lexical.as_dict(),
            "lsh.bands": str(self._lexical.bands),
            "lsh.rows": str(self._lexical.rows),
            **self.settings.thresholds.as_dict(),
        }
        stored = self.store.parameters()
        differ = {
            k: (stored.get(k), current.get(k))
            for k in sorted(set(stored) | set(current))
            if k.startswith(_INDEX_PARAMETERS) and stored and stored.get(k) != current.get(k)
        }
        if differ:
            lines = "; ".join(f"{k}: data has {old!r}, settings give {new!r}" for k, (old, new) in differ.items())
            raise IncompatibleData(
                f"the data directory {self.settings.data_dir} was built with other parameters ({lines}). "
                "Start with the settings it was built with, or use a new --data-dir and ingest again."
            )
        if stored != current:
            self.store.set_parameters(current)
        return current

    @property
    def snapshot_path(self) -> Path:
        return self.settings.data_dir / SNAPSHOT_FILE

    def _index_parameters(self) -> dict[str, str]:
        return {k: v for k, v in self.parameters.items() if k.startswith(_INDEX_PARAMETERS)}

    def _new_lexical(self) -> LexicalIndex | RedisLexicalIndex:
        s = self.settings
        return RedisLexicalIndex(s.lexical, s.lsh, s.lsh_basename) if s.lsh else LexicalIndex(s.lexical)

    def _new_vectors(self, centroids: np.ndarray | None = None) -> VectorIndex:
        s = self.settings
        return VectorIndex(self.embedder.dim, s.ivf_from, s.ivf_lists, s.ivf_probe, centroids)

    def _load_indexes(self) -> None:
        """From the snapshot plus the changes after it; from the whole store when that fails.

        Only articles inside the time window are loaded.
        """
        started = time.monotonic()
        horizon = self.horizon
        snap = self._read_snapshot()
        if snap is not None:
            self._vectors = self._new_vectors(snap.centroids if len(snap.centroids) else None)
            inside = snap.times >= horizon
            self._add_to_indexes(
                snap.keys[inside],
                snap.shingles[inside],
                snap.signatures[inside],
                snap.vectors[inside],
                snap.times[inside],
                snap.lists[inside],
            )
            changes = self.store.index_changes(snap.seq)
            self._apply(changes.added, changes.removed)
            stored = self.store.count_since(horizon or None)
            if stored == len(self._vectors):
                self._snapshot_seq, self._applied = snap.seq, changes.upto
                LOG.info(
                    "indexes loaded from the snapshot at change %d (%d articles), then %d added and %d removed "
                    "from the store, in %.2fs; %d articles indexed, vector index %s",
                    snap.seq,
                    len(snap),
                    len(changes.added),
                    len(changes.removed),
                    time.monotonic() - started,
                    len(self._vectors),
                    self._vectors.kind,
                )
                return
            LOG.warning(
                "index snapshot %s disagrees with the store (%d indexed, %d stored): rebuilding from the store",
                self.snapshot_path,
                len(self._vectors),
                stored,
            )
            if not self._lexical.persistent:
                self._lexical = self._new_lexical()
            self._vectors = self._new_vectors()
            self._ages = []
        # Entries read after this point may be newer still: the catch-up from here skips what is present.
        self._applied = self.store.last_change()
        for page in self._pages(horizon):
            self._apply(page, ())
        self._catch_up()
        LOG.info(
            "indexes rebuilt from the store: %d articles in %.2fs, vector index %s",
            len(self._vectors),
            time.monotonic() - started,
            self._vectors.kind,
        )

    def _read_snapshot(self) -> Snapshot | None:
        path = self.snapshot_path
        if not path.exists():
            return None
        try:
            snap = read_snapshot(path)
            if snap.parameters != self._index_parameters():
                raise SnapshotError(f"{path} was built with other index parameters")
            if snap.seq > self.store.last_change():
                raise SnapshotError(f"{path} is ahead of the store (change {snap.seq}): it belongs to other data")
            if len(snap) and snap.vectors.shape[1] != self.embedder.dim:
                raise SnapshotError(f"{path} holds {snap.vectors.shape[1]}-dimensional vectors")
        except SnapshotError as exc:
            LOG.warning("index snapshot not used, rebuilding from the store: %s", exc)
            return None
        return snap

    def _add_to_indexes(self, keys, shingles, signatures, vectors, times, lists=None) -> None:
        if not self._lexical.persistent:  # a shared LSH has them already (see _sync_lexical)
            self._lexical.add_arrays(keys, shingles, signatures)
        self._vectors.add(keys, vectors, lists)
        self._track(keys, times)

    def _train_when_due(self) -> None:
        """Under the writer lock: once the vector index is due, train its centroids in the background.

        k-means takes seconds; only moving the vectors into the new index (about 1 s
        per 100k) holds the lock.
        """
        if not self._vectors.due() or (self._training is not None and self._training.is_alive()):
            return
        vectors, sample = self._vectors, self._vectors.sample()

        def train() -> None:
            try:
                centroids = vectors.train(sample)
                with self._lock:
                    if self._vectors is vectors:
                        vectors.use_centroids(centroids)
            except Exception:  # the next ingest tries again
                LOG.exception("training the inverted file failed")

        self._training = threading.Thread(target=train, name="samestory-ivf-training", daemon=True)
        self._training.start()

    def wait_for_training(self, timeout: float | None = None) -> None:
        """Block until a background training of the vector index (if any) is done."""
        if self._training is not None:
            self._training.join(timeout)

    # ------------------------------------------------------------- replicas

    def _catch_up(self) -> int:
        """Apply the store's changes since the last applied one (other replicas' writes); returns how many."""
        changes = self.store.index_changes(self._applied)
        if changes.upto == self._applied:
            return 0
        self._apply(changes.added, changes.removed)
        self._applied = changes.upto
        return len(changes.added) + len(changes.removed)

    def _before_write(self) -> None:
        """Under the decision lock: the indexes, and a shared LSH, up to the store's newest change."""
        if self._may_lag:
            self._catch_up()
            self._may_lag = self.store.shared
        if self._lexical.persistent:
            self._sync_lexical()

    def _sync_lexical(self) -> None:
        """Bring a shared (Redis) LSH up to the change the indexes have applied (see _before_write).

        Writers keep it current themselves; this replays what a writer that died between
        the store and Redis left out, and builds the LSH when it is new or from other data.
        """
        seq, last = self._lexical.seq, self._applied
        if seq == last:
            return
        if seq > last or (seq == 0 and len(self._lexical)):
            LOG.warning(
                "the Redis LSH %r is at change %d, the store at %d: rebuilding it", self._lexical.basename, seq, last
            )
            self._lexical.clear()
            seq = 0
        if seq == 0:
            for page in self._pages(self.horizon):
                self._lexical.add_arrays(*self._columns(page)[:3])
            self._lexical.set_seq(last)
            LOG.info("Redis LSH %r built from the store: %d articles", self._lexical.basename, len(self._lexical))
            return
        changes = self.store.index_changes(seq)
        self._lexical.remove_many(changes.removed)
        self._lexical.add_arrays(*self._columns(self._inside(changes.added))[:3])
        self._lexical.set_seq(changes.upto)
        LOG.info("Redis LSH %r caught up from change %d to %d", self._lexical.basename, seq, changes.upto)

    def follow(self) -> int:
        """Catch up with the store's change log now; the follower thread calls this."""
        if self.store.last_change() == self._applied:  # cheap: most rounds find nothing new
            return 0
        with self._lock:
            return self._catch_up()

    def _follow_loop(self) -> None:
        while not self._closing.wait(self.settings.follow_seconds):
            try:
                self.follow()
            except Exception:  # a passing database error: the next round tries again
                LOG.exception("following the store's change log failed")

    # --------------------------------------------------------- time window

    @property
    def vector_index(self) -> str:
        """The kind of vector index in use: flat, or ivf<lists>."""
        return self._vectors.kind

    @property
    def horizon(self) -> float:
        """Articles ingested before this (POSIX seconds) are out of the in-memory indexes; 0: no window."""
        return self._clock() - self._window if self._window else 0.0

    def _track(self, keys: Sequence[int], times: Sequence[float]) -> None:
        if self._window:
            for key, when in zip(np.asarray(keys).tolist(), np.asarray(times, dtype=float).tolist(), strict=True):
                heapq.heappush(self._ages, (when, key))

    def evict(self, slack: float = 0.0) -> int:
        """Take articles older than the window's horizon out of the in-memory indexes; returns how many.

        They stay in the store, reachable by id and in their clusters. `slack`
        (seconds) lets expired articles gather into one batch: removal from a
        flat FAISS index costs a pass over it whatever the batch size.
        """
        horizon = self.horizon
        if not self._ages or self._ages[0][0] >= horizon - slack:
            return 0
        expired = []
        while self._ages and self._ages[0][0] < horizon:
            expired.append(heapq.heappop(self._ages)[1])
        self._lexical.remove_many(expired)
        self._vectors.remove(expired)
        LOG.info("time window: %d articles older than %s left the indexes", len(expired), _iso(horizon))
        return len(expired)

    def _inside(self, entries: Iterable[IndexEntry]) -> list[IndexEntry]:
        """The entries the time window keeps."""
        horizon = self.horizon
        return [e for e in entries if e.ingested_at >= horizon]

    def _pages(self, horizon: float) -> Iterator[list[IndexEntry]]:
        """The store's index entries inside the window, 10,000 at a time."""
        page: list[IndexEntry] = []
        for entry in self.store.index_entries(horizon or None):
            page.append(entry)
            if len(page) == 10_000:
                yield page
                page = []
        yield page

    def _apply(self, added: Sequence[IndexEntry], removed: Sequence[int]) -> None:
        """Changes from the store (start-up, other replicas): added entries outside the window stay out."""
        if not self._lexical.persistent:
            self._lexical.remove_many(removed)
        self._vectors.remove(removed)
        added = self._inside(added)
        if added:
            self._add_to_indexes(*self._columns(added))
        self.evict()

    def _columns(self, entries: Iterable[IndexEntry]) -> tuple[np.ndarray, ...]:
        """Keys, shingle counts, signatures, vectors and times of index entries, as arrays (shaped when empty)."""
        entries = list(entries)
        num_perm, dim = self.settings.lexical.num_perm, self.embedder.dim
        return (
            np.asarray([e.key for e in entries], dtype=np.int64),
            np.asarray([e.signature.shingles for e in entries], dtype=np.int64),
            np.vstack([e.signature.hashvalues for e in entries]) if entries else np.zeros((0, num_perm), np.uint64),
            np.vstack([e.vector for e in entries]) if entries else np.zeros((0, dim), np.float32),
            np.asarray([e.ingested_at for e in entries], dtype=np.float64),
        )

    def snapshot(self) -> int | None:
        """Write an index snapshot as of the store's newest change; returns its seq (None: nothing new).

        Reads a consistent view of the store, so ingests go on while it runs.
        """
        with self._snapshot_lock:
            started = time.monotonic()
            horizon = self.horizon
            with self.store.index_state(horizon or None) as (seq, entries):
                if seq == self._snapshot_seq:
                    return None
                keys, shingles, signatures, vectors, times = self._columns(entries)
            with self._lock:
                lists = self._vectors.lists(keys)
                centroids = self._vectors.centroids
            snap = Snapshot(
                seq,
                self._index_parameters(),
                keys,
                shingles,
                signatures,
                vectors,
                lists,
                times,
                np.zeros((0, self.embedder.dim), np.float32) if centroids is None else centroids,
                horizon,
            )
            size = write_snapshot(self.snapshot_path, snap)
            self._snapshot_seq = seq
        LOG.info(
            "index snapshot at change %d: %d articles, %.1f MB in %.2fs",
            seq,
            len(snap),
            size / 1e6,
            time.monotonic() - started,
        )
        return seq

    def maybe_snapshot(self) -> int | None:
        """A snapshot when SAMESTORY_SNAPSHOT_CHANGES changes have come since the last one."""
        behind = self.store.last_change() - (self._snapshot_seq or 0)
        if behind >= self.settings.snapshot_changes or (self._snapshot_seq is None and behind > 0):
            return self.snapshot()
        return None

    def _snapshot_loop(self) -> None:
        while not self._closing.wait(self.settings.snapshot_seconds):
            try:
                with self._lock:  # the window moves with the clock, also when nothing is ingested
                    self.evict(slack=self._window / 100)
                self.maybe_snapshot()
            except Exception:  # the next round tries again; start-up can always rebuild
                LOG.exception("index snapshot failed")

    # ---------------------------------------------------------- validation

    def _validate(self, article: ArticleIn, need_id: bool) -> None:
        limit = self.settings.max_id_chars
        if need_id and not article.article_id.strip():
            raise InvalidArticle("article.id is required to ingest: give each article a stable id")
        if len(article.article_id) > limit:
            raise InvalidArticle(f"article.id is {len(article.article_id)} characters; the limit is {limit}")
        if _CONTROL.search(article.article_id):
            raise InvalidArticle("article.id contains control characters")
        if not article.text.strip():
            raise InvalidArticle("article.text is empty")
        max_chars = self.settings.max_article_chars
        if len(article.text) > max_chars:
            raise LimitExceeded(
                f"article.text is {len(article.text)} characters; the limit is {max_chars} "
                "(SAMESTORY_MAX_ARTICLE_CHARS)"
            )
        for name in ("title", "source", "url"):
            value = getattr(article, name)
            if len(value) > _MAX_FIELD_CHARS:
                raise InvalidArticle(f"article.{name} is {len(value)} characters; the limit is {_MAX_FIELD_CHARS}")

    def _prepare(self, article: ArticleIn, need_id: bool, watch: Stopwatch = _UNWATCHED) -> _Prepared:
        self._validate(article, need_id)
        clean = text_mod.clean(article.text)
        words = text_mod.tokens(clean.body)
        if not words:
            raise InvalidArticle("article.text has no words once page boilerplate is removed")
        published = article.published
        if published is None and (page_date := clean.date or text_mod.title_date(article.title)) is not None:
            published = dt.datetime.combine(page_date, dt.time(), tzinfo=dt.UTC)
        found = quotes_mod.extract(article.text, clean.paragraphs)
        units = [quotes_mod.quote_units(article.text, q) for q in found]
        doc = text_mod.document_text(article.title, clean)
        watch.lap("text")
        # The quote units' vectors are made when an alignment needs them: most units never meet a possible
        # paraphrase (over 300 ECB+ articles the model embedded 25 of 517, `bench/ingest_cpu.py`).
        texts = [doc, text_mod.lead_text(article.title, clean)]
        vectors = self.embedder.encode(texts, prefixes=[(1, 0)])  # the lead begins the document
        watch.lap("embed")
        signature = self._hasher.signature(words)
        watch.lap("minhash")
        records = [
            QuoteRecord(q, quotes_mod.unit_vectors(u, self.embedder.dim)) for q, u in zip(found, units, strict=True)
        ]
        return _Prepared(
            article=article,
            published=published,
            clean=clean,
            signature=signature,
            exact_key=text_mod.exact_key(article.text, article.title),
            entity_counts=text_mod.article_entities(article.title, clean.paragraphs),
            vector=vectors[0],
            lead_vector=vectors[1],
            quotes=tuple(records),
            units=tuple(tuple(u) for u in units),
        )

    # ------------------------------------------------------------ deciding

    def _candidates(
        self, prep: _Prepared, watch: Stopwatch = _UNWATCHED
    ) -> tuple[list[Candidate], dict[str, ClusterEvidence]]:
        th = self.settings.thresholds
        watch.lap("wait")  # for the writer lock
        semantic = dict(self._vectors.search(prep.vector, self.settings.semantic_candidates))
        watch.lap("faiss")
        # Only what this replica indexes: a shared LSH also holds what its window or its lag leave out.
        limit = self.settings.lexical_candidates
        lexical = [k for k in self._lexical.query(prep.signature, limit) if k in self._vectors]
        keys = set(lexical[:limit])
        watch.lap("lsh")
        keys |= {k for k, s in semantic.items() if s >= th.semantic_floor}
        exact = self.store.by_exact_key(prep.exact_key)
        records = self.store.by_keys(sorted(keys - {r.key for r in exact}))
        records.update({r.key: r for r in exact})
        out = []
        for key, rec in records.items():
            cosine = semantic.get(key)
            if cosine is None:
                cosine = float(np.dot(self._vectors.vector(key), prep.vector)) if key in self._vectors else 0.0
            out.append(
                Candidate(
                    key=key,
                    article_id=rec.article_id,
                    cluster_id=rec.cluster_id,
                    cluster_rank=rec.cluster_rank,
                    exact_key=rec.exact_key,
                    signature=rec.signature,
                    entities=rec.entities,
                    published=rec.published,
                    semantic=cosine,
                )
            )
        return out, self._cluster_evidence(prep, {c.cluster_id: c.cluster_rank for c in out})

    def _cluster_evidence(self, prep: _Prepared, ranks: dict[str, int]) -> dict[str, ClusterEvidence]:
        profiles = self.store.profiles(sorted(ranks))
        terms = set(prep.entity_counts).union(*(p.entities for p in profiles.values()))
        documents, frequencies = self.store.entity_frequencies(terms)
        return cluster_evidence(
            prep.entity_counts, prep.lead_vector, prep.published, profiles, ranks, documents, frequencies
        )

    def _align(
        self, prep: _Prepared, cluster_id: str, by_member: dict[int, quotes_mod.PairAlignments] | None = None
    ) -> tuple[quotes_mod.Alignment, ...]:
        """The article's quotes aligned with those of the cluster's newest members; `by_member` also gets
        what each member's pair gave, by the member's store key, as `align_articles` found it."""
        if not prep.quotes:
            return ()
        members = self.store.member_texts(cluster_id, self.settings.align_articles)
        members = [m for m in members if m.article_id != prep.article.article_id]
        stored_quotes = self.store.quotes([m.key for m in members])
        mine = [(record.quote, units, record.vectors) for record, units in zip(prep.quotes, prep.units, strict=True)]
        found = []
        for member in members:
            theirs = [
                (other.quote, quotes_mod.quote_units(member.text, other.quote), other.vectors)
                for other in stored_quotes.get(member.key, [])
            ]
            pair = tuple(
                quotes_mod.align_articles(prep.article.text, mine, member.text, theirs, embed=self.unit_vectors)
            )
            if by_member is not None and theirs:
                by_member[member.key] = pair
            found.extend(result.to(member.article_id) for _, _, result in pair)
        return tuple(found)

    def _decision(
        self,
        prep: _Prepared,
        outcome: Outcome,
        cluster_id: str,
        stored: bool,
        by_member: dict[int, quotes_mod.PairAlignments] | None = None,
    ) -> Decision:
        matches = tuple(
            Match(
                article_id=s.candidate.article_id,
                cluster_id=cluster_id if s.candidate.cluster_id in outcome.merged else s.candidate.cluster_id,
                lexical=round(s.lexical, 6),
                semantic=round(s.semantic, 6),
                combined=round(s.combined, 6),
                relation=s.relation,
                containment=round(s.containment, 6),
                entity_overlap=round(s.entity_overlap, 6),
                days_apart=None if s.days_apart is None else round(s.days_apart, 4),
                cluster_entity=s.cluster.entity_similarity if s.cluster else 0.0,
                cluster_lead=s.cluster.lead_similarity if s.cluster else 0.0,
                cluster_year_conflict=bool(s.cluster and s.cluster.year_conflict),
                cluster_year_mismatch=bool(s.cluster and s.cluster.year_mismatch),
                cluster_days_spanned=(
                    None if s.cluster is None or s.cluster.days_spanned is None else round(s.cluster.days_spanned, 4)
                ),
            )
            for s in outcome.matches[:10]
        )
        return Decision(
            article_id=prep.article.article_id,
            verdict=outcome.verdict,
            cluster_id=cluster_id,
            new_cluster=outcome.cluster_id is None,
            matches=matches,
            quotes=tuple(q.quote for q in prep.quotes),
            alignments=self._align(prep, cluster_id, by_member) if outcome.cluster_id else (),
            stored=stored,
            reason=outcome.reason,
            published=prep.published,
            merged=outcome.merged,
        )

    def check(self, article: ArticleIn, watch: Stopwatch = _UNWATCHED) -> Decision:
        """Where the article belongs, without storing it; `watch` gathers the time of each stage."""
        prep = self._prepare(article, need_id=False, watch=watch)
        with self._lock:
            candidates, evidence = self._candidates(prep, watch)
            watch.lap("store")  # candidate records, cluster profiles and entity frequencies
            outcome = decide(_probe(prep), candidates, evidence, self.settings.thresholds)
            watch.lap("decide")
            cluster_id = outcome.cluster_id or ""
            decision = self._decision(prep, outcome, cluster_id, stored=False)
            watch.lap("align")
        LOG.info("check %s: %s", article.article_id or "(no id)", outcome.reason)
        return decision

    def ingest(self, article: ArticleIn, deadline: float | None = None) -> Decision:
        """Decide and store; idempotent by article id.

        `deadline` (time.monotonic()) is the caller's: past it nothing is stored and
        DeadlineExceeded is raised, since nobody would hear of the write.
        """
        return self.commit(self.prepare(article), deadline)

    def ingest_in_order(self, articles: Iterable[ArticleIn], ahead: int = 4, workers: int = 2) -> Iterator[Decision]:
        """Ingest the articles one after another, deciding each as `ingest` would, while up to
        `ahead` later ones are prepared (model and text) in `workers` threads: the model runs while
        the previous article is decided. An article that cannot be prepared raises at its turn."""
        window: collections.deque[Future[Pending]] = collections.deque()
        with ThreadPoolExecutor(workers, thread_name_prefix="samestory-prepare") as pool:
            try:
                for article in articles:
                    window.append(pool.submit(self.prepare, article))
                    if len(window) > ahead:
                        yield self.commit(window.popleft().result())
                while window:
                    yield self.commit(window.popleft().result())
            finally:
                for future in window:  # stopped early: what was prepared is dropped, never stored
                    future.cancel()

    def prepare(self, article: ArticleIn) -> Pending:
        """The model's and the text's work for an ingest, outside the writer lock: run many at once.

        Raises for an invalid article, and for an id stored with other content.
        """
        content_hash = article.content_hash()
        replay = self._replay(article, content_hash)
        if replay is not None:
            return Pending(article, content_hash, None, replay)
        return Pending(article, content_hash, self._prepare(article, need_id=True), None)

    def commit(self, pending: Pending, deadline: float | None = None) -> Decision:
        """Decide and store a prepared article under the writer lock; commits happen one at a time.

        The store refuses the write if its change log moved after the change the decision saw
        (another writer, should the shared lock ever fail): the decision is then taken again.
        """
        if pending.replay is not None:
            return pending.replay
        for attempt in range(1, _DECISION_ATTEMPTS + 1):
            try:
                return self._commit_once(pending, deadline)
            except StaleDecision:
                if attempt == _DECISION_ATTEMPTS:
                    raise
                LOG.warning("the archive changed while %r was decided: deciding again", pending.article.article_id)
        raise AssertionError("unreachable")

    def _commit_once(self, pending: Pending, deadline: float | None) -> Decision:
        article, content_hash, prep = pending.article, pending.content_hash, pending.prepared
        with self._lock, self.store.decision_lock():
            self._before_write()
            replay = self._replay(article, content_hash)
            if replay is not None:
                return replay
            outcome = decide(_probe(prep), *self._candidates(prep), self.settings.thresholds)
            cluster_id = outcome.cluster_id or f"c_{uuid.uuid4().hex[:24]}"
            ingested_at = self._clock()
            by_member: dict[int, quotes_mod.PairAlignments] = {}
            decision = self._decision(prep, outcome, cluster_id, stored=True, by_member=by_member)
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded(f"the call's deadline passed before {article.article_id!r} was stored")
            stored = self._written(
                self.store.add,
                NewArticle(
                    article_id=article.article_id,
                    title=article.title,
                    text=article.text,
                    published=prep.published,
                    source=article.source,
                    url=article.url,
                    content_hash=content_hash,
                    exact_key=prep.exact_key,
                    signature=prep.signature,
                    vector=prep.vector,
                    lead_vector=prep.lead_vector,
                    entity_counts=prep.entity_counts,
                    verdict=outcome.verdict.value,
                    cluster_id=cluster_id,
                    new_cluster=outcome.cluster_id is None,
                    merged=outcome.merged,
                    decision=decision.to_json(),
                    quotes=prep.quotes,
                    ingested_at=ingested_at,
                    # Another writer may have come between (a shared store checks); the sole writer's log
                    # is where its last write left it.
                    decided_at_change=self._applied if self.store.shared else None,
                ),
            )
            key, self._applied = stored.key, stored.change  # the store checked that no change came between
            # Cluster reads align pairs of members: they find this article's pairs with the members it was
            # just aligned with already made (its key is newer than theirs).
            for member, pair in by_member.items():
                self._aligned_pairs.keep_from_newer(member, key, pair)
            self._lexical.add(key, prep.signature)
            if self._lexical.persistent:
                self._lexical.set_seq(self._applied)
            self._vectors.add([key], prep.vector[None, :])
            self._track([key], [ingested_at])
            self.evict(slack=self._window / 100)
            self._train_when_due()
        LOG.info("ingest %s -> %s %s: %s", article.article_id, outcome.verdict.name, cluster_id, outcome.reason)
        return decision

    def _written(self, write: Callable[[Any], _R], arg: Any) -> _R:
        """`write(arg)` to the store; if it fails, the next write reads the log first (`_may_lag`)."""
        try:
            return write(arg)
        except BaseException:
            self._may_lag = True
            raise

    def _replay(self, article: ArticleIn, content_hash: str) -> Decision | None:
        if not article.article_id:
            return None
        existing = self.store.by_id(article.article_id)
        if existing is None:
            return None
        if existing.content_hash != content_hash:
            raise AlreadyExists(
                f"article {article.article_id!r} is already stored with other content; "
                "ingest the new version under a new id, or delete the old one first"
            )
        return Decision.from_json(existing.decision)

    # -------------------------------------------------------------- reads

    def get_article(self, article_id: str) -> tuple[ArticleRecord, list[QuoteRecord]]:
        record = self.store.by_id(article_id)
        if record is None:
            raise NotFound(f"no article with id {article_id!r}")
        return record, self.store.quotes([record.key])[record.key]

    def get_cluster(self, cluster_id: str, after: int = 0, count: int = CLUSTER_PAGE) -> ClusterPage:
        """The canonical cluster `cluster_id` resolves to, with up to `count` members whose keys follow `after`."""
        canonical = self.store.resolve_cluster(cluster_id) if cluster_id else None
        page = self.store.cluster_page(canonical, after, count) if canonical else None
        if page is None:
            raise NotFound(f"no cluster with id {cluster_id!r}")
        return page

    def quote_groups(self, cluster_id: str) -> list[list[quotes_mod.Wording]]:
        """A canonical cluster's statements, each with every article's wording (its newest
        SAMESTORY_GROUP_ARTICLES members).

        The alignments of each pair of members are kept between reads: a read after a member
        joined aligns only that member with the others.
        """
        members = self.store.member_texts(cluster_id, self.settings.group_articles)
        stored = self.store.quotes([m.key for m in members])
        quoted = [
            quotes_mod.QuotedBy(
                m.article_id,
                m.text,
                q.quote,
                tuple(quotes_mod.quote_units(m.text, q.quote)),
                q.vectors,
                key=m.key,
            )
            for m in members
            for q in stored.get(m.key, [])
        ]
        return quotes_mod.group(quoted, self._aligned_pairs, embed=self.unit_vectors)

    def clear_alignments(self) -> None:
        """Forget the quote alignments kept for cluster reads (the next read aligns every pair again)."""
        self._aligned_pairs.clear()

    def delete(self, article_id: str) -> ArticleRecord:
        with self._lock, self.store.decision_lock():
            self._before_write()
            record = self._written(self.store.delete, article_id)
            # The applied position stays where it was: reading the store's newest change here could
            # step over another writer's. The next catch-up replays this delete, a no-op by then.
            self._lexical.remove(record.key)
            self._vectors.remove([record.key])
        LOG.info("deleted %s from cluster %s", article_id, record.cluster_id)
        return record

    def stats(self) -> dict[str, int]:
        articles, clusters = self.store.counts()
        with self._lock:
            return {
                "articles": articles,
                "clusters": clusters,
                "lexical_index_size": len(self._lexical),
                "semantic_index_size": len(self._vectors),
                "last_change": self.store.last_change(),
                "snapshot_change": self._snapshot_seq or 0,
            }

    def close(self) -> None:
        """Stop the snapshot thread, write a last snapshot if anything changed, close the store."""
        self._closing.set()
        for thread in (self._snapshots, self._follower):
            if thread is not None:
                thread.join()
        try:
            self.snapshot()
        except Exception:
            LOG.exception("the closing index snapshot failed; the next start rebuilds from the store")
        with self._lock:
            self.store.close()
        close_embedder = getattr(self.embedder, "close", None)
        if close_embedder is not None:
            close_embedder()


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def _probe(prep: _Prepared) -> Probe:
    return Probe(prep.exact_key, prep.signature, prep.entities, prep.published)
