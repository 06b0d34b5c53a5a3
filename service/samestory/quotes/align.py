"""Whether two quotes of different articles state the same thing, and which parts of them."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import Enum

import numpy as np

from ..kept import Kept
from .extract import WORD, Quote, Span, trim

__all__ = [
    "WHOLE_BONUS",
    "Alignment",
    "AlignmentKind",
    "Embed",
    "Quoted",
    "UnitVectors",
    "align",
    "align_articles",
    "can_paraphrase",
    "fill_vectors",
    "quote_units",
    "unit_vectors",
]


class AlignmentKind(Enum):
    VERBATIM = 1
    VARIANT = 2
    PARTIAL = 3
    PARAPHRASE = 4


@dataclass(frozen=True)
class Alignment:
    """`quote` (this article) says what `other` (another article) says."""

    quote: Quote
    other: Quote
    span: Span
    other_span: Span
    similarity: float
    kind: AlignmentKind
    other_article: str = ""

    def mirrored(self) -> Alignment:
        """The same alignment from the other article's side (`other_article` unknown there: empty)."""
        # Made directly here and in `to`: dataclasses.replace takes three times as long, and a syndicated
        # story's decision makes a hundred of each.
        return Alignment(self.other, self.quote, self.other_span, self.span, self.similarity, self.kind)

    def to(self, other_article: str) -> Alignment:
        """The same alignment, `other` being `other_article`'s."""
        return Alignment(self.quote, self.other, self.span, self.other_span, self.similarity, self.kind, other_article)


@dataclass(frozen=True)
class _Words:
    """A quote's words as `_lexical` compares them: normalised (case folded, spelling variants made one),
    as written (case folded), each one's span in the text, and how often each normalised word occurs."""

    norms: tuple[str, ...]
    plains: tuple[str, ...]
    spans: tuple[Span, ...]
    counts: Counter[str]


_VARIANTS = (
    (re.compile(r"isation(s?)$"), r"ization\1"),
    (re.compile(r"is(e|ed|es|ing)$"), r"iz\1"),
    (re.compile(r"ys(e|ed|es|ing)$"), r"yz\1"),
    (re.compile(r"([a-z]{3})our(s|ed|ing)?$"), r"\1or\2"),
    (re.compile(r"([a-z]{2})tre(s?)$"), r"\1ter\2"),
    (re.compile(r"([a-z])ll(ed|ing|er)$"), r"\1l\2"),
    (re.compile(r"ogue(s?)$"), r"og\1"),
    (re.compile(r"fence(s?)$"), r"fense\1"),
)
_STOPWORDS = frozenset(
    """a an the and or but of in on at to for from by with as is are was were be been being it its this that
    these those we our us i you he she they them his her their will would can could should has have had do
    does did not no so if than then there here what which who whom""".split()
)


WHOLE_BONUS = 0.02


@functools.lru_cache(maxsize=1 << 16)
def _variant(word: str) -> str:
    # Cached: the same words come back in every pair of quotes aligned.
    for pattern, repl in _VARIANTS:
        word = pattern.sub(repl, word)
    return word


@functools.lru_cache(maxsize=1024)
def _words(text: str, quote: Quote) -> _Words:
    # Cached, all in one: an article's quotes meet every quote of its cluster's members, and each lookup
    # hashes the quote.
    matches = [match for start, end in quote.parts for match in WORD.finditer(text, start, end)]
    plains = tuple(unicodedata.normalize("NFKC", m.group()).casefold().replace("’", "'") for m in matches)
    norms = tuple(map(_variant, plains))
    return _Words(norms, plains, tuple(m.span() for m in matches), Counter(norms))


def quote_units(text: str, quote: Quote) -> list[tuple[str, Span]]:
    """The quote as a whole, then its sentences and clauses: what gets embedded."""
    return list(_units(text, quote))


