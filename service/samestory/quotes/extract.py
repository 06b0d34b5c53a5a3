"""Direct quotes and their speakers, read from the original text.

Pure functions: offsets are str indices into the text the caller sent; only
the paragraphs that `text.clean` kept are read, so page boilerplate never
yields a quote.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..text import Paragraph

__all__ = ["WORD", "Quote", "Span", "extract", "trim"]

Span = tuple[int, int]

_PAIRS = {"“": "”", "«": "»", "„": "“", '"': '"'}
_CLOSERS_FOR = {"“": '”"', "«": "»", "„": '“”"', '"': '"”“'}
_OPENERS = re.compile("[" + "".join(_PAIRS) + "]")
_MARKS = re.compile("[" + "".join(set(_PAIRS).union(*_CLOSERS_FOR.values())) + "]")
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_CUES = (
    r"said|says|say|saying|told|tells|wrote|writes|written|added|adds|stated|states|declared|explained|"
    r"noted|notes|insisted|argued|argues|claimed|claims|warned|warns|urged|urges|described|asked|asks|"
    r"replied|continued|posted|tweeted|announced|announces|recalled|remarked|acknowledged|admitted|"
    r"stressed|emphasised|emphasized|cautioned|conceded|predicted|vowed|pledged|promised|concluded|"
    r"confirmed|reported|reports|quoted|told\s+\w+|called|calls|calling|questioned|writing|exclaimed|"
    r"shouted|chanted|joked|quipped|noting|insisting|telling|describing|declaring|contended|suggested|"
    r"accused|praised|criticized|criticised|dismissed|labeled|labelled|dubbed|blasted|slammed|touted|"
    r"responded|answered|explains|adding|arguing|warning|tweeting|proclaimed|boasted|lamented|complained|"
    r"observed|predicts|promises|vowing|recalls|thundered|mused|charged|countered|insists|believes|believed|"
    r"responds|describes|asserted|asserts|surmised|opined|wondered|advised|commented|explaining|"
    r"reads|read|tweets|posts|writing|texted|emailed|testified|alleged|alleges|announcing|recounted|"
    r"acknowledges|admits|concedes|notes|added|asking|replying|stating|saying|encouraged|demanded|denounced|"
    r"condemned|mocked|ridiculed|defended|hailed|citing|cited|referencing|quoting|pledging|promising|claiming|"
    r"asserting|went on|fumed|mocks|conclude|concludes|riffed|declares"
)
_TITLE_WORDS = frozenset(
    """mr mrs ms dr prof sir president vice prime minister foreign defence defense secretary general major
    lieutenant colonel col lt capt captain spokesman spokeswoman spokesperson chancellor senator sen rep
    representative gov governor judge chief king queen pope lord lady ambassador mayor sheriff officer
    deputy admiral sergeant sgt coach director chairman chairwoman ceo usaf""".split()
)
# Lower-case words of a title written before a name: "AMD president and chief executive Rory Read".
_TITLE_BEFORE = "|".join(
    sorted(
        (
            _TITLE_WORDS
            - {"mr", "mrs", "ms", "dr", "prof", "sir", "col", "lt", "capt", "sen", "rep", "gov", "sgt", "usaf"}
        )
        | set(
            """executive interim senior former acting head founder co-founder leader manager official adviser
            advisor aide attorney lawyer analyst professor economist strategist commissioner inspector detective
            campaign press communications operating financial technology general""".split()
        )
    )
)
# A name, with its title and its party and state: "Rep. Elijah E. Cummings (D-Md.)"; never a determiner.
_NAME = (
    r"\b(?!(?:The|His|Her|Their|Its|An?|One|Another|Several|Some|Many|Both)\b)"
    r"(?:(?:Mr|Mrs|Ms|Dr|Prof|Gen|Sen|Rep|Gov|Lt|Col|Capt|Sgt|St|Rev)\.?\s+)?"
    r"[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.|[A-Z][\w'’-]+|de|van|von|al|bin|da|del|la|le)){0,5}"
    r"(?:\s\([A-Z][\w.]*(?:-[\w.]+)?\))?"
)
_PRONOUN = r"\b(?:he|she|they|He|She|They|it|It|we|We|I)\b"
# Definite descriptions ("the spokesman", "his lawyer") stand for someone named before; indefinite ones
# ("a senior adviser", "one source") bring in someone unnamed.
_DEFINITE = r"(?:[Tt]he|[Hh]is|[Hh]er|[Tt]heir|[Ii]ts)"
_INDEFINITE = r"(?:[Aa]n?|[Oo]ne|[Aa]nother|[Ss]everal|[Ss]ome|[Mm]any|[Tt]wo|[Tt]hree|[Bb]oth)"
_CLAUSE = r"(?:who|whom|whose|that|which|when|while|in|on|at|to|for|with|as|and|but|during|after|before|if|because)"
_DESCRIPTION = rf"\b(?:{_DEFINITE}|{_INDEFINITE})(?:\s+(?!{_CLAUSE}\b)[\w'’-]+){{1,4}}?"
# After a cue the description runs on to the first word that starts a clause: "said a senior Cruz adviser who".
_DESCRIPTION_AFTER = rf"\b(?:{_DEFINITE}|{_INDEFINITE})(?:\s+(?!{_CLAUSE}\b)[\w'’-]+){{1,5}}"
# "Trump's potential VP", "Clinton's campaign manager": someone named through someone else.
_NOT_HEAD = r"(?:" + _CLAUSE + r"|then|also|later|now|again|is|was|has|had|will|would)\b"
_POSSESSIVE = rf"{_NAME}['’]s(?:\s+(?!{_NOT_HEAD})(?:[a-z][\w'’-]*|[A-Z]{{2,5}}\b)){{1,3}}"
# "AMD president and chief executive Rory Read": a name with a title between it and the organisation.
_TITLED = rf"{_NAME}\s+(?:(?:{_TITLE_BEFORE})(?:\s+and)?\s+){{1,5}}{_NAME}"
_TITLE_PREFIX = re.compile(rf"^.*\s(?:{_TITLE_BEFORE})\s+(?=[A-Z][^\s]*(?:\s+[A-Z][^\s]*)*$)")
_MENTION = rf"(?:{_POSSESSIVE}|{_TITLED}|{_NAME}|{_PRONOUN}|{_DESCRIPTION})"
# Who follows a cue ("said Trump's campaign manager", "according to a senior adviser who"): no pronoun.
_MENTION_AFTER = rf"(?:{_POSSESSIVE}|{_TITLED}|{_NAME}|{_DESCRIPTION_AFTER})"
# Adverbs and auxiliaries between a speaker and the verb: "Smith also said", "Clinton is telling".
_ADVERB = r"(?:\s+(?:\w+ly|also|later|then|meanwhile|again|further|is|was|has|had|have|will|would)){0,2}"
# "..., he said." / "..., Smith wrote on Telegram."
_AFTER_SUBJECT_CUE = re.compile(rf"^[\s,.;:!?—–-]*(?P<who>{_MENTION}){_ADVERB}\s+(?P<cue>{_CUES})\b")
# "..." Wyoming GOP chairman Matt Micheli said / "..." Morton Blackwell, the committeeman, told AFP
# An appositive describes; one that opens with a name and a verb ("a few days later, Trump reversed himself,") is
# a clause, and what stands before it is no speaker.
_APPOSITIVE = r"(?:,\s(?![A-Z][\w'’-]+\s+[a-z])[^,\"“”]{1,120},)?"
_AFTER_NAMED_CUE = re.compile(
    rf"^[\s,.;:!?—–-]*(?:[\w.'’()-]+\s+){{0,6}}?(?P<who>{_NAME}){_APPOSITIVE}{_ADVERB}\s+(?P<cue>{_CUES})\b"
)
# "..., said Smith." / "..., says the spokesman."
# Verbs that take the speaker after them ("..., said Smith"); "telling Fox", "calling him" take an object.
_TRANSITIVE = frozenset(
    """told tells called calls described accused praised criticized criticised dismissed labeled labelled dubbed
    blasted slammed touted urged urges quoted charged""".split()
)
_INVERTED_CUES = "|".join(
    c for c in _CUES.split("|") if not c.endswith("ing") and c not in _TRANSITIVE and " " not in c and "\\" not in c
)
_AFTER_CUE_SUBJECT = re.compile(rf"^[\s,.;:!?—–-]*(?P<cue>{_INVERTED_CUES})\s+(?P<who>{_MENTION_AFTER})")
# "Smith wrote on Telegram: ..." / "Pat Ryder said a ..." / "he described it as ..."
_BEFORE_SUBJECT_CUE = re.compile(rf"(?P<who>{_MENTION}){_APPOSITIVE}{_ADVERB}\s+(?P<cue>{_CUES})\b[^.!?\"“”]*$")
# "..., Barack Obama, who called": whom "who" stands for.
_NAME_BEFORE_COMMA = re.compile(rf"(?P<who>{_NAME}),\s+$")
# "Deputy Timothy Brennan, who ..., called the verdict bittersweet. He explained, "...": a sentence
# whose subject is a name, for a pronoun when no "NAME said" came before.
_NAMED_SUBJECT = re.compile(rf"(?:^|[.!?]\s+)(?:[\w'’-]+,?\s+){{0,3}}?(?P<who>{_NAME}){_APPOSITIVE}\s+[a-z]")
# Who stands right before a cue: "Smith", "Smith, an adviser,", "Smith also", "who".
_SUBJECT_ENDING = re.compile(rf"(?P<who>{_MENTION}|(?<=, )who){_APPOSITIVE}{_ADVERB}\s+$")
# "Kasich suspended his campaign Wednesday, telling ...": the subject that a participle's clause follows.
_CLAUSE_SUBJECT = re.compile(
    rf"^\s*(?:[\w'’-]+,?\s+){{0,3}}?(?P<who>{_MENTION}){_APPOSITIVE}{_ADVERB}\s+[a-z][^,\"“”]*,"
)
# "President Obama is rolling out a new message: "It's about me."": the sentence's subject.
_SUBJECT_BEFORE_COLON = re.compile(rf"^\s*(?:[\w'’-]+\s+){{0,3}}?(?P<who>{_NAME})\b[^\"“”]*:\s*$")
# "Bush referred to Rubio as "a bright leader"": a quotation inside a sentence is its subject's words.
_SUBJECT_OF_SENTENCE = re.compile(
    rf"^\s*(?:[^,\"“”]{{1,160}},\s+)?(?:[\w'’-]+,?\s+){{0,3}}?(?P<who>{_MENTION}){_APPOSITIVE}\s+[a-z][^\"“”]*\s$"
)
_ACCORDING_TO = re.compile(rf"\b(?P<cue>[Aa]ccording to)\s+(?P<who>{_MENTION_AFTER})")
# "A cashier who "steals" is held accountable, Warren said.": the attribution closes the sentence.
_TAIL_SUBJECT_CUE = re.compile(rf"[,—–]\s*(?P<who>{_MENTION}){_ADVERB}\s+(?P<cue>{_CUES})\b[^\"“”,]*$")
_TAIL_CUE_SUBJECT = re.compile(rf"[,—–]\s*(?P<cue>{_INVERTED_CUES})\s+(?P<who>{_MENTION_AFTER})[^\"“”]*$")
# The sentence before a quote that opens its own: "Sen. Cruz, a candidate, tweeted a warning."
_LEAD_SPEAKER = re.compile(
    rf"^\s*(?:[\w'’-]+,?\s+){{0,3}}?(?P<who>{_MENTION}){_APPOSITIVE}{_ADVERB}\s+(?P<cue>{_CUES})\b[^\"“”]*[.:]\s*$"
)
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
    # This quote goes on under the attribution of the article's quote before it.
    continues: bool = False

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
            "continues": self.continues,
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
            continues=bool(data.get("continues", False)),
        )


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


def trim(text: str, start: int, end: int) -> Span:
    while start < end and (text[start].isspace() or text[start] in ",;"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;"):
        end -= 1
    return start, end


_MARKUP = re.compile(r"<[A-Za-z/][^<>]{0,400}>")


def _closing_mark(text: str, i: int, end: int) -> int:
    """Where the quotation opened at `i` closes (`end` when it does not); a quotation nested in it, opened
    by a mark that follows a space and precedes a word ("shouted "Allah hu Akbar!" as he"), closes first."""
    closers = _CLOSERS_FOR[text[i]]
    depth = 0
    for found in _MARKS.finditer(text, i + 1, end):  # any other character leaves everything as it is
        j = found.start()
        ch = text[j]
        opens = ch in _PAIRS and text[j - 1].isspace() and j + 1 < end and text[j + 1].isalnum()
        # A mark after a word and before a space closes whatever it looks like: "Apparently not,“ he said.
        closes = ch in _PAIRS and not text[j - 1].isspace() and (j + 1 >= end or not text[j + 1].isalnum())
        if opens:
            depth += 1
        elif ch in closers or (closes and ch != "«"):
            if depth == 0:
                return j
            depth -= 1
    return end


def _raw_quotes(text: str, paragraphs: Sequence[Paragraph]) -> list[_Raw]:
    """Quotation marks paired within paragraphs; a quote that does not close in its paragraph goes on
    into the next paragraph when that one opens with a mark (the newspaper convention)."""
    found: list[_Raw] = []
    running: _Raw | None = None
    # Marks inside markup that a page left in the text (`<tweet author="...">`) quote nothing.
    in_tags = {i for m in _MARKUP.finditer(text) for i in range(m.start(), m.end()) if text[i] in _PAIRS}
    for number, para in enumerate(paragraphs):
        i = para.start
        continues = running is not None and text[para.start] in _PAIRS
        if not continues:
            running = None
        while (found_mark := _OPENERS.search(text, i, para.end)) is not None:
            i = found_mark.start()
            mark = text[i]
            if (mark == '"' and i > para.start and text[i - 1].isalnum()) or i in in_tags:
                i += 1
                continue
            j = _closing_mark(text, i, para.end)
            closed = j < para.end
            runs_on = number + 1 < len(paragraphs) and text[paragraphs[number + 1].start] in _PAIRS
            if not closed and i != para.start and not runs_on:
                break  # a stray mark: the rest of the paragraph is still read for nothing else
            start, end = trim(text, i + 1, j if closed else para.end)
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
    for from with by to a an this that these those there here now still also even only just meanwhile once
    following during until over under about according immediately earlier later recently previously instead
    however indeed moreover finally afterward afterwards asked speaking""".split()
)
# Capitalised words that name a time, never a speaker: "On Tuesday, ...", "Following Monday's debate ...".
_TIME_WORDS = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december today yesterday tonight tomorrow""".split()
)


def _clean_name(mention: str) -> str:
    """The name in a mention, without titles; empty when the mention was only a capitalised function word."""
    words = _TITLE_PREFIX.sub("", mention.replace("’", "'")).split()
    while words and words[0].casefold() in _FUNCTION_WORDS:
        words = words[1:]
    while len(words) > 1 and all(part in _TITLE_WORDS for part in words[0].rstrip(".").casefold().split("-")):
        words = words[1:]
    name = re.sub(r"'s$", "", " ".join(words))
    if all(re.sub(r"'s$", "", w).casefold() in _TIME_WORDS for w in name.split()):
        return ""
    return name


def _is_name(name: str, lowercase_words: set[str]) -> bool:
    """A one-word "name" that the article also writes in lower case ("Maybe", "Signs") is a common word."""
    if not name:
        return False
    return " " in name or name.casefold() not in lowercase_words


def _subject_before(text: str, paragraphs: Sequence[Paragraph], index: int, end: int, lowercase: set[str]) -> str:
    """The last name that is a sentence's subject in this paragraph and the one before, before `end`."""
    start = paragraphs[max(0, index - 1)].start
    names = [_clean_name(m.group("who")) for m in _NAMED_SUBJECT.finditer(text[start:end].replace("\n", " "))]
    return next((name for name in reversed(names) if _is_name(name, lowercase)), "")


