"""Samestory's exceptions, translated to gRPC status codes and exit codes at the edges.

SamestoryError
├── InvalidArticle        the request is wrong (INVALID_ARGUMENT)
├── LimitExceeded         the request is over a configured limit (RESOURCE_EXHAUSTED)
├── NotFound              an unknown article or cluster id (NOT_FOUND)
├── AlreadyExists         an id already stored with other content (ALREADY_EXISTS)
├── StaleDecision         the archive changed while deciding; retried, then ABORTED
└── ConfigurationError    the service cannot start as configured
    └── IncompatibleData  the data directory was built with other parameters
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ConfigurationError",
    "DeadlineExceeded",
    "IncompatibleData",
    "InvalidArticle",
    "LimitExceeded",
    "NotFound",
    "SamestoryError",
    "StaleDecision",
]


class SamestoryError(Exception):
    """Base of every error Samestory raises on purpose."""


class InvalidArticle(SamestoryError):
    """The request (its article, a page token) cannot be processed as sent."""


class LimitExceeded(SamestoryError):
    """The request is over a configured limit."""


class NotFound(SamestoryError):
    """No article or cluster has this id."""


class AlreadyExists(SamestoryError):
    """An article with this id is stored with other content."""


class StaleDecision(SamestoryError):
    """The store's change log moved after the change a decision was taken at: nothing was stored."""


class DeadlineExceeded(SamestoryError):
    """The caller's deadline passed before the write; nothing was stored."""


class ConfigurationError(SamestoryError):
    """The service cannot start with these settings."""


class IncompatibleData(ConfigurationError):
    """The data directory was built with other parameters than these."""
