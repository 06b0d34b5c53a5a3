"""Direct quotes: extraction with speakers, and alignment across articles.

Pure functions over the original text. Offsets are str indices into the text
the caller sent; only the paragraphs that `text.clean` kept are read, so page
boilerplate never yields a quote.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import Enum

import numpy as np

from .text import Paragraph

__all__ = [
    "Alignment",
    "AlignmentKind",
    "Quote",
    "QuotedBy",
    "Wording",
    "align",
    "extract",
    "group",
    "quote_units",
]

Span = tuple[int, int]

_PAIRS = {"“": "”", "«": "»", "„": "“", '"': '"'}
_CLOSERS_FOR = {"“": "”\"", "«": "»", "„": "“”\"", '"': '"”'}
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_CUES = (
    r"said|says|say|saying|told|tells|wrote|writes|written|added|adds|stated|states|declared|explained|"
    r"noted|notes|insisted|argued|argues|claimed|claims|warned|warns|urged|urges|described|asked|asks|"
    r"replied|continued|posted|tweeted|announced|announces|recalled|remarked|acknowledged|admitted|"
    r"stressed|emphasised|emphasized|cautioned|conceded|predicted|vowed|pledged|promised|concluded|"
    r"confirmed|reported|reports|quoted|told\s+\w+|called|calls|calling|questioned|writing|exclaimed|"
    r"shouted|chanted|joked|quipped|noting|insisting|telling|describing|declaring|contended|suggested|"
    r"accused|praised|criticized|criticised|dismissed|labeled|labelled|dubbed|blasted|slammed|touted|"
    r"responded|answered|explains|adding|arguing|warning|tweeting|proclaimed|boasted|lamented|complained|"
    r"observed|predicts|promises|vowing|recalls|thundered|mused|charged|countered|insists|believes|believed"
)
_TITLE_WORDS = frozenset(
    """mr mrs ms dr prof sir president vice prime minister foreign defence defense secretary general major
    lieutenant colonel col lt capt captain spokesman spokeswoman spokesperson chancellor senator sen rep
    representative gov governor judge chief king queen pope lord lady ambassador mayor sheriff officer
    deputy admiral sergeant sgt coach director chairman chairwoman ceo usaf""".split()
)
_NAME = (
    r"(?:(?:Mr|Mrs|Ms|Dr|Prof|Gen|Sen|Rep|Gov|Lt|Col|Capt|Sgt|St)\.?\s+)?"
    r"[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.|[A-Z][\w'’-]+|de|van|von|al|bin|da|del|la|le)){0,5}"
)
_PRONOUN = r"(?:he|she|they|He|She|They|it|It|we|We|I)"
_DESCRIPTION = r"(?:[Tt]he|[Hh]is|[Hh]er|[Tt]heir)(?:\s+[\w'’-]+){1,4}?"
_MENTION = rf"(?:{_NAME}|{_PRONOUN}|{_DESCRIPTION})"
# Adverbs and auxiliaries between a speaker and the verb: "Smith also said", "Clinton is telling".
_ADVERB = r"(?:\s+(?:\w+ly|also|later|then|meanwhile|again|further|is|was|has|had|have|will|would)){0,2}"
# "..., he said." / "..., Smith wrote on Telegram."
_AFTER_SUBJECT_CUE = re.compile(rf"^[\s,.;:!?—–-]*(?P<who>{_MENTION}){_ADVERB}\s+(?P<cue>{_CUES})\b")
# "..." Wyoming GOP chairman Matt Micheli said / "..." Morton Blackwell, the committeeman, told AFP
_APPOSITIVE = r"(?:,\s[^,\"“”]{1,120},)?"
_AFTER_NAMED_CUE = re.compile(
    rf"^[\s,.;:!?—–-]*(?:[\w.'’()-]+\s+){{0,6}}?(?P<who>{_NAME}){_APPOSITIVE}{_ADVERB}\s+(?P<cue>{_CUES})\b"
)
# "..., said Smith." / "..., says the spokesman."
_AFTER_CUE_SUBJECT = re.compile(rf"^[\s,.;:!?—–-]*(?P<cue>{_CUES})\s+(?P<who>{_NAME}|{_DESCRIPTION})")
# "Smith wrote on Telegram: ..." / "Pat Ryder said a ..." / "he described it as ..."
_BEFORE_SUBJECT_CUE = re.compile(
    rf"(?P<who>{_MENTION}){_APPOSITIVE}{_ADVERB}\s+(?P<cue>{_CUES})\b[^.!?\"“”]*$"
)
# "President Obama is rolling out a new message: "It's about me."": the sentence's subject.
_SUBJECT_BEFORE_COLON = re.compile(rf"^\s*(?:[\w'’-]+\s+){{0,3}}?(?P<who>{_NAME})\b[^\"“”]*:\s*$")
# "Bush referred to Rubio as "a bright leader"": a quotation inside a sentence is its subject's words.
_SUBJECT_OF_SENTENCE = re.compile(rf"^\s*(?:[\w'’-]+,?\s+){{0,3}}?(?P<who>{_MENTION}){_APPOSITIVE}\s+[a-z][^\"“”]*\s$")
_ACCORDING_TO = re.compile(rf"\b(?P<cue>according to)\s+(?P<who>{_NAME}|{_DESCRIPTION})")
# Any "NAME said" in running text: who the pronouns and descriptions may refer to.
_NAMED_SPEAKER = re.compile(rf"(?P<who>{_NAME}){_ADVERB}\s+(?P<cue>{_CUES})\b")
_SENTENCE_END = re.compile(r"[.!?][\"”’»)]*\s")


@dataclass(frozen=True)
class Quote:
    """A direct quotation and who said it."""

    text: str
    start: int
    end: int
    parts: tuple[Span, ...]
    speaker: str = ""
    speaker_mention: str = ""
    speaker_span: Span | None = None
    cue: str = ""

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "parts": [list(p) for p in self.parts],
            "speaker": self.speaker,
            "speaker_mention": self.speaker_mention,
            "speaker_span": list(self.speaker_span) if self.speaker_span else None,
            "cue": self.cue,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Quote:
        span = data.get("speaker_span")
        return cls(
            text=data["text"],
            start=data["start"],
            end=data["end"],
            parts=tuple((int(s), int(e)) for s, e in data["parts"]),
            speaker=data.get("speaker", ""),
            speaker_mention=data.get("speaker_mention", ""),
            speaker_span=(int(span[0]), int(span[1])) if span else None,
            cue=data.get("cue", ""),
        )


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


@dataclass(frozen=True)
class _Word:
    norm: str
    plain: str
    start: int
    end: int


@dataclass
class _Raw:
    start: int
    end: int
    open_mark: int
    close_mark: int
    paragraph: int
    parts: list[Span] = field(default_factory=list)
    # Where the first piece's closing mark stands when the attribution splits the quote.
    split_close: int | None = None
    # The paragraph where a quote running over several paragraphs closes.
    last_paragraph: int = -1

    def __post_init__(self) -> None:
        if self.last_paragraph < 0:
            self.last_paragraph = self.paragraph


# ---------------------------------------------------------------- extraction


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and (text[start].isspace() or text[start] in ",;"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;"):
        end -= 1
    return start, end


def _raw_quotes(text: str, paragraphs: Sequence[Paragraph]) -> list[_Raw]:
    """Quotation marks paired within paragraphs; a quote whose paragraph opens with a mark that does
    not close goes on into the next paragraph that opens with a mark (the newspaper convention)."""
    found: list[_Raw] = []
    running: _Raw | None = None
    for number, para in enumerate(paragraphs):
        i = para.start
        continues = running is not None and text[para.start] in _PAIRS
        if not continues:
            running = None
        while i < para.end:
            mark = text[i]
            if mark not in _PAIRS or (mark == '"' and i > para.start and text[i - 1].isalnum()):
                i += 1
                continue
            closers = _CLOSERS_FOR[mark]
            j = i + 1
            while j < para.end and text[j] not in closers:
                j += 1
            closed = j < para.end
            if not closed and i != para.start:
                break  # a stray mark: the rest of the paragraph is still read for nothing else
            start, end = _trim(text, i + 1, j if closed else para.end)
            if running is not None and i == para.start:
                if end > start:
                    running.parts.append((start, end))
                    running.end = end
                running.close_mark, running.last_paragraph = (j if closed else para.end), number
                if closed:
                    running = None
            elif end > start and re.search(r"[^\W\d_]", text[start:end]):
                raw = _Raw(start, end, i, j if closed else para.end, number, [(start, end)])
                found.append(raw)
                if not closed:
                    running = raw
            if not closed:
                break
            i = j + 1
    return found


_FUNCTION_WORDS = frozenset(
    """and but so then yet or nor if when while as after before because since though although in on at of
    for from with by to a an this that these those there here now still also even only just meanwhile""".split()
)


def _clean_name(mention: str) -> str:
    """The name in a mention, without titles; empty when the mention was only a capitalised function word."""
    words = mention.replace("’", "'").split()
    while words and words[0].casefold() in _FUNCTION_WORDS:
        words = words[1:]
    while len(words) > 1 and all(part in _TITLE_WORDS for part in words[0].rstrip(".").casefold().split("-")):
        words = words[1:]
    name = " ".join(words)
    return re.sub(r"'s$", "", name)


def _is_name(name: str, lowercase_words: set[str]) -> bool:
    """A one-word "name" that the article also writes in lower case ("Maybe", "Signs") is a common word."""
    if not name:
        return False
    return " " in name or name.casefold() not in lowercase_words


def _is_reference(mention: str) -> bool:
    """A pronoun or a description that stands for a name said earlier."""
    return bool(re.fullmatch(_PRONOUN, mention)) or bool(re.match(r"(?i)(the|his|her|their)\s", mention))


def _named_speakers(text: str, paragraphs: Sequence[Paragraph]) -> list[tuple[int, str]]:
    """Where each "NAME said" stands, for resolving later pronouns."""
    out = []
    for para in paragraphs:
        for match in _NAMED_SPEAKER.finditer(text, para.start, para.end):
            who = match.group("who")
            if not _is_reference(who):
                out.append((match.start(), _clean_name(who)))
    return out


def _sentence_bounds(text: str, para: Paragraph, start: int, end: int) -> Span:
    left = para.start
    for match in _SENTENCE_END.finditer(text, para.start, start):
        left = match.end()
    right = para.end
    found = _SENTENCE_END.search(text, end, para.end)
    if found:
        right = found.end()
    return left, right


def _attribution(text: str, para: Paragraph, raw: _Raw, prev_end: int, next_start: int, paragraphs_end: int):
    """(mention, span, cue) from the words around the quote, or None."""
    close = raw.close_mark if raw.split_close is None else raw.split_close
    after_end = min(next_start, paragraphs_end)
    after = text[close + 1 : after_end]
    for pattern in (_AFTER_CUE_SUBJECT, _AFTER_SUBJECT_CUE, _AFTER_NAMED_CUE):
        match = pattern.match(after)
        if match:
            base = close + 1
            return match.group("who"), (base + match.start("who"), base + match.end("who")), match.group("cue")
    sent_start, _ = _sentence_bounds(text, para, raw.open_mark, raw.close_mark)
    before_start = max(prev_end, sent_start)
    before = text[before_start : raw.open_mark]
    for pattern in (_BEFORE_SUBJECT_CUE, _ACCORDING_TO):
        matches = list(pattern.finditer(before))
        if matches:
            match = matches[-1]
            return (
                match.group("who"),
                (before_start + match.start("who"), before_start + match.end("who")),
                match.group("cue"),
            )
    sentence_after = text[raw.close_mark + 1 : _sentence_bounds(text, para, raw.open_mark, raw.close_mark)[1]]
    match = _ACCORDING_TO.search(sentence_after)
    if match:
        base = raw.close_mark + 1
        return match.group("who"), (base + match.start("who"), base + match.end("who")), match.group("cue")
    for pattern in (_SUBJECT_BEFORE_COLON, _SUBJECT_OF_SENTENCE):
        match = pattern.match(before)
        if match:
            return match.group("who"), (before_start + match.start("who"), before_start + match.end("who")), ""
    return None


def _merge_split(text: str, raws: list[_Raw], paragraphs: Sequence[Paragraph]) -> list[_Raw]:
    """Join a quote split by its attribution into one quote with several parts.

    `"X," he said, "Y."` and `"X," said Smith, an adviser. "Y."`: the words
    between the pieces are a short attribution, and the second piece has no
    attribution of its own (else it is someone else's answer).
    """
    merged: list[_Raw] = []
    for raw in raws:
        if merged:
            prev = merged[-1]
            between = text[prev.close_mark + 1 : raw.open_mark]
            inside_end = text[prev.parts[-1][1] : prev.close_mark + 1].rstrip("\"”»")
            ends_open = inside_end.endswith(",") or between.lstrip().startswith(",")
            ends_sentence = inside_end.endswith((".", "!", "?")) or between.rstrip().endswith(".")
            own_end = paragraphs[raw.last_paragraph].end
            answered = any(
                p.match(text[raw.close_mark + 1 : own_end]) for p in (_AFTER_CUE_SUBJECT, _AFTER_SUBJECT_CUE)
            )
            # "X" and "Y", "X", not "Y": two pieces of one statement in one sentence.
            adjacent = (
                prev.last_paragraph == raw.paragraph
                and len(_WORD.findall(between)) <= 3
                and not re.search(r"[.!?;:]", between)
                and not (inside_end.endswith((".", "!", "?")) and _WORD.search(between))
            )
            if adjacent or (
                prev.last_paragraph == raw.paragraph
                and (ends_open or ends_sentence)
                and len(_WORD.findall(between)) <= 15
                and re.search(rf"\b({_CUES})\b", between)
                and between.rstrip().endswith((",", ".", ":"))
                and not answered
            ):
                if prev.split_close is None:
                    prev.split_close = prev.close_mark
                prev.parts.extend(raw.parts)
                prev.end = raw.end
                prev.close_mark = raw.close_mark
                prev.last_paragraph = raw.last_paragraph
                continue
        merged.append(raw)
    return merged


def extract(text: str, paragraphs: Sequence[Paragraph]) -> list[Quote]:
    """The direct quotes in the kept paragraphs, in order, with speakers."""
    raws = _merge_split(text, _raw_quotes(text, paragraphs), paragraphs)
    lowercase = {w for p in paragraphs for w in _WORD.findall(p.text) if w.islower()}
    speakers = _named_speakers(text, paragraphs)
    quotes: list[Quote] = []
    last: Quote | None = None
    last_paragraph = -2
    for index, raw in enumerate(raws):
        para = paragraphs[raw.paragraph]
        prev_end = raws[index - 1].close_mark + 1 if index and raws[index - 1].paragraph == raw.paragraph else para.start
        next_start = raws[index + 1].open_mark if index + 1 < len(raws) else paragraphs[raw.last_paragraph].end
        found = _attribution(text, para, raw, prev_end, next_start, paragraphs[raw.last_paragraph].end)
        if found and not _is_reference(found[0]) and not _is_name(_clean_name(found[0]), lowercase):
            found = None  # "And said...", "Maybe ..." is no speaker
        speaker = mention = cue = ""
        span: Span | None = None
        if found:
            mention, span, cue = found
            if _is_reference(mention):
                earlier = [name for pos, name in speakers if pos < raw.open_mark]
                if last is not None and last.speaker and raw.paragraph - last_paragraph <= 1:
                    speaker = last.speaker
                elif earlier:
                    speaker = earlier[-1]
            else:
                speaker = _clean_name(mention)
        elif last is not None and raw.paragraph == last_paragraph:
            # "... described it as "X" and urged "Y"": the same speaker goes on.
            speaker, cue = last.speaker, last.cue
        elif last is not None and raw.paragraph - last_paragraph == 1:
            # A paragraph that is all quote goes on with the previous speaker.
            whole = text[para.start : para.end].strip("\"“”«» .,")
            if len(text[raw.start : raw.end]) >= 0.8 * len(whole):
                speaker, cue = last.speaker, last.cue
        words = len(_WORD.findall(" ".join(text[s:e] for s, e in raw.parts)))
        if not found and not speaker and words < 3:
            continue  # a title or a scare-quoted word, not a statement
        quote = Quote(
            text=" ".join(text[s:e] for s, e in raw.parts),
            start=raw.start,
            end=raw.end,
            parts=tuple(raw.parts),
            speaker=speaker,
            speaker_mention=mention,
            speaker_span=span,
            cue=cue,
        )
        quotes.append(quote)
        last, last_paragraph = quote, raw.last_paragraph
    return quotes


# ----------------------------------------------------------------- alignment

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


_WHOLE_BONUS = 0.02


def _variant(word: str) -> str:
    for pattern, repl in _VARIANTS:
        word = pattern.sub(repl, word)
    return word


def _words(text: str, quote: Quote) -> list[_Word]:
    out = []
    for start, end in quote.parts:
        for match in _WORD.finditer(text, start, end):
            plain = unicodedata.normalize("NFKC", match.group()).casefold().replace("’", "'")
            out.append(_Word(_variant(plain), plain, match.start(), match.end()))
    return out


def quote_units(text: str, quote: Quote) -> list[tuple[str, Span]]:
    """The quote as a whole, then its sentences and clauses: what gets embedded."""
    units = [(quote.text, (quote.start, quote.end))]
    pieces: list[Span] = []
    for start, end in quote.parts:
        cut = start
        for match in re.finditer(r"[.!?;:—–]+[\"”’]?\s+|\s+[—–-]\s+", text[start:end]):
            pieces.append((cut, start + match.start()))
            cut = start + match.end()
        pieces.append((cut, end))
    pieces = [(s, e) for s, e in (_trim(text, s, e) for s, e in pieces) if len(_WORD.findall(text[s:e])) >= 3]
    if len(pieces) > 1:
        units.extend((text[s:e], (s, e)) for s, e in pieces)
    return units


def _speakers_conflict(a: Quote, b: Quote) -> bool:
    if not a.speaker or not b.speaker:
        return False
    return not (set(a.speaker.casefold().split()) & set(b.speaker.casefold().split()))


def _span_of(words: Sequence[_Word], first: int, last: int) -> Span:
    return words[first].start, words[last].end


def _lexical(text_a: str, a: Quote, text_b: str, b: Quote):
    wa, wb = _words(text_a, a), _words(text_b, b)
    if not wa or not wb:
        return None
    matcher = SequenceMatcher(None, [w.norm for w in wa], [w.norm for w in wb], autojunk=False)
    blocks = [blk for blk in matcher.get_matching_blocks() if blk.size]
    matched = sum(blk.size for blk in blocks)
    cover_a, cover_b = matched / len(wa), matched / len(wb)
    solid = [blk for blk in blocks if blk.size >= 2] or blocks
    if cover_a >= 0.9 and cover_b >= 0.9:
        same = [w.plain for w in wa] == [w.plain for w in wb]
        kind = AlignmentKind.VERBATIM if same else AlignmentKind.VARIANT
        return kind, (a.start, a.end), (b.start, b.end), 2 * matched / (len(wa) + len(wb))
    if cover_a >= 0.8 and len(wb) > len(wa):
        first, last = solid[0].b, solid[-1].b + solid[-1].size - 1
        return AlignmentKind.PARTIAL, (a.start, a.end), _span_of(wb, first, last), cover_a
    if cover_b >= 0.8 and len(wa) > len(wb):
        first, last = solid[0].a, solid[-1].a + solid[-1].size - 1
        return AlignmentKind.PARTIAL, _span_of(wa, first, last), (b.start, b.end), cover_b
    return None


def _content(text: str) -> set[str]:
    return {_variant(w.casefold()) for w in _WORD.findall(text)} - _STOPWORDS


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
) -> Alignment | None:
    """Whether quote `a` of one article states what quote `b` of another does.

    Lexical first (verbatim, spelling variants, one quote inside a longer
    one); then, with unit embeddings, paraphrase or another translation: a
    pair of units (whole quotes, sentences, clauses) whose cosine is above
    the threshold and that share content words. Small sentence models give
    translations of one statement cosines near 0.65, so the shared words
    carry part of the evidence: the weaker the cosine, the more must be shared.
    """
    conflict = _speakers_conflict(a, b)
    lexical = _lexical(text_a, a, text_b, b)
    if lexical is not None:
        kind, span_a, span_b, score = lexical
        if not conflict or kind in (AlignmentKind.VERBATIM, AlignmentKind.VARIANT):
            return Alignment(a, b, span_a, span_b, round(float(score), 4), kind)
        return None
    if conflict or vectors_a is None or vectors_b is None or not len(vectors_a) or not len(vectors_b):
        return None
    sims = vectors_a @ vectors_b.T
    best: tuple[float, int, int] | None = None
    for i, j in zip(*np.nonzero(sims >= paraphrase_threshold), strict=True):
        cosine = float(sims[i, j])
        # Whole quotes (unit 0) win over a clause that scores about as well.
        rank = cosine + _WHOLE_BONUS * ((i == 0) + (j == 0))
        if _paraphrase(cosine, units_a[i][0], units_b[j][0]) and (best is None or rank > best[0]):
            best = (rank, int(i), int(j))
    if best is None:
        return None
    _, i, j = best
    cosine = float(sims[i, j])
    return Alignment(a, b, units_a[i][1], units_b[j][1], round(cosine, 4), AlignmentKind.PARAPHRASE)


def _paraphrase(cosine: float, text_a: str, text_b: str) -> bool:
    words_a, words_b = _content(text_a), _content(text_b)
    if not words_a or not words_b:
        return False
    shared = len(words_a & words_b)
    dice = 2 * shared / (len(words_a) + len(words_b))
    if cosine >= 0.9:
        return True
    if cosine >= 0.75:
        return shared >= 1
    return shared >= 3 and dice >= 0.3


# ------------------------------------------------------------ quote groups


@dataclass(frozen=True)
class QuotedBy:
    """One article's quote, as `group` takes it in."""

    article_id: str
    text: str
    quote: Quote
    units: tuple[tuple[str, Span], ...]
    vectors: np.ndarray | None


@dataclass(frozen=True)
class Wording:
    """How one article worded a statement: its quote, and the part of it that says the statement."""

    article_id: str
    quote: Quote
    span: Span
    kind: AlignmentKind | None
    similarity: float


def _paraphrase_parts(a: QuotedBy, b: QuotedBy, result: Alignment) -> tuple[Alignment, bool, bool]:
    """Between a quote of several sentences and a shorter one, a paraphrase belongs to one sentence.

    Two sentences quoted together may paraphrase a one-sentence quote of
    another article about as well as one of them alone does; they are still
    two statements, and only the matching part goes with the shorter quote.
    """
    whole = (result.span == (a.quote.start, a.quote.end), result.other_span == (b.quote.start, b.quote.end))
    if a.vectors is None or b.vectors is None:
        return result, *whole
    long_is_a = len(_WORD.findall(a.quote.text)) > len(_WORD.findall(b.quote.text))
    long, short = (a, b) if long_is_a else (b, a)
    if len(long.units) < 2:
        return result, *whole
    sims = long.vectors @ short.vectors[0]
    best = int(np.argmax(sims[1:])) + 1
    long_whole, short_whole = (whole[0], whole[1]) if long_is_a else (whole[1], whole[0])
    if short_whole and not long_whole:
        return result, *whole  # already a part of the long quote with the short one
    if short_whole and sims[best] < sims[0] - _WHOLE_BONUS:
        return result, *whole  # the long quote says it as a whole better than any part of it
    span, short_span = long.units[best][1], (short.quote.start, short.quote.end)
    similarity = round(float(sims[best]), 4)
    if long_is_a:
        return dataclasses.replace(result, span=span, other_span=short_span, similarity=similarity), False, True
    return dataclasses.replace(result, span=short_span, other_span=span, similarity=similarity), True, False


def group(quotes: Sequence[QuotedBy]) -> list[list[Wording]]:
    """The statements of a cluster, each once, with every article's wording of it.

    Quotes that say the same thing as a whole (verbatim, variant, paraphrase)
    are one statement. A quote that holds another inside a longer quotation
    lends that part of itself to the other's statement and is not merged
    with it, so a quote covering two statements shows up in both. Biggest
    statements (most articles) first.
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
    for i, a in enumerate(quotes):
        for j in range(i + 1, len(quotes)):
            b = quotes[j]
            if a.article_id == b.article_id:
                continue
            result = align(a.text, a.quote, a.units, a.vectors, b.text, b.quote, b.units, b.vectors)
            if result is None:
                continue
            whole_a = result.span == (a.quote.start, a.quote.end)
            whole_b = result.other_span == (b.quote.start, b.quote.end)
            if result.kind is AlignmentKind.PARAPHRASE:
                result, whole_a, whole_b = _paraphrase_parts(a, b, result)
            if whole_a and whole_b:
                parent[find(i)] = find(j)
                found.setdefault(i, (result.kind, result.similarity))
                found.setdefault(j, (result.kind, result.similarity))
            elif whole_a:  # b holds a: b's matching part joins a's statement
                lent.setdefault(i, []).append(Wording(b.article_id, b.quote, result.other_span, result.kind, result.similarity))
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
    for root, indexes in members.items():
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
