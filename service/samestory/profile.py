"""A story cluster as a whole: the sums that let a new article be compared with all of it.

An article is weighed against the cluster's profile, not only its nearest
member: the centroid of the members' lead embeddings, and the TF-IDF centroid
of the names and figures they mention. Both are kept as running sums, so
adding, removing and merging members is arithmetic and the store can update
them in the same transaction as the article.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .decide import ClusterEvidence

__all__ = [
    "PROFILE_TERMS",
    "Profile",
    "cluster_evidence",
    "entity_cosine",
    "idf",
    "lead_cosine",
    "sums_cosine",
    "term_weights",
    "year_conflict",
    "year_mismatch",
    "years",
]


def term_weights(counts: Mapping[str, int]) -> dict[str, float]:
    """Sublinear term frequency: a name said ten times is not ten times the evidence."""
    return {term: 1.0 + math.log(count) for term, count in counts.items() if count > 0}


def idf(documents: int, frequency: int) -> float:
    """Smoothed inverse document frequency, never below 1."""
    return math.log((documents + 1) / (frequency + 1)) + 1.0


# A cluster keeps the sums of its PROFILE_TERMS heaviest names and figures. A story that runs for weeks
# gathers thousands, nearly all of them named once or twice, and every decision against it weighs each one
# (its document count read, its idf worked out) while every article that joins it rewrites them all: at
# 5,000 names that was 4 ms an article and a 72 KB row, at 50,000 70 ms and 770 KB. The names cut carry
# next to nothing of the centroid's weight in a story that large. ECB+'s largest profile holds 350, so
# its decisions are the same. Pruned in steps (past a quarter more), so a profile is sorted only once
# every few hundred new names.
PROFILE_TERMS = 1000
_PRUNE_PAST = PROFILE_TERMS * 5 // 4


@dataclass
class Profile:
    """Running sums over a cluster's members (of its `PROFILE_TERMS` heaviest names and figures)."""

    size: int = 0
    lead_sum: np.ndarray | None = None
    entities: dict[str, float] = field(default_factory=dict)
    first_published: dt.datetime | None = None
    last_published: dt.datetime | None = None

    def add(self, lead: np.ndarray, entity_counts: Mapping[str, int], published: dt.datetime | None, sign: int = 1):
        """Add (sign 1) or remove (sign -1) one member's contribution."""
        self.size += sign
        lead = np.asarray(lead, dtype=np.float32)
        self.lead_sum = sign * lead if self.lead_sum is None else self.lead_sum + sign * lead
        for term, weight in term_weights(entity_counts).items():
            value = self.entities.get(term, 0.0) + sign * weight
            if value > 1e-6:
                self.entities[term] = value
            else:
                self.entities.pop(term, None)
        self._prune()
        if sign > 0 and published is not None:
            self._widen(published, published)

    def copy(self) -> Profile:
        """A profile whose sums can change apart from this one's."""
        lead = None if self.lead_sum is None else self.lead_sum.copy()
        return Profile(self.size, lead, dict(self.entities), self.first_published, self.last_published)

    def absorb(self, other: Profile) -> None:
        """Take in a merged cluster's sums."""
        self.size += other.size
        if other.lead_sum is not None:
            self.lead_sum = other.lead_sum.copy() if self.lead_sum is None else self.lead_sum + other.lead_sum
        for term, weight in other.entities.items():
            self.entities[term] = self.entities.get(term, 0.0) + weight
        self._prune()
        if other.first_published is not None:
            self._widen(other.first_published, other.last_published)

    def _prune(self) -> None:
        """Down to the `PROFILE_TERMS` heaviest terms once past `_PRUNE_PAST` (ties by term: the same in
        every replica)."""
        if len(self.entities) > _PRUNE_PAST:
            heaviest = sorted(self.entities.items(), key=lambda item: (-item[1], item[0]))[:PROFILE_TERMS]
            self.entities = dict(heaviest)

    def saved_entities(self) -> dict[str, float]:
        """The entity sums as the store saves them, to 6 decimals: what the next reader of the profile gets."""
        return {term: round(weight, 6) for term, weight in self.entities.items()}

    def _widen(self, first: dt.datetime, last: dt.datetime) -> None:
        self.first_published = first if self.first_published is None else min(self.first_published, first)
        self.last_published = last if self.last_published is None else max(self.last_published, last)

    def days_spanned(self, published: dt.datetime | None) -> float | None:
        """Days from `published` to the member farthest from it in time: the story's span with it in."""
        if published is None or self.first_published is None:
            return None
        farthest = max(abs(published - self.first_published), abs(published - self.last_published))
        return farthest.total_seconds() / 86400.0


def years(terms: Iterable[str]) -> frozenset[str]:
    """The years among a text's names and figures (numbers are kept as written, so "2008")."""
    return frozenset(t for t in terms if len(t) == 4 and t.isdigit() and t[:2] in ("19", "20"))


