"""Scoring, verdicts and cluster assignment: pure functions, no I/O.

The detector gathers candidates (lexical ones from the LSH index, semantic
ones from the vector index) and hands them here with everything known about
them; this module says what the new article is to each and where it goes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from .lexical import Signature, containment, jaccard

__all__ = [
    "Candidate",
    "ClusterEvidence",
    "Outcome",
    "Probe",
    "Scored",
    "Thresholds",
    "Verdict",
    "decide",
    "merges_on_evidence",
    "score",
]


class Verdict(Enum):
    """Mirrors samestory.v1.Verdict."""

    EXACT_DUPLICATE = 1
    NEAR_DUPLICATE = 2
    SAME_EVENT = 3
    NEW_STORY = 4


@dataclass(frozen=True)
class Thresholds:
    """The decision's settings; stored with the data next to the model's identity.

    Near-duplicates are decided per article, from MinHash: estimated Jaccard,
    or containment for a copy with paragraphs dropped or added.

    The same event is decided per cluster, from its profile: the logit
    `intercept + entity_weight * entity cosine + lead_weight * lead cosine
    + year_conflict_weight * (both name years, none shared)
    + year_mismatch_weight * (one side's publication year is not the other's latest named year)`,
    plus a freshness bonus and less a time penalty, gives the probability that the
    article belongs to the cluster. Both read how many days the story would span with the
    article in it (from the article to the member farthest from it in time): up to fresh_days
    the bonus tapers from fresh_bonus to 0, and past window_days the penalty grows by
    time_penalty_per_window each window_days, up to max_time_penalty. Undated articles and
    clusters get neither. The weights are a logistic regression on
    the ECB+ dev corpus (`bench/fit_decision.py`, see the README); same_event
    and merge are thresholds on that probability. Two clusters that have each grown to
    settled_size articles apart are two stories until stronger evidence than one
    article's at merge says otherwise: they merge at settled_merge.
    """

    near_duplicate_jaccard: float = 0.5
    near_duplicate_containment: float = 0.8
    near_duplicate_min_jaccard: float = 0.25
    intercept: float = -4.745
    entity_weight: float = 9.172
    lead_weight: float = 2.949
    # Added to the logit when the article and the cluster both name years and share none.
    year_conflict_weight: float = -0.065
    # Added to the logit when one side's publication year is not the latest year the other names.
    year_mismatch_weight: float = -1.72
    same_event: float = 0.4
    merge: float = 0.8
    # Two settled stories (each of at least settled_size articles) merge on same-event evidence only
    # when the article's probability for the one merged in reaches settled_merge (near-duplicates
    # merge clusters of any size).
    settled_size: int = 4
    settled_merge: float = 0.95
    semantic_floor: float = 0.3
    # Time (README, "Other news"): chosen on dated political news, since ECB+ dates too few articles.
    fresh_bonus: float = 3.0
    fresh_days: float = 3.0
    window_days: float = 14.0
    time_penalty_per_window: float = 1.0
    max_time_penalty: float = 4.0

    def as_dict(self) -> dict[str, str]:
        return {f"decide.{name}": str(value) for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class ClusterEvidence:
    """How the probe compares with one candidate cluster as a whole."""

    cluster_id: str
    rank: int
    size: int
    entity_similarity: float
    lead_similarity: float
    # Both name years (1900-2099) and none is shared: "the 2008 final" against "the 2011 final".
    year_conflict: bool = False
    # One side is dated and the latest year the other names is not its year: "2008" against a 2012 article.
    year_mismatch: bool = False
    # From the article to the member farthest from it in time: how many days the story would span.
    days_spanned: float | None = None

    def penalty(self, th: Thresholds) -> float:
        """The time penalty: 0 while the story would span window_days or less, then growing to max_time_penalty."""
        if self.days_spanned is None or self.days_spanned <= th.window_days:
            return 0.0
        windows = (self.days_spanned - th.window_days) / th.window_days
        return min(th.max_time_penalty, th.time_penalty_per_window * windows)

    def freshness(self, th: Thresholds) -> float:
        """The freshness bonus: fresh_bonus when the article and every member share a day, tapering
        to 0 as the story would span fresh_days."""
        if self.days_spanned is None or th.fresh_days <= 0:
            return 0.0
        return th.fresh_bonus * max(0.0, 1.0 - self.days_spanned / th.fresh_days)

    def time_term(self, th: Thresholds) -> float:
        """What time adds to the logit: the freshness bonus less the time penalty."""
        return self.freshness(th) - self.penalty(th)

    def logit(self, th: Thresholds) -> float:
        return (
            th.intercept
            + th.entity_weight * self.entity_similarity
            + th.lead_weight * self.lead_similarity
            + th.year_conflict_weight * self.year_conflict
            + th.year_mismatch_weight * self.year_mismatch
            + self.time_term(th)
        )

    def probability(self, th: Thresholds) -> float:
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, self.logit(th)))))


@dataclass(frozen=True)
class Probe:
    """What the decision knows about the incoming article."""

    exact_key: str
    signature: Signature
    entities: frozenset[str]
    published: dt.datetime | None


@dataclass(frozen=True)
class Candidate:
    """An earlier article: its store key, ids, evidence and cosine to the probe."""

    key: int
    article_id: str
    cluster_id: str
    cluster_rank: int
    exact_key: str
    signature: Signature
    entities: frozenset[str]
    published: dt.datetime | None
    semantic: float


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    lexical: float
    containment: float
    semantic: float
    entity_overlap: float
    days_apart: float | None
    combined: float
    relation: Verdict
    cluster: ClusterEvidence | None = None


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    cluster_id: str | None
    merged: tuple[str, ...]
    matches: tuple[Scored, ...]
    reason: str


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _days(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return abs((a - b).total_seconds()) / 86400.0


def score(probe: Probe, cand: Candidate, cluster: ClusterEvidence | None, th: Thresholds) -> Scored:
    """The evidence for one candidate article, and what the probe is to it."""
    lex = jaccard(probe.signature, cand.signature)
    cont = containment(probe.signature, cand.signature, lex)
    combined = cluster.probability(th) if cluster is not None else 0.0
    if probe.exact_key == cand.exact_key:
        relation = Verdict.EXACT_DUPLICATE
    elif lex >= th.near_duplicate_jaccard or (
        cont >= th.near_duplicate_containment and lex >= th.near_duplicate_min_jaccard
    ):
        relation = Verdict.NEAR_DUPLICATE
    elif combined >= th.same_event:
        relation = Verdict.SAME_EVENT
    else:
        relation = Verdict.NEW_STORY
    return Scored(
        cand,
        lex,
        cont,
        cand.semantic,
        _overlap(probe.entities, cand.entities),
        _days(probe.published, cand.published),
        round(combined, 6),
        relation,
        cluster,
    )


def _strength(s: Scored) -> tuple[int, float, float]:
    return (-s.relation.value, s.combined, max(s.lexical, s.semantic))


def merges_on_evidence(probability: float, sizes: tuple[int, int] | None, th: Thresholds) -> bool:
    """Whether an article's same-event `probability` for a cluster merges it into the one the article
    joins, the two clusters' `sizes` given (None: not known)."""
    if probability < th.merge:
        return False
    settled = sizes is not None and min(sizes) >= th.settled_size
    return not settled or probability >= th.settled_merge


