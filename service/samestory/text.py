"""Normalisation, boilerplate stripping, tokens and entities.

Articles arrive as plain text, sometimes a raw page dump with menus,
subscription offers, related-story links and comment rules. `clean` keeps the
paragraphs that read as article prose and remembers where each one stands in
the original text, so that quote offsets can point into what the caller sent.
Everything lexical or semantic is computed from the kept paragraphs only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CleanText",
    "Paragraph",
    "article_entities",
    "clean",
    "entity_counts",
    "exact_key",
    "document_text",
    "lead_text",
    "normalise",
    "title_date",
    "tokens",
]

_DATE_PREFIX = re.compile(r"\A\s*date\s+(\d{4})-(\d{2})-(\d{2})\b[ \t]*")

# A page's time stamp: a line near the top that is a date, with perhaps a weekday, a time, a zone, a
# label ("Published:", "Updated", "Posted on") and a place, but no sentence around it.
_MONTHS = {name: number for number, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MONTH = (
    r"(?P<{}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_STAMP_DATE = re.compile(
    r"\b(?:"
    + _MONTH.format("m1")
    + r"\s*(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(?P<y1>(?:19|20)\d\d)"
    + r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+"
    + _MONTH.format("m2")
    + r",?\s*(?P<y2>(?:19|20)\d\d)"
    + r"|(?P<y3>(?:19|20)\d\d)-(?P<m3>\d\d)-(?P<d3>\d\d)"
    + r"|(?P<a4>\d\d?)\s*[/.]\s*(?P<b4>\d\d?)\s*[/.]\s*(?P<y4>(?:19|20)\d\d)"
    + r")\b",
    re.IGNORECASE,
)
# What else a stamp line may hold: times, zones, weekdays, labels.
_STAMP_REST = re.compile(
    r"""\b(?:\d{1,2}\s*:\s*\d\d(?:\s*:\s*\d\d)?(?:\s*[ap]\.?\s*m\b\.?)?|[ap]\.?\s*m\b\.?
      | (?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\b\.?
      | published|updated?|posted|first|last|created|modified|story|time|date|on|at
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
_ZONE = re.compile(r"\b(?:[A-Z]{1,4}T|GMT|UTC)\b(?:\s*[+-]\s*\d\d?(?:\s*:\s*\d\d)?)?")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_STAMP_OTHER_WORDS = 3
_STAMP_LINES = 5

# Phrases that, in a short paragraph, mark page chrome rather than reporting. Each begins with a letter:
# the search looks only where a word starts with one of their first letters (three times faster).
_CHROME_PHRASES = (
    r"sign[ -]?in",
    r"sign[ -]?up",
    r"log[ -]?in",
    r"log[ -]?out",
    r"subscri(be|ption|ber)s?",
    r"newsletters?",
    r"community\ guidelines",
    r"comments?\ (have|must|are\ moderated)",
    r"post(ing)?\ (your\ )?comments?",
    r"commenting\ platform",
    r"registered\ user",
    r"member-only",
    r"free\ stories",
    r"read\ later",
    r"all\ rights\ reserved",
    r"cookies?",
    r"privacy\ policy",
    r"terms\ of\ (use|service)",
    r"photo\ credit",
    r"image\ credit",
    r"getty\ images",
    r"file\ photo",
    r"related\ (stories|topics|articles|news|content)",
    r"top\ news",
    r"most\ read",
    r"read\ more",
    r"click\ here",
    r"share\ (this|on)",
    r"follow\ us",
    r"connect\ with\ us",
    r"advertisement",
    r"download\ (the|our)\ app",
    r"breaking\ news\ alerts?",
    r"unlock",
    r"paywall",
)
_CHROME_FIRST_LETTERS = "".join(sorted({phrase[0] for phrase in _CHROME_PHRASES}))
_BOILERPLATE_PATTERN = rf"\b(?=[{_CHROME_FIRST_LETTERS}])({'|'.join(_CHROME_PHRASES)})\b"
_BOILERPLATE = re.compile(_BOILERPLATE_PATTERN, re.IGNORECASE | re.VERBOSE)
# The same phrases (all lower case) sought in an ASCII line's lower case: ignoring case there is ASCII's
# lower case alone, and the search runs in 60 % of the time.
_BOILERPLATE_LOWER = re.compile(_BOILERPLATE_PATTERN, re.VERBOSE)
_BYLINE = re.compile(r"^(by|written by|reporting by|edited by)\s+[A-Z]", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(\d{1,3}[.)]|[•·▪◦*\-–—])\s+")
# A paragraph of prose ends a sentence: punctuation, perhaps inside closing quotes or brackets.
_TERMINAL = re.compile(r"""[.!?…:;]["'”’»)\]]*$|["”’»]$""")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# "KYIV, Ukraine (AP) — " style datelines and wire prefixes at the start of the body.
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z .'’-]{1,40}(?:,\s*[A-Z][\w .'’-]{1,40})?\s*(?:\([A-Za-z .]{2,20}\))?"
    r"|\([A-Za-z .]{2,20}\))\s*[—–-]{1,2}\s+"
)
_QUOTE_MAP = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "«": '"',
        "»": '"',
        "″": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "‹": "'",
        "›": "'",
        "—": "-",
        "–": "-",
        "‒": "-",
        "―": "-",
        "\u00ad": None,
    }
)
_MIN_PROSE_WORDS = 4
_LONG_PARAGRAPH_WORDS = 15
# A long line that ends in a short fragment after its last full stop is a caption with a credit ("... File").
_CREDIT_TAIL = re.compile(r"[.!?…]\s+(\S+\s*){1,3}$")
_MAX_CHROME_WORDS = 60
_ARTICLE_WORD = re.compile(r"\b(the|a|an)\b")