def year_conflict(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    """Both the article and the cluster name years (`years()` of each), and none of the article's is the cluster's."""
    return bool(mine and theirs and not mine & theirs)


def year_mismatch(
    published: dt.datetime | None, mine: frozenset[str], theirs: frozenset[str], profile: Profile
) -> bool:
    """One side is dated, the other names years, and the latest year it names is not the dated side's.

    Reports of an event name its year last: background goes back ("her 2008 rehab stint"), the
    event's own year is the latest. An article published in 2012 against a cluster whose latest
    named year is 2008, or an article whose latest year is 2008 against a cluster published in
    2012, is most likely about another occasion. Where both directions can be checked, one match
    is enough. `mine` and `theirs` are the years the article and the cluster name (`years()` of each).
    """
    checks = []
    if published is not None and theirs:
        checks.append(max(int(y) for y in theirs) == published.year)
    if profile.first_published is not None and profile.last_published is not None and mine:
        checks.append(profile.first_published.year <= max(int(y) for y in mine) <= profile.last_published.year)
    return bool(checks) and not any(checks)


def lead_cosine(lead: np.ndarray, profile: Profile) -> float:
    if profile.lead_sum is None or profile.size <= 0:
        return 0.0
    norm = float(np.linalg.norm(profile.lead_sum))
    return float(np.dot(lead, profile.lead_sum) / norm) if norm > 0 else 0.0


def entity_cosine(counts: Mapping[str, int], profile: Profile, documents: int, frequencies: Mapping[str, int]) -> float:
    """Cosine of the article's and the cluster's TF-IDF vectors over names and figures."""
    return sums_cosine(term_weights(counts), profile.entities, documents, frequencies)


def sums_cosine(
    a: Mapping[str, float], b: Mapping[str, float], documents: int, frequencies: Mapping[str, int]
) -> float:
    """Cosine of two TF-IDF vectors over names and figures, each given by its term weights: an article's
    `term_weights`, or a cluster's entity sums (`bench/fit_decision.py` weighs two clusters so)."""
    idfs = _Idfs(documents, frequencies)
    return _cosine(idfs.weigh(a), b, idfs)


class _Idfs:
    """Each term's `idf` for one decision, worked out once a document frequency (most names share a
    few small ones) and shared by the article and every candidate cluster. The same numbers as `idf`."""

    def __init__(self, documents: int, frequencies: Mapping[str, int]) -> None:
        by_frequency = {f: idf(documents, f) for f in {0, *frequencies.values()}}
        self.unknown = by_frequency[0]
        self.of = {term: by_frequency[f] for term, f in frequencies.items()}

    def weigh(self, weights: Mapping[str, float]) -> dict[str, float]:
        of, unknown = self.of.get, self.unknown
        return {t: w * of(t, unknown) for t, w in weights.items()}


def _cosine(weighted: Mapping[str, float], sums: Mapping[str, float], idfs: _Idfs) -> float:
    """Cosine of an article's TF-IDF vector (`weighted`) and a cluster's (its entity `sums`, weighed here)."""
    of, unknown = idfs.of.get, idfs.unknown
    centroid = {t: w * of(t, unknown) for t, w in sums.items()}
    norm_a = math.sqrt(sum(v * v for v in weighted.values()))
    norm_b = math.sqrt(sum(v * v for v in centroid.values()))
    if not norm_a or not norm_b:
        return 0.0
    return sum(v * centroid.get(t, 0.0) for t, v in weighted.items()) / norm_a / norm_b


def cluster_evidence(
    entity_counts: Mapping[str, int],
    lead: np.ndarray,
    published: dt.datetime | None,
    profiles: Mapping[str, Profile],
    ranks: Mapping[str, int],
    documents: int,
    frequencies: Mapping[str, int],
) -> dict[str, ClusterEvidence]:
    """How an article (its names and figures, lead vector and publication time) compares with each
    cluster as a whole: `profiles` and `ranks` by cluster id, `documents` stored articles of which
    `frequencies` mention each term."""
    mine = years(entity_counts)
    idfs = _Idfs(documents, frequencies)
    weighted = idfs.weigh(term_weights(entity_counts))
    out = {}
    for cluster_id, profile in profiles.items():
        theirs = years(profile.entities)
        out[cluster_id] = ClusterEvidence(
            cluster_id=cluster_id,
            rank=ranks[cluster_id],
            size=profile.size,
            entity_similarity=round(_cosine(weighted, profile.entities, idfs), 6),
            lead_similarity=round(lead_cosine(lead, profile), 6),
            year_conflict=year_conflict(mine, theirs),
            year_mismatch=year_mismatch(published, mine, theirs, profile),
            days_spanned=profile.days_spanned(published),
        )
    return out
