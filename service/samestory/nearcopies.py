"""Edited copies of articles, the way the web makes them, for measuring near-duplicate recall.

Each copy applies a few of the edits syndication and republishing make:
another headline and byline, page boilerplate before and after, a paragraph
dropped or moved, a correction, a wire prefix, tracking text. Seeded, so a
measurement can be repeated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EDITS", "EditedCopy", "edited_copy"]

_HEADLINE_PREFIXES = ("UPDATE: ", "BREAKING: ", "WATCH: ", "", "Exclusive: ")
_BYLINES = ("By Staff Reporter", "By Associated Press", "By Newsroom Staff", "From wire reports")
_WIRES = ("WASHINGTON (AP) — ", "LONDON (Reuters) - ", "NEW YORK (AFP) — ", "(CNN) — ")
_BEFORE = (
    "Home | News | World | Business | Sport | Sign in",
    "Subscribe to our newsletter for the latest headlines",
    "Advertisement",
)
_AFTER = (
    "Read more: the day's top stories",
    "Related stories",
    "© 2026 Example Media Group. All rights reserved.",
    "Share this article on Facebook and Twitter",
    "Comments are moderated. Please read our community guidelines before posting comments.",
)
_TRACKING = (
    "Click here to subscribe and get the news first.",
    "Follow us on Twitter for breaking news alerts.",
    "Download our app for the latest news.",
)


@dataclass(frozen=True)
class EditedCopy:
    title: str
    text: str
    edits: tuple[str, ...]


def _paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


def _headline(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    words = title.split()
    if len(words) > 4 and rng.random() < 0.5:
        new = " ".join(words[:-2]) + " " + rng.choice(("- report", "as it happened", "amid questions"))
    else:
        new = rng.choice(_HEADLINE_PREFIXES) + title
    if new == title:
        new = "UPDATE: " + title
    return new, f"{rng.choice(_BYLINES)}\n{text}"


def _boilerplate(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    before = "\n".join(rng.sample(_BEFORE, 2))
    after = "\n".join(rng.sample(_AFTER, 3))
    return title, f"{before}\n{text}\n{after}"


def _drop(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    paragraphs = _paragraphs(text)
    if len(paragraphs) < 4:
        return title, text
    del paragraphs[rng.randrange(1, len(paragraphs))]
    return title, "\n".join(paragraphs)


def _move(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    paragraphs = _paragraphs(text)
    if len(paragraphs) < 3:
        return title, text
    moved = paragraphs.pop(rng.randrange(1, len(paragraphs)))
    paragraphs.insert(rng.randrange(1, len(paragraphs) + 1), moved)
    return title, "\n".join(paragraphs)


def _correction(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    changed = re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + 1), text, count=1)
    note = "Correction: An earlier version of this article gave a wrong figure. It has been updated."
    return title, f"{changed}\n{note}"


def _wire(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    return title, rng.choice(_WIRES) + text.lstrip()


def _tracking(title: str, text: str, rng: random.Random) -> tuple[str, str]:
    paragraphs = _paragraphs(text)
    paragraphs.insert(rng.randrange(0, len(paragraphs) + 1), rng.choice(_TRACKING))
    return title, "\n".join(
        paragraphs
    ) + f"\nhttps://example.com/news/story?utm_source=feed&utm_medium=rss&id={rng.randrange(10**6)}"


EDITS: dict[str, Callable[[str, str, random.Random], tuple[str, str]]] = {
    "headline-and-byline": _headline,
    "boilerplate": _boilerplate,
    "paragraph-dropped": _drop,
    "paragraph-moved": _move,
    "correction": _correction,
    "wire-prefix": _wire,
    "tracking-text": _tracking,
}


# Edits of the article's own text go first, so that decorations are never what gets dropped or moved.
_ORDER = (
    "paragraph-dropped",
    "paragraph-moved",
    "correction",
    "headline-and-byline",
    "wire-prefix",
    "tracking-text",
    "boilerplate",
)


def edited_copy(title: str, text: str, seed: int, edits: int = 3) -> EditedCopy:
    """A copy with `edits` different edits, chosen and applied reproducibly from `seed`."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(sorted(EDITS), edits), key=_ORDER.index)
    for name in chosen:
        title, text = EDITS[name](title, text, rng)
    return EditedCopy(title, text, tuple(chosen))
