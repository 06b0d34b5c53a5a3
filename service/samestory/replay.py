"""The same-event decision replayed over labelled streams in memory, to search its settings.

`samestory eval` streams articles through the whole service: the model, SQLite,
FAISS and the LSH, a few minutes for five shuffles of ECB+. Searching the
decision's weights that way allows a handful of tries. Here each article is
prepared once by the real detector (text, MinHash, names and figures, the
model's vectors), and a stream is then replayed with what the store and the
indexes would answer kept in memory: exact top-k by inner product (FAISS's flat
index), the LSH's bands, the exact-text key, the cluster profiles with the
rounding the store gives them, and the names' document counts. The decision
itself is the service's own: `cluster_evidence` and `decide`. A replay gives
the clusters the detector gives (checked in `tests/test_replay.py`), in about a
second for 651 articles.

Only the decision is replayed: not the time window's eviction (the benches'
streams are shorter than any window), deletes, or several replicas.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .config import Settings
from .decide import Candidate, Outcome, Probe, Thresholds, decide, merges_on_evidence
from .detector import Detector
from .evaluate import Labelled, Quality, quality
from .lexical import CompactBuckets, most_shared
from .profile import Profile, cluster_evidence

__all__ = ["GIVEN_OUTCOMES", "Prepared", "decide_given_events", "prepare", "replay", "replay_clusters"]


@dataclass(frozen=True)
class Prepared:
    """One labelled article as the detector prepares it, with its LSH band keys."""

    article_id: str
    label: str
    probe: Probe
    vector: np.ndarray
    lead: np.ndarray
    entity_counts: dict[str, int]
    bands: tuple[bytes, ...]


def prepare(detector: Detector, rows: Iterable[Labelled]) -> list[Prepared]:
    """The detector's preparation of each article (its model, text and MinHash); nothing is stored."""
    bands, rows_per_band = int(detector.parameters["lsh.bands"]), int(detector.parameters["lsh.rows"])
    out = []
    for row in rows:
        pending = detector.prepare(row.article)
        if pending.prepared is None:
            raise ValueError(f"{row.article.article_id!r} is already stored in the detector")
        prep = pending.prepared
        values = prep.signature.hashvalues
        out.append(
            Prepared(
                article_id=row.article.article_id,
                label=row.label,
                probe=Probe(prep.exact_key, prep.signature, frozenset(prep.entity_counts), prep.published),
                vector=np.asarray(prep.vector, dtype=np.float32),
                lead=np.asarray(prep.lead_vector, dtype=np.float32),
                entity_counts=dict(prep.entity_counts),
                bands=tuple(
                    values[b * rows_per_band : (b + 1) * rows_per_band].tobytes()
                    for b in range(bands)
                    if prep.signature.shingles
                ),
            )
        )
    return out


def replay(
    stream: Sequence[Prepared],
    thresholds: Thresholds,
    semantic_candidates: int,
    lexical_candidates: int = Settings.lexical_candidates,
) -> Quality:
    """Decide each article of `stream` in turn as the detector would, and score the clusters it makes."""
    clusters = replay_clusters(stream, thresholds, semantic_candidates, lexical_candidates)
    return quality(clusters, {a.article_id: a.label for a in stream})


def replay_clusters(
    stream: Sequence[Prepared],
    thresholds: Thresholds,
    semantic_candidates: int,
    lexical_candidates: int = Settings.lexical_candidates,
) -> dict[str, str]:
    """Each article's cluster (merged ones followed to where they went) after the stream."""
    return _Replay(thresholds, semantic_candidates, lexical_candidates).run(stream)