@functools.lru_cache(maxsize=1024)
def _units(text: str, quote: Quote) -> tuple[tuple[str, Span], ...]:
    # Cached: a cluster member's quotes are cut into units again for every article aligned with them.
    # The keys hold article texts (up to 200k characters each), so the cache stays small.
    units = [(quote.text, (quote.start, quote.end))]
    pieces: list[Span] = []
    for start, end in quote.parts:
        cut = start
        for match in re.finditer(r"[.!?;:—–]+[\"”’]?\s+|\s+[—–-]\s+", text[start:end]):
            pieces.append((cut, start + match.start()))
            cut = start + match.end()
        pieces.append((cut, end))
    pieces = [(s, e) for s, e in (trim(text, s, e) for s, e in pieces) if len(WORD.findall(text[s:e])) >= 3]
    if len(pieces) > 1:
        units.extend((text[s:e], (s, e)) for s, e in pieces)
    return tuple(units)


def _speakers_conflict(a: Quote, b: Quote) -> bool:
    if not a.speaker or not b.speaker:
        return False
    return not (_who(a.speaker) & _who(b.speaker))


@functools.lru_cache(maxsize=1 << 12)
def _who(speaker: str) -> frozenset[str]:
    """The words that name the speaker: "Trump's potential VP" is the VP, not Trump."""
    # Cached: a cluster's speakers meet every quote of every article aligned with it.
    head = re.split(r"['’]s\s", speaker.casefold())[-1]
    return frozenset(head.split())


def _span_of(words: _Words, first: int, last: int) -> Span:
    return words.spans[first][0], words.spans[last][1]


def _whole(wa: _Words, wb: _Words) -> AlignmentKind:
    """Two quotes aligned whole: word for word (VERBATIM), or with other spellings or punctuation (VARIANT)."""
    return AlignmentKind.VERBATIM if wa.plains == wb.plains else AlignmentKind.VARIANT


def _lexical(text_a: str, a: Quote, text_b: str, b: Quote):
    wa, wb = _words(text_a, a), _words(text_b, b)
    if not wa.norms or not wb.norms:
        return None
    if wa.norms == wb.norms:  # a quote copied (syndication): what difflib would find, without it
        return _whole(wa, wb), (a.start, a.end), (b.start, b.end), 1.0
    # Every match below covers at least 80 % of the shorter quote's words, and difflib matches no more
    # words than the two quotes have in common: most pairs end here, before difflib.
    na, nb = len(wa.norms), len(wb.norms)
    common = sum([min(wa.counts[w], wb.counts[w]) for w in wa.counts.keys() & wb.counts.keys()])
    if 10 * common < 8 * min(na, nb):
        return None
    matcher = SequenceMatcher(None, wa.norms, wb.norms, autojunk=False)
    blocks = [blk for blk in matcher.get_matching_blocks() if blk.size]
    matched = sum(blk.size for blk in blocks)
    cover_a, cover_b = matched / na, matched / nb
    solid = [blk for blk in blocks if blk.size >= 2] or blocks
    if cover_a >= 0.9 and cover_b >= 0.9:
        return _whole(wa, wb), (a.start, a.end), (b.start, b.end), 2 * matched / (na + nb)
    if cover_a >= 0.8 and nb > na:
        first, last = solid[0].b, solid[-1].b + solid[-1].size - 1
        return AlignmentKind.PARTIAL, (a.start, a.end), _span_of(wb, first, last), cover_a
    if cover_b >= 0.8 and na > nb:
        first, last = solid[0].a, solid[-1].a + solid[-1].size - 1
        return AlignmentKind.PARTIAL, _span_of(wa, first, last), (b.start, b.end), cover_b
    return None


@functools.lru_cache(maxsize=1 << 14)
def _content(text: str) -> frozenset[str]:
    # Cached: every quote and unit of a cluster meets every other.
    return frozenset({_variant(w.casefold()) for w in WORD.findall(text)} - _STOPWORDS)


