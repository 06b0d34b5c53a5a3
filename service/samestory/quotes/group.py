"""A cluster's statements: each once, with every article's wording of it."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..kept import Kept
from .align import WHOLE_BONUS, Alignment, AlignmentKind, Embed, align_articles, fill_vectors
from .extract import WORD, Quote, Span

__all__ = ["PairAlignments", "PairCache", "QuotedBy", "Wording", "group"]


@dataclass(frozen=True)
class QuotedBy:
    """One article's quote, as `group` takes it in."""

    article_id: str
    text: str
    quote: Quote
    units: tuple[tuple[str, Span], ...]
    vectors: np.ndarray | None  # one row per unit, zeros where not made yet (`align` makes what it needs)
    # The article's store key. Keys are never reused and a stored article never changes, so a
    # PairCache keeps the alignments of two keyed articles under their keys (None: not kept).
    key: int | None = None


# One article aligned with another: (index of its quote, index of the other's quote, alignment).
PairAlignments = tuple[tuple[int, int, Alignment], ...]


class PairCache(Kept[int, PairAlignments]):
    """`align_articles` of pairs of stored articles, kept between calls, the least recently used dropped
    past `size`.

    A cluster's groups align every pair of its members; kept, a repeated read aligns nothing
    and a read after a member joined aligns only that member's pairs. Thread-safe; two
    threads that miss the same pair at once both align it, with the same result.
    """

    @staticmethod
    def key(first: int, second: int) -> int:
        """The pair of store keys as one int, the older article first: 14 MB for 100,000 pairs."""
        return first << 64 | second

    def keep_from_newer(self, older: int, newer: int, aligned: PairAlignments) -> None:
        """Keep `align_articles(newer, older)` (what an ingest aligned) as a read aligns the pair, from the
        older side: align_articles(b, a) mirrors align_articles(a, b) (all 1,347 same-event pairs of
        ECB+ articles with quotes, checked both ways on 2026-11-22)."""
        self.keep({self.key(older, newer): tuple((j, i, result.mirrored()) for i, j, result in aligned)})

    def get(self, key: int, align: Callable[[], PairAlignments]) -> PairAlignments:
        found = self.found([key])
        if key in found:
            return found[key]
        aligned = align()
        self.keep({key: aligned})
        return aligned


@dataclass(frozen=True)
class Wording:
    """How one article worded a statement: its quote, and the part of it that says the statement."""

    article_id: str
    quote: Quote
    span: Span
    kind: AlignmentKind | None
    similarity: float


@functools.lru_cache(maxsize=1 << 14)
def _word_count(text: str) -> int:
    # Cached: a cluster read weighs every paraphrased quote against each of its counterparts.
    return len(WORD.findall(text))


def _paraphrase_parts(a: QuotedBy, b: QuotedBy, result: Alignment, embed: Embed | None) -> tuple[Alignment, bool, bool]:
    """Between a quote of several sentences and a shorter one, a paraphrase belongs to one sentence.

    Two sentences quoted together may paraphrase a one-sentence quote of
    another article about as well as one of them alone does; they are still
    two statements, and only the matching part goes with the shorter quote.
    """
    whole = (result.span == (a.quote.start, a.quote.end), result.other_span == (b.quote.start, b.quote.end))
    if a.vectors is None or b.vectors is None:
        return result, *whole
    long_is_a = _word_count(a.quote.text) > _word_count(b.quote.text)
    long, short = (a, b) if long_is_a else (b, a)
    if len(long.units) < 2:
        return result, *whole
    if embed is not None:
        fill_vectors(long.vectors, long.units, set(range(len(long.units))), embed)
        fill_vectors(short.vectors, short.units, {0}, embed)
    sims = long.vectors @ short.vectors[0]
    best = int(np.argmax(sims[1:])) + 1
    long_whole, short_whole = (whole[0], whole[1]) if long_is_a else (whole[1], whole[0])
    if short_whole and not long_whole:
        return result, *whole  # already a part of the long quote with the short one
    if short_whole and sims[best] < sims[0] - WHOLE_BONUS:
        return result, *whole  # the long quote says it as a whole better than any part of it
    span, short_span = long.units[best][1], (short.quote.start, short.quote.end)
    similarity = round(float(sims[best]), 4)
    if long_is_a:
        return dataclasses.replace(result, span=span, other_span=short_span, similarity=similarity), False, True
    return dataclasses.replace(result, span=short_span, other_span=span, similarity=similarity), True, False