class _Replay:
    def __init__(self, thresholds: Thresholds, k: int, lexical: int = Settings.lexical_candidates) -> None:
        self.th, self.k, self.lexical = thresholds, k, lexical
        self.vectors = np.zeros((0, 0), dtype=np.float32)  # by store position, sized by `run`
        self.stored: list[Prepared] = []
        self.cluster_of: list[str] = []  # by store position; merged ids are followed through `alias`
        self.alias: dict[str, str] = {}
        self.buckets: list[CompactBuckets] = []  # one per LSH band (keyed by the band's bytes), sized by `run`
        self.exact: dict[str, set[int]] = {}
        self.profiles: dict[str, Profile] = {}
        self.ranks: dict[str, int] = {}
        self.frequencies: Counter[str] = Counter()

    def run(self, stream: Sequence[Prepared]) -> dict[str, str]:
        self.vectors = np.zeros((len(stream), len(stream[0].vector) if stream else 0), dtype=np.float32)
        self.buckets = [CompactBuckets() for _ in range(max((len(a.bands) for a in stream), default=0))]
        for article in stream:
            self._store(article, self._decide(article))
        return {a.article_id: self._canonical(c) for a, c in zip(self.stored, self.cluster_of, strict=True)}

    def _canonical(self, cluster_id: str) -> str:
        while cluster_id in self.alias:
            cluster_id = self.alias[cluster_id]
        return cluster_id

    def _decide(self, article: Prepared) -> Outcome:
        n = len(self.stored)
        scores = self.vectors[:n] @ article.vector
        top = np.argsort(-scores, kind="stable")[: self.k]
        keys = {int(i) for i in top if scores[i] >= self.th.semantic_floor}
        newest = (band.newest(key, self.lexical) for band, key in zip(self.buckets, article.bands, strict=False))
        keys |= set(most_shared(newest)[: self.lexical])
        keys |= self.exact.get(article.probe.exact_key, set())
        candidates = []
        for key in keys:
            other = self.stored[key]
            cluster_id = self._canonical(self.cluster_of[key])
            candidates.append(
                Candidate(
                    key=key,
                    article_id=other.article_id,
                    cluster_id=cluster_id,
                    cluster_rank=self.ranks[cluster_id],
                    exact_key=other.probe.exact_key,
                    signature=other.probe.signature,
                    entities=other.probe.entities,
                    published=other.probe.published,
                    semantic=float(scores[key]),
                )
            )
        clusters = {c.cluster_id for c in candidates}
        evidence = cluster_evidence(
            article.entity_counts,
            article.lead,
            article.probe.published,
            {c: self.profiles[c] for c in clusters},
            self.ranks,
            n,
            self.frequencies,
        )
        return decide(article.probe, candidates, evidence, self.th)

    def _store(self, article: Prepared, outcome: Outcome) -> None:
        key = len(self.stored)
        cluster_id = outcome.cluster_id
        if cluster_id is None:
            cluster_id = f"c{key}"
            self.ranks[cluster_id] = key
            self.profiles[cluster_id] = Profile()
        profile = self.profiles[cluster_id]
        for old in outcome.merged:
            profile.absorb(self.profiles.pop(old))
            self.alias[old] = cluster_id
        _add_as_stored(profile, article)
        self.vectors[key] = article.vector
        for band, band_key in zip(self.buckets, article.bands, strict=False):
            band.insert(band_key, key)
        self.exact.setdefault(article.probe.exact_key, set()).add(key)
        self.frequencies.update(article.entity_counts.keys())
        self.stored.append(article)
        self.cluster_of.append(cluster_id)


def _add_as_stored(profile: Profile, article: Prepared) -> None:
    """Add a member to a cluster's profile, its sums rounded as the store's next read gives them."""
    profile.add(article.lead, article.entity_counts, article.probe.published)
    profile.entities = profile.saved_entities()


# What `decide_given_events` counts, in the order it prints them.
GIVEN_OUTCOMES = (
    "joins its own event",
    "first of its event, new story",
    "first of its event, joins another",
    "joins another event",
    "new story, its event already there",
    "would merge its event with another",
)


def decide_given_events(stream: Sequence[Prepared], thresholds: Thresholds) -> Counter[str]:
    """Each article's same-event decision when the clusters before it are exactly the gold events.

    Every earlier event is a candidate (as if the indexes found them all), with the profile and the
    names' document counts the store would hold; near-duplicates are not looked for. The article
    joins the most probable cluster at or above `same_event`. What it does is counted under one of
    GIVEN_OUTCOMES; "would merge" also counts an article whose own event and another would be merged
    by the decision's rule (`merge`, and `settled_merge` for two settled stories). A streamed decision
    that goes wrong once has a wrong cluster to compare with next; this one never does, so it
    separates the decision's own errors from their consequences."""
    profiles: dict[str, Profile] = {}
    ranks: dict[str, int] = {}
    frequencies: Counter[str] = Counter()
    counts: Counter[str] = Counter({name: 0 for name in GIVEN_OUTCOMES})
    for n, article in enumerate(stream):
        evidence = cluster_evidence(
            article.entity_counts, article.lead, article.probe.published, profiles, ranks, n, frequencies
        )
        probability = {event: e.probability(thresholds) for event, e in evidence.items()}
        own = probability.get(article.label)
        best = max(probability, key=probability.__getitem__) if probability else None
        joins = best is not None and probability[best] >= thresholds.same_event
        if own is None:
            counts["first of its event, joins another" if joins else "first of its event, new story"] += 1
        elif not joins:
            counts["new story, its event already there"] += 1
        elif best == article.label:
            counts["joins its own event"] += 1
        else:
            counts["joins another event"] += 1
        if joins and own is not None:
            merged = {best} | {
                event
                for event, p in probability.items()
                if event != best and merges_on_evidence(p, (profiles[best].size, profiles[event].size), thresholds)
            }
            if article.label in merged and len(merged) > 1:
                counts["would merge its event with another"] += 1
        if article.label not in profiles:
            profiles[article.label], ranks[article.label] = Profile(), n
        _add_as_stored(profiles[article.label], article)
        frequencies.update(article.entity_counts.keys())
    return counts