def _is_reference(mention: str) -> bool:
    """A pronoun or a description that stands for a name said earlier."""
    return mention == "who" or bool(re.fullmatch(_PRONOUN, mention)) or bool(re.match(rf"{_DEFINITE}\s", mention))


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
    """The sentence around text[start:end]: from the last sentence end before it to the first one at or
    after its last character."""
    ends = _paragraph_sentences(text, para.start, para.end)
    before = bisect.bisect_right(ends, start, key=lambda m: m[1])
    left = ends[before - 1][1] if before else para.start
    after = bisect.bisect_left(ends, max(start, end - 1), key=lambda m: m[0])
    right = ends[after][1] if after < len(ends) else para.end
    return left, right


@functools.lru_cache(maxsize=32)
def _paragraph_sentences(text: str, start: int, end: int) -> tuple[Span, ...]:
    # Cached: every quote of a paragraph asks for its sentence, and one paragraph may be a whole article.
    return tuple(m.span() for m in _SENTENCE_END.finditer(text, start, end) if _ends(text, m))


def _mention(match: re.Match, base: int, cue: str | None = None):
    """(mention, span, cue) of a pattern's match in a slice of the text that starts at `base`."""
    span = (base + match.start("who"), base + match.end("who"))
    return match.group("who"), span, match.group("cue") if cue is None else cue