def _aligned(
    quotes: Sequence[QuotedBy], cache: PairCache | None, embed: Embed | None
) -> list[tuple[int, int, Alignment]]:
    """Every aligned pair of quotes of different articles, (i, j, alignment of i with j) with i < j,
    each article against each other one as a whole (`align_articles`, kept in `cache` when given)."""
    by_article: dict[str, list[int]] = {}
    for i, q in enumerate(quotes):
        by_article.setdefault(q.article_id, []).append(i)
    articles = list(by_article.values())
    # Each article as align_articles takes it (its text, its quotes), made once.
    sides = [
        (quotes[idx[0]].text, [(quotes[k].quote, quotes[k].units, quotes[k].vectors) for k in idx]) for idx in articles
    ]
    keys = [quotes[idx[0]].key for idx in articles]

    def pair(x: int, y: int) -> PairAlignments:
        def align() -> PairAlignments:
            return tuple(align_articles(*sides[x], *sides[y], embed=embed))

        if cache is None or keys[x] is None or keys[y] is None:
            return align()
        return cache.get(PairCache.key(keys[x], keys[y]), align)

    out = []
    for x, mine in enumerate(articles):
        for y in range(x + 1, len(articles)):
            theirs = articles[y]
            for i, j, result in pair(x, y):
                i, j = mine[i], theirs[j]
                if i < j:
                    out.append((i, j, result))
                else:
                    out.append((j, i, result.mirrored()))
    out.sort(key=lambda found: found[:2])
    return out


def group(
    quotes: Sequence[QuotedBy], cache: PairCache | None = None, embed: Embed | None = None
) -> list[list[Wording]]:
    """The statements of a cluster, each once, with every article's wording of it.

    Quotes that say the same thing as a whole (verbatim, variant, paraphrase)
    are one statement. A quote that holds another inside a longer quotation
    lends that part of itself to the other's statement and is not merged
    with it, so a quote covering two statements shows up in both. Biggest
    statements (most articles) first. With a `cache`, pairs of articles met
    before (by their store keys) are not aligned again. `embed` makes the
    unit vectors a possible paraphrase needs (see `align`).
    """
    parent = list(range(len(quotes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    lent: dict[int, list[Wording]] = {}
    covered: set[int] = set()
    found: dict[int, tuple[AlignmentKind, float]] = {}
    for i, j, result in _aligned(quotes, cache, embed):
        a, b = quotes[i], quotes[j]
        whole_a = result.span == (a.quote.start, a.quote.end)
        whole_b = result.other_span == (b.quote.start, b.quote.end)
        if result.kind is AlignmentKind.PARAPHRASE:
            result, whole_a, whole_b = _paraphrase_parts(a, b, result, embed)
        if whole_a and whole_b:
            parent[find(i)] = find(j)
            found.setdefault(i, (result.kind, result.similarity))
            found.setdefault(j, (result.kind, result.similarity))
        elif whole_a:  # b holds a: b's matching part joins a's statement
            lent.setdefault(i, []).append(
                Wording(b.article_id, b.quote, result.other_span, result.kind, result.similarity)
            )
            covered.add(j)
            found.setdefault(i, (result.kind, result.similarity))
        elif whole_b:
            lent.setdefault(j, []).append(Wording(a.article_id, a.quote, result.span, result.kind, result.similarity))
            covered.add(i)
            found.setdefault(j, (result.kind, result.similarity))
    members: dict[int, list[int]] = {}
    for i in range(len(quotes)):
        members.setdefault(find(i), []).append(i)
    groups = []
    for indexes in members.values():
        if len(indexes) == 1 and indexes[0] in covered and indexes[0] not in lent:
            continue  # only parts of it say anything, and those parts are listed with their statements
        wordings: list[Wording] = []
        for i in indexes:
            q = quotes[i]
            kind, similarity = found.get(i, (None, 1.0))
            candidates = [Wording(q.article_id, q.quote, (q.quote.start, q.quote.end), kind, similarity)]
            candidates += lent.get(i, [])
            for wording in candidates:
                overlapping = any(
                    w.article_id == wording.article_id and w.span[0] < wording.span[1] and wording.span[0] < w.span[1]
                    for w in wordings
                )
                if not overlapping:
                    wordings.append(wording)
        groups.append(wordings)
    groups.sort(key=lambda g: -len({w.article_id for w in g}))
    return groups
