"""Samestory: tells a news ingestion pipeline whether an article covers a story it has already seen."""

__version__ = "0.1.0"