def _speakers_before(before: str, base: int) -> Iterator[tuple[str, Span, str]]:
    """The speakers of the cues in the words before a quote, the last cue first: "When asked, Cruz said".
    A participle ("saying", "adding") has no subject of its own; the subject of the clause it follows
    speaks ("Kasich suspended his campaign, telling supporters that ...")."""
    cues = list(_CUE_WORD.finditer(before))
    if not cues or re.search(r"[.!?\"“”]", before[cues[-1].end() :]):
        return
    for cue in reversed(cues):
        if cue.group().endswith("ing"):
            if before[: cue.start()].rstrip().endswith(","):
                match = _CLAUSE_SUBJECT.match(before, 0, cue.start())
                if match:
                    yield match.group("who"), (base + match.start("who"), base + match.end("who")), cue.group()
            continue
        match = _SUBJECT_ENDING.search(before, 0, cue.start())
        if match:
            yield match.group("who"), (base + match.start("who"), base + match.end("who")), cue.group()


def _attributions(text: str, para: Paragraph, raw: _Raw, prev_end: int, next_start: int, paragraphs_end: int):
    """Candidate (mention, span, cue) from the words around the quote, the likeliest first."""
    close = raw.close_mark if raw.split_close is None else raw.split_close
    after = text[close + 1 : min(next_start, paragraphs_end)]
    for pattern in (_AFTER_CUE_SUBJECT, _AFTER_SUBJECT_CUE, _AFTER_NAMED_CUE):
        match = pattern.match(after)
        if match:
            yield _mention(match, close + 1)
    sent_start, sent_end = _sentence_bounds(text, para, raw.open_mark, raw.close_mark)
    before_start = max(prev_end, sent_start)
    before = text[before_start : raw.open_mark]
    yield from _speakers_before(before, before_start)
    for match in reversed(list(_ACCORDING_TO.finditer(before))):
        yield _mention(match, before_start)
    rest = text[raw.close_mark + 1 : sent_end]
    for pattern in (_ACCORDING_TO, _TAIL_SUBJECT_CUE, _TAIL_CUE_SUBJECT):
        match = pattern.search(rest)
        if match:
            yield _mention(match, raw.close_mark + 1)
    if before_start == sent_start:
        cue = _CUE_WORD.search(before) or _CUE_WORD.match(after.lstrip(" ,"))
        for pattern in (_SUBJECT_BEFORE_COLON, _SUBJECT_OF_SENTENCE):
            match = pattern.match(before)
            if match:
                yield _mention(match, before_start, cue=cue.group() if cue else "")
    if not before.strip() and before_start == sent_start:
        # A quote that opens its sentence, after a sentence that names who speaks and ends in a colon
        # or says nothing itself: "Cruz tweeted a warning. "Missouri: remember in November.""
        lead = text[_sentence_bounds(text, para, max(para.start, sent_start - 2), sent_start)[0] : sent_start]
        match = _LEAD_SPEAKER.search(lead)
        if match and not any(m in lead for m in _PAIRS):
            yield _mention(match, sent_start - len(lead))