def _merges(best: Scored, other: Scored, th: Thresholds) -> bool:
    """Whether same-event evidence for `other`'s cluster merges it with `best`'s."""
    sizes = (best.cluster.size, other.cluster.size) if best.cluster is not None and other.cluster is not None else None
    return merges_on_evidence(other.combined, sizes, th)


def _explained(ev: ClusterEvidence, probability: float) -> str:
    """The cluster-level evidence behind a probability, for the decision's reason."""
    out = (
        f"cluster {ev.cluster_id} ({ev.size} article{'s' if ev.size != 1 else ''}): "
        f"probability {probability:.3f} from entities {ev.entity_similarity:.3f}, lead {ev.lead_similarity:.3f}"
    )
    if ev.days_spanned is not None:
        out += f", {ev.days_spanned:.1f} days spanned with it"
    if ev.year_conflict:
        out += ", no year in common"
    if ev.year_mismatch:
        out += ", its latest year is not the other's publication year"
    return out


def decide(
    probe: Probe, candidates: Sequence[Candidate], clusters: Mapping[str, ClusterEvidence], th: Thresholds
) -> Outcome:
    """The verdict and the cluster for the probe, given the candidates and their clusters' evidence.

    The strongest relation wins (exact before near-duplicate before same
    event; among same-event candidates, the cluster most likely to hold the
    article). When a near-duplicate, or same-event evidence above the merge
    threshold, points into several clusters, they are one story: the oldest
    cluster keeps its id and the others are merged into it. Same-event evidence
    merges two settled clusters (both of settled_size articles or more) only at
    settled_merge.
    """
    scored = sorted((score(probe, c, clusters.get(c.cluster_id), th) for c in candidates), key=_strength, reverse=True)
    related = [s for s in scored if s.relation is not Verdict.NEW_STORY]
    if not related:
        if scored:
            reason = f"new story: best cluster probability {scored[0].combined:.3f} < {th.same_event}"
            if scored[0].cluster is not None:
                reason += f" ({_explained(scored[0].cluster, scored[0].combined)})"
        else:
            reason = "new story: no candidates (no earlier article shares shingles or is semantically close)"
        return Outcome(Verdict.NEW_STORY, None, (), tuple(scored), reason)
    best = related[0]
    strong = {best.candidate.cluster_id: best.candidate.cluster_rank}
    kept_apart: dict[str, Scored] = {}  # merge-strong evidence for a settled story, short of settled_merge
    for s in related:
        if s.relation in (Verdict.EXACT_DUPLICATE, Verdict.NEAR_DUPLICATE) or _merges(best, s, th):
            strong.setdefault(s.candidate.cluster_id, s.candidate.cluster_rank)
        elif s.combined >= th.merge:
            kept_apart.setdefault(s.candidate.cluster_id, s)
    target = min(strong, key=strong.__getitem__)
    merged = tuple(sorted(c for c in strong if c != target))
    c = best.candidate
    reason = (
        f"{best.relation.name.lower()} of {c.article_id}: lexical {best.lexical:.3f}, "
        f"containment {best.containment:.3f}, semantic {best.semantic:.3f}"
    )
    if best.cluster is not None:
        reason += f"; {_explained(best.cluster, best.combined)}"
    if merged:
        reason += f"; merges {', '.join(merged)} into {target}"
    for cluster_id, s in kept_apart.items():
        if cluster_id not in strong and s.cluster is not None:
            reason += (
                f"; keeps {cluster_id} ({s.cluster.size} articles, probability {s.combined:.3f}) apart: "
                f"settled stories merge at {th.settled_merge}"
            )
    return Outcome(best.relation, target, merged, tuple(scored), reason)
