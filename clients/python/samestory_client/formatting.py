"""Readable text for decisions and clusters: the command lines print these."""

from __future__ import annotations

import textwrap

from ._proto import samestory_pb2 as pb

__all__ = ["format_cluster", "format_decision", "span_text"]

_COLUMN = 48


def verdict_name(value: int) -> str:
    return pb.Verdict.Name(value)


def span_text(quote: pb.Quote, span: pb.Span) -> str:
    """The words of `span`, read from the quote itself (its parts are joined with one space)."""
    parts = list(quote.parts) or [quote.span]
    pieces = []
    cursor = 0
    for part in parts:
        length = part.end - part.start
        lo, hi = max(span.start, part.start), min(span.end, part.end)
        if lo < hi:
            pieces.append(quote.text[cursor + lo - part.start : cursor + hi - part.start])
        cursor += length + 1
    return " ".join(pieces) or quote.text


def _side_by_side(left_head: str, left: str, right_head: str, right: str, indent: str) -> list[str]:
    lcol = [left_head] + textwrap.wrap(f"“{left}”", _COLUMN)
    rcol = [right_head] + textwrap.wrap(f"“{right}”", _COLUMN)
    rows = max(len(lcol), len(rcol))
    lcol += [""] * (rows - len(lcol))
    rcol += [""] * (rows - len(rcol))
    return [f"{indent}{left:<{_COLUMN}} │ {right}" for left, right in zip(lcol, rcol, strict=True)]


def format_decision(decision: pb.Decision) -> str:
    lines = [
        f"{decision.article_id or '(no id)'}: {verdict_name(decision.verdict)}  "
        f"cluster {decision.cluster_id or '-'}{' (new)' if decision.new_cluster else ''}"
    ]
    if decision.reason:
        lines.append(f"  why: {decision.reason}")
    for match in decision.matches[:3]:
        lines.append(
            f"  match {match.article_id}: {verdict_name(match.relation).lower()}, lexical {match.lexical_score:.3f}, "
            f"semantic {match.semantic_score:.3f}, combined {match.combined_score:.3f}"
        )
    if decision.merged_cluster_ids:
        lines.append(f"  merged clusters: {', '.join(decision.merged_cluster_ids)}")
    lines.append(f"  quotes: {len(decision.quotes)}, aligned: {len(decision.aligned_quotes)}")
    for aligned in decision.aligned_quotes:
        kind = pb.AlignmentKind.Name(aligned.kind).lower()
        speaker = aligned.quote.speaker or "?"
        lines.append(f"  - {kind} {aligned.similarity:.2f}, {speaker}:")
        lines.extend(
            _side_by_side(
                f"this article [{aligned.span.start}:{aligned.span.end}]",
                span_text(aligned.quote, aligned.span),
                f"{aligned.other_article_id} [{aligned.other_span.start}:{aligned.other_span.end}]",
                span_text(aligned.other_quote, aligned.other_span),
                "      ",
            )
        )
    return "\n".join(lines)


def format_cluster(cluster: pb.Cluster) -> str:
    size = max(cluster.size, len(cluster.articles))
    lines = [f"cluster {cluster.cluster_id}: {size} articles"]
    if len(cluster.articles) < size:
        lines.append(f"  listed: the first {len(cluster.articles)} (the rest on further pages: --all)")
    if cluster.aliases:
        lines.append(f"  also known as: {', '.join(cluster.aliases)}")
    for member in cluster.articles:
        date = member.published_at.ToDatetime().date().isoformat() if member.HasField("published_at") else "-"
        title = f"  {member.title}" if member.title else ""
        lines.append(f"  {member.article_id}  {verdict_name(member.verdict)}  {date}{title}")
    shared = [g for g in cluster.quote_groups if len({w.article_id for w in g.wordings}) > 1]
    if cluster.quote_groups:
        lines.append(f"  statements quoted: {len(cluster.quote_groups)}, by more than one article: {len(shared)}")
    for number, group in enumerate(shared, 1):
        speaker = next((w.quote.speaker for w in group.wordings if w.quote.speaker), "?")
        lines.append(f"  [{number}] {speaker}:")
        for w in group.wordings:
            kind = pb.AlignmentKind.Name(w.kind).lower() if w.kind else ""
            wrapped = textwrap.wrap(f"“{span_text(w.quote, w.span)}”", 90)
            lines.append(
                f"      {w.article_id:<24} {wrapped[0]}" + (f"  ({kind})" if kind and len(wrapped) == 1 else "")
            )
            lines.extend(f"      {'':<24} {more}" for more in wrapped[1:])
    return "\n".join(lines)