_CUE_WORD = re.compile(rf"(?<![-\w])(?:{_CUES})\b")  # not "so-called"
_CUE_THAT = re.compile(rf"\b(?:{_CUES})\s+that\b")
# "..., as reported by BuzzFeed News": where the words were reported, not another speaker.
_SECONDARY_CUE = re.compile(r"\bas (?:first )?(?:reported|quoted|told) (?:by|to|in)\b|\bwhen asked\b")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st sen rep gov gen lt col capt sgt rev ft mt jan feb mar apr jun jul aug sep sept oct
    nov dec inc co corp jr sr vs no""".split()
)


def _sentence_breaks(text: str) -> list[int]:
    """Where the sentences inside the text end; "Mr." and initials end none."""
    return [m.end() for m in _SENTENCE_END.finditer(text) if _ends(text, m)]


def _ends(text: str, match: re.Match) -> bool:
    if match.end() < len(text) and text[match.end()].islower():
        return False  # '"Why?" asked Smith', 'Mich., to organize'
    if text[match.start()] != ".":
        return True
    if text[match.start() + 1 : match.start() + 2] == ")":
        return False  # "(D-Nev.)"
    word = re.search(r"([\w.]+)\.$", text[max(0, match.start() - 40) : match.start() + 1])
    if not word:
        return True
    stem = word.group(1).rstrip(".").casefold()
    return not (stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()) or "." in stem)


def _goes_on(text: str, prev: _Raw, raw: _Raw, paragraphs: Sequence[Paragraph]) -> bool:
    """A paragraph that is all quote, after a paragraph that closed on the attribution of its quote:
    `"X," she said.` then `"Y."`. The two are separate statements under one attribution."""
    if raw.paragraph != prev.last_paragraph + 1:
        return False
    para = paragraphs[raw.paragraph]
    if raw.open_mark != para.start or raw.last_paragraph != raw.paragraph:
        return False
    if text[raw.close_mark + 1 : para.end].strip(' .,;"”’»'):
        return False
    tail = text[prev.close_mark + 1 : paragraphs[prev.last_paragraph].end].rstrip()
    return len(_CUE_WORD.findall(tail)) == 1 and len(_sentence_breaks(tail + " ")) == 1


def _merge_split(text: str, raws: list[_Raw], paragraphs: Sequence[Paragraph]) -> list[_Raw]:
    """Join the pieces of one statement into one quote with several parts.

    Two ways a statement comes in pieces: split by its own attribution,
    `"X," he said, "Y."` or `"X," said Smith, an adviser who ... . "Y."` (the
    words between are one sentence with one cue, the first piece has no
    attribution before it and the second none after it, else they are two
    statements); and partial quotes strung through one sentence without a cue
    between them, `called it "X" and "Y"`. A title between the pieces is part of the attribution.
    """
    merged: list[_Raw] = []
    for index, raw in enumerate(raws):
        if (
            merged
            and index + 1 < len(raws)
            and _is_title(WORD.findall(text[raw.start : raw.end]))
            and _joins(text, merged[-1], raws[index + 1], paragraphs)
        ):
            continue  # a title inside the attribution: "X," Clinton said on ABC's "This Week." "Y."
        if merged and _joins(text, merged[-1], raw, paragraphs):
            prev = merged[-1]
            if prev.split_close is None:
                prev.split_close = prev.close_mark
            prev.parts.extend(raw.parts)
            prev.end = raw.end
            prev.close_mark = raw.close_mark
            prev.last_paragraph = raw.last_paragraph
            continue
        merged.append(raw)
    return merged


def _joins(text: str, prev: _Raw, raw: _Raw, paragraphs: Sequence[Paragraph]) -> bool:
    if prev.last_paragraph != raw.paragraph:
        return False
    between = _SECONDARY_CUE.sub(" ", text[prev.close_mark + 1 : raw.open_mark])
    inside_end = text[prev.parts[-1][1] : prev.close_mark + 1].rstrip('"”»')
    cues = len(_CUE_WORD.findall(between))
    breaks = _sentence_breaks(between + " ")
    ends_sentence = inside_end.endswith((".", "!", "?")) or text[prev.parts[-1][1] - 1] in ".!?"
    if cues == 0:
        # "X" and "Y", "X", not "Y": partial quotes in one sentence (titles are not pieces of a statement).
        if any(_is_title(WORD.findall(text[s:e])) for r in (prev, raw) for s, e in r.parts[-1:]):
            return False
        return not breaks and not ends_sentence and len(WORD.findall(between)) <= 12 and ":" not in between
    if cues > 1 or len(breaks) > 1:
        return False
    if _CUE_THAT.search(between):
        return False  # "Greene added that the Fed ...": reported speech of its own
    # The attribution is one sentence; a short lead-in of the next may follow it ("... he said. But "Y"").
    body = between.rstrip()
    if breaks:
        cut = breaks[0]
        if len(WORD.findall(between[cut:])) > 2 or not _CUE_WORD.search(between[:cut]):
            return False
    elif not re.search(r"(?:[,:—–.]|,\s+(?:and|but|that))$", body):
        return False
    elif ends_sentence and not between.lstrip().startswith(","):
        return False  # "X." He added: "Y": the words between introduce the next statement
    para = paragraphs[prev.paragraph]
    sent_start, _ = _sentence_bounds(text, para, prev.open_mark, prev.close_mark)
    if _BEFORE_SUBJECT_CUE.search(text[sent_start : prev.open_mark]):
        return False  # the first piece was attributed already: the cue between opens another statement
    own = paragraphs[raw.last_paragraph]
    _, sent_end = _sentence_bounds(text, own, raw.open_mark, raw.close_mark)
    after = text[raw.close_mark + 1 : max(sent_end, raw.close_mark + 1)]
    return not any(p.match(after) for p in (_AFTER_CUE_SUBJECT, _AFTER_SUBJECT_CUE)) and not _CUE_WORD.search(after)


def _in_reported_sentence(text: str, para: Paragraph, raw: _Raw) -> bool:
    """A few quoted words in a sentence that reports speech ("... decried the issue of "systemic racism"")."""
    start, end = _sentence_bounds(text, para, raw.open_mark, raw.close_mark)
    return bool(_CUE_WORD.search(text[start : raw.open_mark]) or _CUE_WORD.search(text[raw.close_mark + 1 : end]))


_TITLE_GLUE = frozenset("of the and a an to in for on at with or by from vs".split())


def _is_title(words: Sequence[str]) -> bool:
    """ "The Truman Show", "Good Morning America": a short run of capitalised words names a work or a slogan."""
    return (
        0 < len(words) <= 8
        and words[0][0].isupper()
        and all(w[0].isupper() or w in _TITLE_GLUE or not w[0].isalpha() for w in words)
    )


def extract(text: str, paragraphs: Sequence[Paragraph]) -> list[Quote]:
    """The direct quotes in the kept paragraphs, in order, with speakers."""
    raws = _merge_split(text, _raw_quotes(text, paragraphs), paragraphs)
    if not raws:  # no quotation marks: what follows would read every paragraph again for nothing
        return []
    lowercase = {w for p in paragraphs for w in WORD.findall(p.text) if w.islower()}
    speakers: list[tuple[int, str]] | None = None  # read when a pronoun first needs them
    quotes: list[Quote] = []
    last: Quote | None = None
    last_raw: _Raw | None = None
    last_paragraph = -2
    for index, raw in enumerate(raws):
        para = paragraphs[raw.paragraph]
        prev_end = (
            raws[index - 1].close_mark + 1 if index and raws[index - 1].paragraph == raw.paragraph else para.start
        )
        next_start = raws[index + 1].open_mark if index + 1 < len(raws) else paragraphs[raw.last_paragraph].end
        # "And said...", "Maybe ..." is no speaker: the first candidate that names someone or refers to them.
        found = next(
            (
                candidate
                for candidate in _attributions(
                    text, para, raw, prev_end, next_start, paragraphs[raw.last_paragraph].end
                )
                if _is_reference(candidate[0]) or _is_name(_clean_name(candidate[0]), lowercase)
            ),
            None,
        )
        speaker = mention = cue = ""
        span: Span | None = None
        continues = False
        if found:
            mention, span, cue = found
            if mention == "who":
                named = _NAME_BEFORE_COMMA.search(text, max(0, span[0] - 120), span[0])
                speaker = _clean_name(named.group("who")) if named else ""
            elif _is_reference(mention):
                if speakers is None:
                    speakers = _named_speakers(text, paragraphs)
                earlier = [name for pos, name in speakers if pos < raw.open_mark]
                if last is not None and last.speaker and raw.paragraph - last_paragraph <= 1:
                    speaker = last.speaker
                elif earlier:
                    speaker = earlier[-1]
                elif re.fullmatch(r"[Hh]e|[Ss]he", mention):
                    speaker = _subject_before(text, paragraphs, raw.paragraph, span[0], lowercase)
            else:
                speaker = _clean_name(mention)
        elif last is not None and raw.paragraph == last_paragraph:
            # "... described it as "X" and urged "Y"": the same speaker goes on.
            speaker, mention, span, cue = last.speaker, last.speaker_mention, last.speaker_span, last.cue
        elif last is not None and raw.paragraph - last_paragraph == 1:
            # A paragraph that is all quote goes on with the previous speaker.
            whole = text[para.start : para.end].strip('"“”«» .,')
            if len(text[raw.start : raw.end]) >= 0.8 * len(whole):
                speaker, mention, span, cue = last.speaker, last.speaker_mention, last.speaker_span, last.cue
                continues = last_raw is not None and _goes_on(text, last_raw, raw, paragraphs)
        words = WORD.findall(" ".join(text[s:e] for s, e in raw.parts))
        scare = not found and not speaker and len(words) < 3 and not _in_reported_sentence(text, para, raw)
        if scare or (_is_title(words) and not (found and found[2])):
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
            continues=continues,
        )
        quotes.append(quote)
        last, last_raw, last_paragraph = quote, raw, raw.last_paragraph
    return _same_words_same_speaker(quotes)


def _same_words_same_speaker(quotes: list[Quote]) -> list[Quote]:
    """A quotation the article repeats (in its lead, then with its attribution) is one speaker's words."""
    speakers: dict[str, str] = {}
    for quote in quotes:
        if quote.speaker:
            speakers.setdefault(_plain(quote.text), quote.speaker)
    return [
        dataclasses.replace(quote, speaker=speakers[_plain(quote.text)])
        if not quote.speaker and _plain(quote.text) in speakers
        else quote
        for quote in quotes
    ]


def _plain(text: str) -> str:
    return " ".join(WORD.findall(text.casefold()))