@dataclass(frozen=True)
class Paragraph:
    """A kept paragraph: its text and where it stands in the original."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class CleanText:
    """An article body reduced to its prose."""

    paragraphs: tuple[Paragraph, ...]
    body: str
    date: dt.date | None
    dropped: int

    @property
    def empty(self) -> bool:
        return not self.body


def normalise(text: str) -> str:
    """NFKC, straight quotes and hyphens, single spaces."""
    if not text.isascii():  # NFKC leaves ASCII as it is, and the map has no ASCII character
        text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MAP)
    return " ".join(text.split())  # what re's \s+ and strip() made of it: both split on str.isspace()


def tokens(text: str) -> list[str]:
    """Case-folded words of a normalised text, apostrophes kept inside words."""
    return _WORD.findall(normalise(text).casefold())


def exact_key(text: str, title: str = "") -> str:
    """The key under which two articles count as the same text: headline and whole text, normalised.

    Normalising forgives case, spacing, quote styles and punctuation, nothing
    more: a copy under another headline, or with page boilerplate added, is
    a near-duplicate, not an exact one.
    """
    words = " ".join(tokens(title)) + "\n" + " ".join(tokens(text))
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


def _is_prose(line: str, words: int) -> bool:
    """Whether a line of `words` words reads as article prose."""
    if words < _MIN_PROSE_WORDS:
        return False
    if words <= 12 and _LIST_ITEM.match(line):
        return False
    if _TERMINAL.search(line):
        return True
    # A long unterminated line is prose cut short, unless it is a caption ending in a credit or a
    # headline (a related-story link): headlines drop the articles "the", "a" and "an".
    return words >= _LONG_PARAGRAPH_WORDS and not _CREDIT_TAIL.search(line) and bool(_ARTICLE_WORD.search(line))


def _is_chrome(line: str, words: int) -> bool:
    """Whether a line of `words` words is page chrome: a short byline, or a phrase of menus and notices."""
    if words <= 8 and _BYLINE.match(line):
        return True
    if words > _MAX_CHROME_WORDS:
        return False
    found = _BOILERPLATE_LOWER.search(line.lower()) if line.isascii() else _BOILERPLATE.search(line)
    return found is not None


def _lines(text: str, offset: int) -> list[Paragraph]:
    out = []
    for match in re.finditer(r"[^\n\r]+", text[offset:]):
        raw = match.group()
        stripped = raw.strip()
        if not stripped:
            continue
        start = offset + match.start() + (len(raw) - len(raw.lstrip()))
        out.append(Paragraph(start, start + len(stripped), stripped))
    return out


def document_text(title: str, clean_text: CleanText) -> str:
    """What the model embeds for an article: the headline, then the kept prose."""
    return f"{title.strip()}\n{clean_text.body}" if title.strip() else clean_text.body


def lead_text(title: str, clean_text: CleanText) -> str:
    """The headline and the first paragraph: who, what, where and when, as the article puts it. It is
    where the document begins, so the model can pool its vector from the document's own pass."""
    doc = document_text(title, clean_text)
    first = normalise(clean_text.paragraphs[0].text) if clean_text.paragraphs else clean_text.body
    first = _DATELINE.sub("", first, count=1)
    start = len(doc) - len(clean_text.body)
    if not clean_text.body.startswith(first):  # the paragraph was not kept as it stands: its words, then
        first = clean_text.body[: len(first)]
    return doc[: start + len(first)]


