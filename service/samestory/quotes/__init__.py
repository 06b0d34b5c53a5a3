"""Direct quotes: extraction with speakers, alignment across articles, and grouping into statements."""

from .align import (
    Alignment,
    AlignmentKind,
    Quoted,
    align,
    align_articles,
    by_quote,
    can_paraphrase,
    quote_units,
    units_to_embed,
)
from .extract import Quote, Span, extract
from .group import PairCache, QuotedBy, Wording, group

__all__ = [
    "Alignment",
    "AlignmentKind",
    "PairCache",
    "Quote",
    "Quoted",
    "QuotedBy",
    "Span",
    "Wording",
    "align",
    "align_articles",
    "by_quote",
    "can_paraphrase",
    "extract",
    "group",
    "quote_units",
    "units_to_embed",
]
