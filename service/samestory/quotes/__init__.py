"""Direct quotes: extraction with speakers, alignment across articles, and grouping into statements."""

from .align import (
    Alignment,
    AlignmentKind,
    Embed,
    Quoted,
    UnitVectors,
    align,
    align_articles,
    can_paraphrase,
    quote_units,
    unit_vectors,
)
from .extract import Quote, Span, extract
from .group import PairAlignments, PairCache, QuotedBy, Wording, group

__all__ = [
    "Alignment",
    "AlignmentKind",
    "Embed",
    "PairAlignments",
    "PairCache",
    "Quote",
    "Quoted",
    "QuotedBy",
    "Span",
    "UnitVectors",
    "Wording",
    "align",
    "align_articles",
    "can_paraphrase",
    "extract",
    "group",
    "quote_units",
    "unit_vectors",
]
