"""Scoring, verdicts and cluster assignment: pure functions, no I/O.

The detector gathers candidates (lexical ones from the LSH index, semantic
ones from the vector index) and hands them here with everything known about
them; this module says what the new article is to each and where it goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .lexical import Signature, containment, jaccard

__all__ = ["Candidate", "Outcome", "Probe", "Scored", "Thresholds", "Verdict", "decide", "score"]


class Verdict(Enum):
    """Mirrors samestory.v1.Verdict."""

    EXACT_DUPLICATE = 1
    NEAR_DUPLICATE = 2
    SAME_EVENT = 3
    NEW_STORY = 4


@dataclass(frozen=True)
class Thresholds:
    """The decision's settings; stored with the data next to the model's identity.

    same_event applies to the combined score: cosine of the embeddings, plus
    entity_weight x (entity overlap - entity_baseline), minus a time penalty
    that grows past window_days.
    """

    near_duplicate_jaccard: float = 0.5
    near_duplicate_containment: float = 0.8
    near_duplicate_min_jaccard: float = 0.25
    same_event: float = 0.62
    merge: float = 0.75
    semantic_floor: float = 0.45
    entity_weight: float = 0.3
    entity_baseline: float = 0.15
    window_days: float = 3.0
    time_penalty_per_window: float = 0.1
    max_time_penalty: float = 0.3

    def as_dict(self) -> dict[str, str]:
        return {f"decide.{name}": str(value) for name, value in self.__dict__.items()}


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


def score(probe: Probe, cand: Candidate, th: Thresholds) -> Scored:
    """The evidence for one candidate, and what the probe is to it."""
    lex = jaccard(probe.signature, cand.signature)
    cont = containment(probe.signature, cand.signature)
    overlap = _overlap(probe.entities, cand.entities)
    days = _days(probe.published, cand.published)
    penalty = 0.0
    if days is not None and days > th.window_days:
        penalty = min(th.max_time_penalty, th.time_penalty_per_window * (days - th.window_days) / th.window_days)
    combined = cand.semantic + th.entity_weight * (overlap - th.entity_baseline) - penalty
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
    return Scored(cand, lex, cont, cand.semantic, overlap, days, round(combined, 6), relation)


def _strength(s: Scored) -> tuple[int, float]:
    return (-s.relation.value, max(s.combined, s.lexical))


def decide(probe: Probe, candidates: Sequence[Candidate], th: Thresholds) -> Outcome:
    """The verdict and the cluster for the probe, given the scored candidates.

    The strongest relation wins (exact before near-duplicate before same
    event). When same-event evidence above the merge threshold points into
    several clusters, they are one story: the oldest cluster keeps its id and
    the others are merged into it.
    """
    scored = sorted((score(probe, c, th) for c in candidates), key=_strength, reverse=True)
    related = [s for s in scored if s.relation is not Verdict.NEW_STORY]
    if not related:
        best = f"best combined {scored[0].combined:.3f}" if scored else "no candidates"
        return Outcome(Verdict.NEW_STORY, None, (), tuple(scored), f"new story: {best} < {th.same_event}")
    best = related[0]
    strong = [
        s
        for s in related
        if s.relation in (Verdict.EXACT_DUPLICATE, Verdict.NEAR_DUPLICATE) or s.combined >= th.merge
    ]
    clusters: dict[str, int] = {best.candidate.cluster_id: best.candidate.cluster_rank}
    for s in strong:
        clusters.setdefault(s.candidate.cluster_id, s.candidate.cluster_rank)
    target = min(clusters, key=clusters.__getitem__)
    merged = tuple(sorted(c for c in clusters if c != target))
    c = best.candidate
    reason = (
        f"{best.relation.name.lower()} of {c.article_id}: lexical {best.lexical:.3f}, "
        f"containment {best.containment:.3f}, semantic {best.semantic:.3f}, "
        f"entities {best.entity_overlap:.3f}, combined {best.combined:.3f}"
    )
    if best.days_apart is not None:
        reason += f", {best.days_apart:.1f} days apart"
    if merged:
        reason += f"; merges {', '.join(merged)} into {target}"
    return Outcome(best.relation, target, merged, tuple(scored), reason)
