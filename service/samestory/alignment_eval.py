"""Quote alignment measured against a hand-labelled set of article pairs.

Each record of the set names two articles, where their texts come from (the
seeds in this repository, or a JSONL corpus of `id` and `text` such as
PolNeAR's or ECB+'s, which stay outside the repository), a SHA-1 prefix of
each text, and every pair of quotes (by their spans) that states the same
thing; `unsure` pairs are left out of the count. Every other pair of the two
articles' quotes is a negative: the set labels each article pair completely,
so a false alignment counts.

The scorer runs what the service runs: extraction, quote units, and `align`
on every quote of one article against every quote of the other, which has
the model embed the units a possible paraphrase needs. A labelled span maps
to the extracted quote that overlaps it most (at least half of the two
together); a labelled pair whose span matches no quote is a miss.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigurationError
from .quotes import Embed, Quote, UnitVectors, align_articles, extract, quote_units, unit_vectors
from .quotes_eval import ratio, span_overlap
from .semantic import Embedder
from .text import clean

__all__ = ["AlignmentScores", "LabelledPair", "read_alignment_set", "score_alignments"]

Span = tuple[int, int]


@dataclass(frozen=True)
class LabelledPair:
    corpus: str
    a: str
    b: str
    text_a: str
    text_b: str
    aligned: tuple[tuple[Span, Span], ...]
    unsure: tuple[tuple[Span, Span], ...]
    why: str


@dataclass
class AlignmentScores:
    article_pairs: int = 0
    quote_pairs: int = 0
    labelled: int = 0
    predicted: int = 0
    right: int = 0
    kinds: Counter = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    # (corpus, "right" | "predicted" | "labelled") -> count: the same figures for each source of texts.
    by_corpus: Counter = field(default_factory=Counter)

    @property
    def precision(self) -> float:
        return ratio(self.right, self.predicted)

    @property
    def recall(self) -> float:
        return ratio(self.right, self.labelled)


def _spans(items) -> tuple[tuple[Span, Span], ...]:
    return tuple((tuple(a), tuple(b)) for a, b in items)


def read_alignment_set(
    path: Path, seeds: Path, corpora: dict[str, Path] | None = None
) -> tuple[list[LabelledPair], Counter]:
    """The labelled pairs whose texts are at hand, and how many were skipped for want of their corpus.

    `corpora` maps a corpus name of the set ("polnear", "ecbplus") to its JSONL file of `id` and `text`.
    """
    texts: dict[str, dict[str, str]] = {"seeds": {p.stem: p.read_text(encoding="utf-8") for p in seeds.glob("*.txt")}}
    for name, corpus_path in (corpora or {}).items():
        with corpus_path.open(encoding="utf-8") as fh:
            texts[name] = {row["id"]: row["text"] for row in map(json.loads, filter(str.strip, fh))}
    pairs, skipped = [], Counter()
    with path.open(encoding="utf-8") as fh:
        for row in map(json.loads, filter(str.strip, fh)):
            corpus = texts.get(row["corpus"])
            if corpus is None:
                skipped[row["corpus"]] += 1
                continue
            text_a, text_b = corpus[row["a"]], corpus[row["b"]]
            for text, digest, name in ((text_a, row["a_sha1"], row["a"]), (text_b, row["b_sha1"], row["b"])):
                if hashlib.sha1(text.encode()).hexdigest()[: len(digest)] != digest:
                    raise ConfigurationError(f"{name}: the text differs from the one the set was labelled on")
            pairs.append(
                LabelledPair(
                    row["corpus"],
                    row["a"],
                    row["b"],
                    text_a,
                    text_b,
                    _spans(row["aligned"]),
                    _spans(row.get("unsure", ())),
                    row.get("why", ""),
                )
            )
    return pairs, skipped


@dataclass(frozen=True)
class _Quoted:
    quote: Quote
    units: list[tuple[str, Span]]
    vectors: np.ndarray


def _quotes(text: str, dim: int) -> list[_Quoted]:
    found = extract(text, clean(text).paragraphs)
    units = [quote_units(text, q) for q in found]
    return [_Quoted(q, u, unit_vectors(u, dim)) for q, u in zip(found, units, strict=True)]  # made as needed


def _which(quotes: Sequence[_Quoted], span: Span) -> int | None:
    overlaps = [span_overlap((q.quote.start, q.quote.end), span) for q in quotes]
    best = max(range(len(quotes)), key=overlaps.__getitem__, default=None)
    return None if best is None or overlaps[best] < 0.5 else best


def score_alignments(pairs: Sequence[LabelledPair], embedder: Embedder) -> AlignmentScores:
    scores = AlignmentScores()
    embed = UnitVectors(embedder.encode, size=100_000)
    for pair in pairs:
        before = scores.right, scores.predicted, scores.labelled
        _score_pair(pair, embed, embedder.dim, scores)
        after = scores.right, scores.predicted, scores.labelled
        for name, old, new in zip(("right", "predicted", "labelled"), before, after, strict=True):
            scores.by_corpus[pair.corpus, name] += new - old
    return scores


def _score_pair(pair: LabelledPair, embed: Embed, dim: int, scores: AlignmentScores) -> None:
    scores.article_pairs += 1
    qa, qb = _quotes(pair.text_a, dim), _quotes(pair.text_b, dim)
    scores.quote_pairs += len(qa) * len(qb)
    gold, unsure = set(), set()
    for labelled, bucket in ((pair.aligned, gold), (pair.unsure, unsure)):
        for span_a, span_b in labelled:
            i, j = _which(qa, span_a), _which(qb, span_b)
            if i is None or j is None:
                if bucket is gold:
                    scores.labelled += 1
                    scores.missed.append(f"{pair.a} {span_a} / {pair.b} {span_b}: no quote extracted there")
                continue
            bucket.add((i, j))
    scores.labelled += len(gold)
    found = {
        (i, j): result
        for i, j, result in align_articles(
            pair.text_a,
            [(a.quote, a.units, a.vectors) for a in qa],
            pair.text_b,
            [(b.quote, b.units, b.vectors) for b in qb],
            embed=embed,
        )
    }
    for i, a in enumerate(qa):
        for j, b in enumerate(qb):
            result = found.get((i, j))
            label = f"{pair.a} «{a.quote.text[:60]}» / {pair.b} «{b.quote.text[:60]}»"
            if result is None:
                if (i, j) in gold:
                    scores.missed.append(label)
                continue
            if (i, j) in unsure:
                continue
            scores.predicted += 1
            if (i, j) in gold:
                scores.right += 1
                scores.kinds[result.kind.name.lower()] += 1
            else:
                scores.wrong.append(f"{label} ({result.kind.name.lower()}, {result.similarity:.2f})")


def report(scores: AlignmentScores, dataset: str) -> str:
    lines = [
        f"alignment set {dataset}: {scores.article_pairs} article pairs, {scores.quote_pairs} quote pairs, "
        f"{scores.labelled} labelled as the same statement",
        f"precision {scores.precision:.3f} ({scores.right}/{scores.predicted}), "
        f"recall {scores.recall:.3f} ({scores.right}/{scores.labelled})",
        "right alignments by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(scores.kinds.items())),
    ]
    for corpus in sorted({corpus for corpus, _ in scores.by_corpus}):
        right, predicted, labelled = (scores.by_corpus[corpus, name] for name in ("right", "predicted", "labelled"))
        lines.append(
            f"  {corpus}: precision {ratio(right, predicted):.3f} ({right}/{predicted}), "
            f"recall {ratio(right, labelled):.3f} ({right}/{labelled})"
        )
    for corpus, n in scores.skipped.items():
        lines.append(f"skipped {n} article pairs of {corpus}: its corpus was not given")
    lines.extend(f"  missed: {m}" for m in scores.missed)
    lines.extend(f"  wrong:  {w}" for w in scores.wrong)
    return "\n".join(lines)
