"""The detector's input and output records, and the JSON form a stored decision keeps."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import orjson

from .decide import Verdict
from .quotes import Alignment, AlignmentKind, Quote

__all__ = ["ArticleIn", "Decision", "Match"]


@dataclass(frozen=True)
class ArticleIn:
    """An article as the caller sent it."""

    article_id: str
    text: str
    title: str = ""
    published: dt.datetime | None = None
    source: str = ""
    url: str = ""

    def content_hash(self) -> str:
        """What makes a retry of the same ingest recognisable."""
        stamp = self.published.astimezone(dt.UTC).isoformat() if self.published else ""
        fields = [self.title, self.text, stamp, self.source, self.url]
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Match:
    article_id: str
    cluster_id: str
    lexical: float
    semantic: float
    combined: float
    relation: Verdict
    containment: float
    entity_overlap: float
    days_apart: float | None
    cluster_entity: float = 0.0
    cluster_lead: float = 0.0
    cluster_year_conflict: bool = False
    cluster_year_mismatch: bool = False
    cluster_days_spanned: float | None = None


@dataclass(frozen=True)
class Decision:
    article_id: str
    verdict: Verdict
    cluster_id: str
    new_cluster: bool
    matches: tuple[Match, ...]
    quotes: tuple[Quote, ...]
    alignments: tuple[Alignment, ...]
    stored: bool
    reason: str
    published: dt.datetime | None
    merged: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "article_id": self.article_id,
                "verdict": self.verdict.name,
                "cluster_id": self.cluster_id,
                "new_cluster": self.new_cluster,
                "matches": [{**m.__dict__, "relation": m.relation.name} for m in self.matches],
                # A quote as orjson writes a dataclass, its fields in order: `Quote.to_dict`, in C (a syndicated
                # story's decision aligns every quote with 20 other articles').
                "quotes": self.quotes,
                "alignments": [
                    {
                        "quote": a.quote,
                        "other": a.other,
                        "span": list(a.span),
                        "other_span": list(a.other_span),
                        "similarity": a.similarity,
                        "kind": a.kind.name,
                        "other_article": a.other_article,
                    }
                    for a in self.alignments
                ],
                "stored": self.stored,
                "reason": self.reason,
                "published": self.published.isoformat() if self.published else None,
                "merged": list(self.merged),
            },
        ).decode()

    @classmethod
    def from_json(cls, raw: str) -> Decision:
        data = orjson.loads(raw)
        return cls(
            article_id=data["article_id"],
            verdict=Verdict[data["verdict"]],
            cluster_id=data["cluster_id"],
            new_cluster=data["new_cluster"],
            matches=tuple(Match(**{**m, "relation": Verdict[m["relation"]]}) for m in data["matches"]),
            quotes=tuple(Quote.from_dict(q) for q in data["quotes"]),
            alignments=tuple(
                Alignment(
                    quote=Quote.from_dict(a["quote"]),
                    other=Quote.from_dict(a["other"]),
                    span=(a["span"][0], a["span"][1]),
                    other_span=(a["other_span"][0], a["other_span"][1]),
                    similarity=a["similarity"],
                    kind=AlignmentKind[a["kind"]],
                    other_article=a["other_article"],
                )
                for a in data["alignments"]
            ),
            stored=data["stored"],
            reason=data["reason"],
            published=dt.datetime.fromisoformat(data["published"]) if data["published"] else None,
            merged=tuple(data["merged"]),
        )