def _stamp_date(line: str, other_words: int = _STAMP_OTHER_WORDS) -> dt.date | None:
    """The date of a time-stamp line ("Published: May 2, 2013, 1:32 PM EDT"); None for any other line.

    Numeric dates are read only where day and month cannot be swapped (13/05/2013, 05/13/2013).
    """
    found = _STAMP_DATE.search(line)
    if not found:
        return None
    rest = _ZONE.sub(" ", _STAMP_REST.sub(" ", line[: found.start()] + " " + line[found.end() :]))
    if len(_LETTERS.findall(rest)) > other_words:
        return None
    parts = found.groupdict()
    if parts["y1"] or parts["y2"]:
        month = _MONTHS[(parts["m1"] or parts["m2"])[:3].casefold()]
        day, year = int(parts["d1"] or parts["d2"]), int(parts["y1"] or parts["y2"])
    elif parts["y3"]:
        year, month, day = int(parts["y3"]), int(parts["m3"]), int(parts["d3"])
    else:
        first, second, year = int(parts["a4"]), int(parts["b4"]), int(parts["y4"])
        if (first > 12) == (second > 12):
            return None
        month, day = (second, first) if first > 12 else (first, second)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def title_date(title: str) -> dt.date | None:
    """The date of a headline that is nothing but a time stamp ("Jan 05, 2011", "Posted: Nov 27, 2005 8:20 AM
    ET"): a scraper that took the page's first line for its headline. None for a real headline, even a
    short one that names a day ("Storm of January 5, 2011" may be an anniversary)."""
    return _stamp_date(title, other_words=0)


def _page_date(lines: Sequence[Paragraph], prose: Sequence[bool]) -> dt.date | None:
    """The date of the page's first time stamp among its first lines or before its first paragraph of prose."""
    first_prose = next((number for number, is_prose in enumerate(prose) if is_prose), len(lines))
    for line in lines[: max(_STAMP_LINES, first_prose + 1)]:
        if (date := _stamp_date(line.text)) is not None:
            return date
    return None


def clean(text: str) -> CleanText:
    """Keep the article's prose; read the page's date from a leading `date YYYY-MM-DD` or its time stamp."""
    date = None
    offset = 0
    prefix = _DATE_PREFIX.match(text)
    if prefix:
        try:
            date = dt.date(int(prefix.group(1)), int(prefix.group(2)), int(prefix.group(3)))
            offset = prefix.end()
        except ValueError:
            date = None
    lines = _lines(text, offset)
    words = [len(_WORD.findall(line.text)) for line in lines]
    prose = [_is_prose(line.text, n) and not _is_chrome(line.text, n) for line, n in zip(lines, words, strict=True)]
    if date is None:
        date = _page_date(lines, prose)
    seen: set[str] = set()
    kept: list[Paragraph] = []
    for line, is_prose in zip(lines, prose, strict=True):
        key = normalise(line.text).casefold()
        if key in seen:
            continue
        seen.add(key)
        if is_prose:
            kept.append(line)
    if not kept:
        # Nothing reads as prose (a headline-only item, a list): keep what is not chrome.
        kept = [line for line, n in zip(lines, words, strict=True) if not _is_chrome(line.text, n)] or lines
    body = normalise("\n".join(p.text for p in kept))
    body = _DATELINE.sub("", body, count=1)
    return CleanText(tuple(kept), body, date, len(lines) - len(kept))


_NOT_NAMES = frozenset(
    """a an and the this that these those he she it they we i you his her its their our my your
    in on at of for from to by with as after before about over under into during since until
    but or if when while where why how what who which there here then than also however meanwhile
    mr mrs ms dr sir prof gen president minister monday tuesday wednesday thursday friday saturday
    sunday january february march april may june july august september october november december
    earlier later today yesterday tomorrow according""".split()
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]+")
_NUMBER = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def entity_counts(text: str) -> dict[str, int]:
    """Names and figures a text mentions, case-folded, with how often.

    A crude stand-in for named-entity recognition that needs no model:
    capitalised words that are not sentence-furniture, and numbers of two or
    more digits. It is only used to compare articles with each other, where
    the same crude errors cancel, and how often a name recurs tells the
    story's protagonist from a passing mention.
    """
    found: dict[str, int] = {}
    for match in _CAPITALISED.finditer(text):
        word = match.group().replace("’", "'")
        word = (word[:-2] if word.endswith("'s") else word).casefold()
        if len(word) >= 2 and word not in _NOT_NAMES:
            found[word] = found.get(word, 0) + 1
    for match in _NUMBER.finditer(text):
        number = match.group().replace(",", "")
        if len(number) >= 2:
            found[number] = found.get(number, 0) + 1
    return found


def article_entities(title: str, paragraphs: Sequence[Paragraph]) -> dict[str, int]:
    """Entity counts of an article, the headline and the lead paragraph counted twice."""
    lead = paragraphs[0].text if paragraphs else ""
    body = "\n".join(p.text for p in paragraphs)
    return entity_counts(f"{title}\n{title}\n{lead}\n{body}")