# Vectors for quote units, in order: the model, usually through a `UnitVectors`.
Embed = Callable[[Sequence[str]], np.ndarray]


def align(
    text_a: str,
    a: Quote,
    units_a: Sequence[tuple[str, Span]],
    vectors_a: np.ndarray | None,
    text_b: str,
    b: Quote,
    units_b: Sequence[tuple[str, Span]],
    vectors_b: np.ndarray | None,
    paraphrase_threshold: float = 0.55,
    embed: Embed | None = None,
) -> Alignment | None:
    """Whether quote `a` of one article states what quote `b` of another does.

    Lexical first (verbatim, spelling variants, one quote inside a longer
    one); then, with unit vectors, paraphrase or another translation: a pair
    of units (whole quotes, sentences, clauses) that share content words and
    whose cosine is above the threshold. Small sentence models give
    translations of one statement cosines near 0.65, so the shared words
    carry part of the evidence.

    A unit's vector is made when a pair first needs it: the rows of
    `vectors_a` and `vectors_b` that are zeros and belong to units that share
    enough words with a unit of the other quote are filled by `embed` (in
    place, so they are made once). Most quotes never meet a possible
    paraphrase, and their units are never embedded.
    """
    words_a, words_b = _content(a.text), _content(b.text)
    # No content word in common: no lexical match (it needs 80% of the words) and no paraphrase (it needs
    # three). Most pairs of a cluster's quotes end here, before difflib.
    if words_a and words_b and not words_a & words_b:
        return None
    conflict = _speakers_conflict(a, b)
    lexical = _lexical(text_a, a, text_b, b)
    if lexical is not None:
        kind, span_a, span_b, score = lexical
        if not conflict or kind in (AlignmentKind.VERBATIM, AlignmentKind.VARIANT):
            return Alignment(a, b, span_a, span_b, round(float(score), 4), kind)
        return None
    if conflict or vectors_a is None or vectors_b is None:
        return None
    pairs = [
        (i, j)
        for i, (unit_a, _) in enumerate(units_a)
        for j, (unit_b, _) in enumerate(units_b)
        if _may_paraphrase(unit_a, unit_b)
    ]
    if not pairs:
        return None
    if embed is not None:
        fill_vectors(vectors_a, units_a, {i for i, _ in pairs}, embed)
        fill_vectors(vectors_b, units_b, {j for _, j in pairs}, embed)
    best: tuple[float, float, int, int] | None = None
    for i, j in pairs:
        cosine = float(vectors_a[i] @ vectors_b[j])
        # Whole quotes (unit 0) win over a clause that scores about as well.
        rank = cosine + WHOLE_BONUS * ((i == 0) + (j == 0))
        if cosine >= paraphrase_threshold and (best is None or rank > best[0]):
            best = (rank, cosine, i, j)
    if best is None:
        return None
    _, cosine, i, j = best
    return Alignment(a, b, units_a[i][1], units_b[j][1], round(cosine, 4), AlignmentKind.PARAPHRASE)


def unit_vectors(units: Sequence[tuple[str, Span]], dim: int) -> np.ndarray:
    """A quote's unit vectors before any is made: zeros, one row per unit (`align` fills them)."""
    return np.zeros((len(units), dim), dtype=np.float32)


def fill_vectors(vectors: np.ndarray, units: Sequence[tuple[str, Span]], rows: set[int], embed: Embed) -> None:
    """Make the vectors of `rows` that are still zeros (a made vector has norm 1)."""
    missing = sorted(r for r in rows if not vectors[r].any() and can_paraphrase(units[r][0]))
    if missing:
        vectors[missing] = embed([units[r][0] for r in missing])


