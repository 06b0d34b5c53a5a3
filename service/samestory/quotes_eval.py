"""Quote extraction measured against annotated attributions (PolNeAR's format).

Gold: the attributions whose content carries quotation marks (`direct`):
the quoted part of their content (from its first quotation mark to its last;
an annotated content often runs on beyond the quotation, "the candidate has
"always run a lean campaign"", and the extractor's job is the quotation) and
their source span. A predicted quote matches a gold one when
their character spans, trimmed of quotation marks, spaces and edge
punctuation, overlap by at least the given share of their union; one-to-one,
best overlap first. The speaker is right when the predicted mention overlaps
the annotated source, or the resolved name shares a word with it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .quotes import Quote, extract
from .text import clean

__all__ = ["GoldQuote", "QuoteScores", "ratio", "read_polnear", "score_quotes", "span_overlap"]

_EDGE = " \t\n\"'“”‘’«»„,.;:!?—–-"
_STOP = frozenset("the a an he she they it we i you his her their mr mrs ms dr of".split())


@dataclass(frozen=True)
class GoldQuote:
    start: int
    end: int
    source: str
    source_spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    gold: tuple[GoldQuote, ...]


@dataclass
class QuoteScores:
    threshold: float
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    exact: int = 0
    speaker_right: int = 0
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def prf(self, hits: int) -> tuple[float, float, float]:
        p, r = ratio(hits, self.predicted), ratio(hits, self.gold)
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    @property
    def speaker_accuracy(self) -> float:
        return self.speaker_right / self.matched if self.matched else 0.0

    def note(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < 5:
            bucket.append(example)


def read_polnear(path: Path) -> list[Document]:
    docs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            gold = []
            text = row["text"]
            for q in row["quotes"]:
                if not q.get("direct"):
                    continue
                spans = q["content_spans"]  # not always in text order
                start, end = _quoted_part(text, min(a for a, _ in spans), max(b for _, b in spans))
                gold.append(
                    GoldQuote(
                        start,
                        end,
                        q.get("source") or "",
                        tuple((int(a), int(b)) for a, b in q.get("source_spans") or ()),
                    )
                )
            docs.append(Document(str(row["id"]), row["text"], tuple(gold)))
    return docs


_MARKS = '"“”«»„'
_CLOSING = "”»"


def _quoted_part(text: str, start: int, end: int) -> tuple[int, int]:
    """From the first quotation mark inside [start, end) to the last; the whole span when there is none."""
    inside = [i for i in range(start, end) if text[i] in _MARKS]
    if not inside:
        return start, end
    first, last = inside[0], inside[-1]
    if first == last:
        # One mark: an opening one starts a quotation that runs to the content's end; a closing one
        # (the annotation left the opening mark out) ends a quotation that ran from the content's start.
        if text[first] in _CLOSING or (text[first] == '"' and first > (start + end) // 2):
            return start, first + 1
        return first, end
    return first, last + 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _EDGE:
        start += 1
    while end > start and text[end - 1] in _EDGE:
        end -= 1
    return start, end


def ratio(part: int, whole: int) -> float:
    """part / whole, and 0 for an empty whole: precision with nothing predicted, recall with nothing labelled."""
    return part / whole if whole else 0.0


def span_overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Characters in common over characters in either."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[\w'’]+", text.casefold()) if w not in _STOP}


def _speaker_right(quote: Quote, gold: GoldQuote) -> bool:
    if quote.speaker_span and any(span_overlap(quote.speaker_span, s) > 0 for s in gold.source_spans):
        return True
    return bool(_words(quote.speaker) & _words(gold.source))


def attributions(quotes: Sequence[Quote]) -> list[Quote]:
    """The quotes as PolNeAR annotates them: one attribution holds the quote that names its speaker and
    every quote that `continues` under it in the next paragraphs; the extractor keeps them apart, one
    statement each, so that a cluster's articles align statement by statement."""
    out: list[Quote] = []
    for quote in quotes:
        if quote.continues and out:
            first = out[-1]
            out[-1] = dataclasses.replace(
                first, text=f"{first.text} {quote.text}", end=quote.end, parts=first.parts + quote.parts
            )
        else:
            out.append(quote)
    return out


def score_quotes(docs: Iterable[Document], threshold: float = 0.8) -> QuoteScores:
    scores = QuoteScores(threshold)
    for doc in docs:
        text = doc.text
        predicted = attributions(extract(text, clean(text).paragraphs))
        scores.gold += len(doc.gold)
        scores.predicted += len(predicted)
        gold_spans = [_trim(text, g.start, g.end) for g in doc.gold]
        pred_spans = [_trim(text, q.start, q.end) for q in predicted]
        pairs = sorted(
            (
                (overlap, gi, pi)
                for gi, gs in enumerate(gold_spans)
                for pi, ps in enumerate(pred_spans)
                if (overlap := span_overlap(gs, ps)) > 0
            ),
            reverse=True,
        )
        used_gold: set[int] = set()
        used_pred: set[int] = set()
        for ov, gi, pi in pairs:
            if gi in used_gold or pi in used_pred:
                continue
            used_gold.add(gi)
            used_pred.add(pi)
            gold, quote = doc.gold[gi], predicted[pi]
            if ov >= threshold:
                scores.matched += 1
                scores.exact += gold_spans[gi] == pred_spans[pi]
                if _speaker_right(quote, gold):
                    scores.speaker_right += 1
                else:
                    scores.note(
                        "wrong speaker",
                        f"{doc.doc_id}: «{quote.text[:60]}» gold {gold.source!r}, "
                        f"found {quote.speaker_mention!r} -> {quote.speaker!r}",
                    )
            else:
                scores.note(
                    "span overlaps under the threshold",
                    f"{doc.doc_id}: gold «{text[gold_spans[gi][0] : gold_spans[gi][1]][:70]}» "
                    f"found «{text[pred_spans[pi][0] : pred_spans[pi][1]][:70]}» ({ov:.2f})",
                )
        for gi in range(len(doc.gold)):
            if gi not in used_gold:
                scores.note("missed", f"{doc.doc_id}: «{text[gold_spans[gi][0] : gold_spans[gi][1]][:90]}»")
        for pi, q in enumerate(predicted):
            if pi not in used_pred:
                scores.note("spurious", f"{doc.doc_id}: «{q.text[:90]}»")
    return scores


def report(scores: Sequence[QuoteScores], documents: int, dataset: str) -> str:
    first = scores[0]
    lines = [f"dataset {dataset}: {documents} articles, {first.gold} gold direct quotes, {first.predicted} found"]
    for s in scores:
        p, r, f = s.prf(s.matched)
        lines.append(
            f"overlap >= {s.threshold:.2f}: precision {p:.3f} recall {r:.3f} F1 {f:.3f}; "
            f"speaker accuracy {s.speaker_accuracy:.3f} ({s.speaker_right}/{s.matched})"
        )
    p, r, f = first.prf(first.exact)
    lines.append(f"exact spans:     precision {p:.3f} recall {r:.3f} F1 {f:.3f}")
    lines.append(f"errors at overlap >= {first.threshold:.2f}, by kind:")
    for kind, count in first.errors.most_common():
        lines.append(f"  {kind}: {count}")
        lines.extend(f"      e.g. {example}" for example in first.examples[kind])
    return "\n".join(lines)