class UnitVectors(Kept[str, np.ndarray]):
    """Quote units' vectors by text: made by `encode` when first asked for, kept up to `size` texts (the
    least recently used dropped). A quote that many articles repeat is embedded once. Thread-safe; two
    threads that miss the same text at once both embed it, with the same result."""

    def __init__(self, encode: Embed, size: int) -> None:
        super().__init__(size)
        self._encode = encode
        self.made = 0  # texts embedded, for tests and benches

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        found = self.found(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            made = dict(zip(missing, self._encode(missing), strict=True))
            self.keep(made)
            with self._lock:
                self.made += len(made)
            found.update(made)
        return np.stack([found[t] for t in texts])


# One article's quote as `align_articles` takes it: the quote, its units and their vectors (zeros where
# not made yet, see `align`; None: no paraphrases).
Quoted = tuple[Quote, Sequence[tuple[str, Span]], np.ndarray | None]


def align_articles(
    text_a: str, quotes_a: Sequence[Quoted], text_b: str, quotes_b: Sequence[Quoted], embed: Embed | None = None
) -> list[tuple[int, int, Alignment]]:
    """Every quote of one article against every quote of another: (index in a, index in b, alignment).

    A wording keeps its best counterpart. Where a quote is aligned with two
    quotes of the other article over the same part of itself, a paraphrase
    or an inexact partial match is dropped when the other alignment is
    stronger (lexical against paraphrase, then the higher similarity): the
    other article quoted that statement itself, so the weaker match is the
    same speaker's talking point in another sentence or on another occasion
    ("No, I meant he's the founder of ISIS" to one host, "I meant exactly
    that. He's the founder of ISIS" to another, both quoted by one article).
    """
    found = {}
    for i, (quote_a, units_a, vectors_a) in enumerate(quotes_a):
        for j, (quote_b, units_b, vectors_b) in enumerate(quotes_b):
            result = align(text_a, quote_a, units_a, vectors_a, text_b, quote_b, units_b, vectors_b, embed=embed)
            if result is not None:
                found[i, j] = result
    return [(i, j, result) for (i, j), result in found.items() if not _outdone(i, j, result, found)]


def _strength(result: Alignment) -> tuple[bool, float]:
    return result.kind is not AlignmentKind.PARAPHRASE, result.similarity


def _outdone(i: int, j: int, result: Alignment, found: dict[tuple[int, int], Alignment]) -> bool:
    weak = result.kind is AlignmentKind.PARAPHRASE or (result.kind is AlignmentKind.PARTIAL and result.similarity < 1)
    if not weak:
        return False
    for (i2, j2), rival in found.items():
        if (i2 == i) == (j2 == j) or _strength(rival) <= _strength(result):
            continue  # the same pair, no shared quote, or not stronger
        mine, theirs = (result.span, rival.span) if i2 == i else (result.other_span, rival.other_span)
        if _covered(mine, theirs) >= 0.8:
            return True
    return False


def _covered(span: Span, by: Span) -> float:
    """The share of `span` that `by` covers."""
    return max(0, min(span[1], by[1]) - max(span[0], by[0])) / max(1, span[1] - span[0])


# A paraphrase is judged on units of at least this many content words: "He was the founder" and "He is
# the most valuable player" say too little for a small model to tell one occasion's words from another's.
PARAPHRASE_MIN_WORDS = 4


def can_paraphrase(unit: str) -> bool:
    """Whether a quote unit is long enough to be judged as a paraphrase; a shorter one never gets a vector
    (its row stays zeros: its cosine with anything is 0)."""
    return len(_content(unit)) >= PARAPHRASE_MIN_WORDS


def _may_paraphrase(text_a: str, text_b: str) -> bool:
    """Whether two units share enough words to be one statement reworded; their cosine decides."""
    words_a, words_b = _content(text_a), _content(text_b)
    if min(len(words_a), len(words_b)) < PARAPHRASE_MIN_WORDS:
        return False
    # Translations of one statement keep its names and its key words; the same speaker's talking point
    # on another occasion, or another speaker on the same topic, shares a word or two.
    shared = len(words_a & words_b)
    return shared >= 3 and 2 * shared / (len(words_a) + len(words_b)) >= 0.3
