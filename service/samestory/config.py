"""Typed settings, read once from the environment and the command line."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .decide import Thresholds
from .errors import ConfigurationError
from .lexical import LexicalParams

__all__ = ["CALIBRATED", "DECIDE_PREFIX", "ENV_PREFIX", "Settings"]

ENV_PREFIX = "SAMESTORY_"
# SAMESTORY_DECIDE_<NAME> sets one of the decision's settings (Thresholds) over the calibrated ones.
DECIDE_PREFIX = ENV_PREFIX + "DECIDE_"


# The decision thresholds calibrated for each model backend, on the ECB+ dev set with
# `samestory --backend B eval ../shared/eval/ecbplus_dev.jsonl --shuffles 5`. bf16 moves pair
# similarities by at most 0.003, and its figures equal fp32's to the third decimal (README),
# so it keeps fp32's values. int8 (ONNX, one scale per output channel) moves vectors to cosine
# 0.99 of fp32's, and with fp32's values its figures are within 0.002 of fp32's (pairwise F1
# 0.863 against 0.864, B-cubed 0.893 against 0.895), so it keeps them too.
CALIBRATED: dict[str, Thresholds] = {
    "torch-fp32": Thresholds(),
    "torch-bf16": Thresholds(),
    "onnx-int8": Thresholds(),
}


@dataclass(frozen=True)
class Settings:
    """How one Samestory server runs. Each field can be set as SAMESTORY_<FIELD NAME>."""

    data_dir: Path = Path("samestory-data")
    # None: SQLite in data_dir. postgresql://...: a PostgreSQL store shared by several replicas.
    store: str | None = None
    # With a shared store: how often to apply the other replicas' changes to this one's indexes.
    follow_seconds: float = 0.25
    # None: the LSH in this process. redis://host:port/db: one LSH in Redis for every replica.
    lsh: str | None = None
    lsh_basename: str = "samestory"
    host: str = "127.0.0.1"
    port: int = 50051
    model_path: Path | None = None
    threads: int = 2
    # Torch backends: how many model calls run at once, sharing the threads. A call that starts
    # alone takes every thread (a lone request is answered soonest); one that starts beside another
    # takes its share, and two one-thread calls side by side keep both cores busy where one call's
    # two threads would wait on each other whenever the service's own work takes a core (README,
    # speed). onnx-int8 always runs `threads` one-thread calls.
    model_calls: int = 2
    backend: str = "torch-fp32"
    # Where the onnx-int8 backend keeps the model it converts on its first start (None: ~/.cache/samestory).
    model_cache: Path | None = None
    batch_wait_ms: float = 2.0
    batch_tokens: int = 4096
    # How much of an article the model reads, in tokens: its title and first paragraphs. Part of
    # the model's identity, so a data directory keeps the value it was built with (README, speed).
    max_tokens: int = 256
    max_article_chars: int = 200_000
    max_message_bytes: int = 4 * 1024 * 1024
    max_id_chars: int = 256
    max_concurrent_calls: int = 64
    # How long a thread running Python keeps the interpreter's lock while another waits for it (Python's
    # own default is 5 ms). A model call that has finished waits for the lock to hand back its vectors and
    # take the next text, and its core idles meanwhile: the server sets this for its whole process.
    switch_interval_ms: float = 0.5
    # How many of the model's parallel calls run at idle CPU priority (Linux's SCHED_IDLE), taking only the
    # CPU the rest of the service leaves: a model call then never shares a core with the requests' own work,
    # which cost about 1.6 times as much when it did (README, speed). At least one call keeps normal
    # priority. Only for a backend whose calls run on their own thread (onnx-int8); 0 turns it off.
    idle_model_calls: int = 1
    max_batch: int = 10_000
    grace_seconds: float = 10.0
    semantic_candidates: int = 20
    # Of the articles sharing an LSH bucket with a new one, those sharing the most buckets: a story syndicated
    # to hundreds of outlets would otherwise bring every earlier copy to every decision.
    lexical_candidates: int = 50
    align_articles: int = 20
    group_articles: int = 50
    log_level: str = "INFO"
    snapshot_seconds: float = 30.0
    snapshot_changes: int = 1000
    # Exact vector search up to this many indexed articles, then an inverted file (0: always exact).
    ivf_from: int = 100_000
    ivf_lists: int = 1024
    ivf_probe: int = 16
    # Articles published (or, undated, ingested) this many days before the newest leave the
    # in-memory indexes; they stay in the store. 0 keeps every article indexed.
    index_window_days: float = 30.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tokens_file: Path | None = None
    tokens: str | None = None
    lexical: LexicalParams = field(default_factory=LexicalParams)
    # None: the thresholds calibrated for the backend (CALIBRATED).
    thresholds: Thresholds | None = None

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, decide: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Defaults, then SAMESTORY_* variables, then explicit overrides (flags).

        The decision's settings start from those calibrated for the backend; SAMESTORY_DECIDE_<NAME>
        variables, then `decide` (name to value, from `--decide NAME=VALUE`), set single ones."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in ("lexical", "thresholds"):
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**{name: _convert(name, value) for name, value in values.items()})
        chosen = {
            key[len(DECIDE_PREFIX) :].lower(): (key, raw)
            for key, raw in env.items()
            if key.startswith(DECIDE_PREFIX) and raw != ""
        }
        chosen.update({name: (f"--decide {name}", raw) for name, raw in (decide or {}).items()})
        if not chosen:
            return settings
        thresholds = _thresholds(settings.thresholds, chosen)
        return dataclasses.replace(settings, thresholds=thresholds)

    def __post_init__(self) -> None:
        if self.backend not in CALIBRATED:
            raise ConfigurationError(f"unknown backend {self.backend!r}; choose one of {', '.join(CALIBRATED)}")
        if self.thresholds is None:
            object.__setattr__(self, "thresholds", CALIBRATED[self.backend])
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port {self.port} is not a TCP port (0-65535)")
        for name in (
            "threads",
            "model_calls",
            "batch_tokens",
            "max_tokens",
            "max_article_chars",
            "max_message_bytes",
            "max_id_chars",
            "max_concurrent_calls",
            "max_batch",
            "semantic_candidates",
            "lexical_candidates",
            "snapshot_changes",
            "ivf_lists",
            "ivf_probe",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.store is not None and not self.store.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(
                f"SAMESTORY_STORE={self.store!r} is not a postgresql:// URL (leave it unset for SQLite in the data dir)"
            )
        if self.lsh is not None and not self.lsh.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(f"SAMESTORY_LSH={self.lsh!r} is not a redis:// URL (leave it unset for in-memory)")
        if self.lsh is not None and self.store is None:
            raise ConfigurationError(
                "a Redis LSH is shared by replicas, so it needs their shared store: set SAMESTORY_STORE=postgresql://..."
            )
        if self.idle_model_calls < 0:
            raise ConfigurationError(
                f"idle_model_calls must not be negative (0 turns it off), got {self.idle_model_calls}"
            )
        if not 0 < self.switch_interval_ms <= 1000:
            raise ConfigurationError(
                f"switch_interval_ms must be above 0 and at most 1000, got {self.switch_interval_ms}"
            )
        if self.ivf_from < 0 or self.index_window_days < 0:
            raise ConfigurationError("ivf_from and index_window_days must not be negative (0 turns them off)")
        if self.ivf_from and self.ivf_from < 39 * self.ivf_lists:
            raise ConfigurationError(
                f"ivf_from ({self.ivf_from}) must be at least 39 x ivf_lists ({39 * self.ivf_lists}): "
                "k-means needs that many vectors to train the lists"
            )
        if self.ivf_probe > self.ivf_lists:
            raise ConfigurationError(f"ivf_probe ({self.ivf_probe}) cannot exceed ivf_lists ({self.ivf_lists})")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("TLS needs both SAMESTORY_TLS_CERT and SAMESTORY_TLS_KEY (or neither)")
        if self.max_message_bytes < self.max_article_chars:
            raise ConfigurationError(
                f"max_message_bytes ({self.max_message_bytes}) must be at least max_article_chars "
                f"({self.max_article_chars}), or articles under the limit could not be sent"
            )

    def __repr__(self) -> str:  # tokens never reach a log line
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "tokens"}
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())}, tokens=...)"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


_TYPES: dict[str, type] = {
    "data_dir": Path,
    "store": str,
    "follow_seconds": float,
    "lsh": str,
    "lsh_basename": str,
    "host": str,
    "port": int,
    "model_path": Path,
    "model_cache": Path,
    "threads": int,
    "model_calls": int,
    "backend": str,
    "batch_wait_ms": float,
    "batch_tokens": int,
    "max_tokens": int,
    "max_article_chars": int,
    "max_message_bytes": int,
    "max_id_chars": int,
    "max_concurrent_calls": int,
    "switch_interval_ms": float,
    "idle_model_calls": int,
    "max_batch": int,
    "grace_seconds": float,
    "semantic_candidates": int,
    "lexical_candidates": int,
    "align_articles": int,
    "group_articles": int,
    "log_level": str,
    "snapshot_seconds": float,
    "snapshot_changes": int,
    "ivf_from": int,
    "ivf_lists": int,
    "ivf_probe": int,
    "index_window_days": float,
    "tls_cert": Path,
    "tls_key": Path,
    "tokens_file": Path,
    "tokens": str,
}


# The decision's settings that are weights of its logit, and may be negative; the rest may not.
_SIGNED = {"intercept", "entity_weight", "lead_weight", "year_conflict_weight", "year_mismatch_weight"}


def _thresholds(base: Thresholds, chosen: Mapping[str, tuple[str, str]]) -> Thresholds:
    """`base` with the settings in `chosen` (name: (where it was set, its text)), each checked."""
    kinds = {f.name: type(getattr(base, f.name)) for f in dataclasses.fields(Thresholds)}
    values: dict[str, float | int] = {}
    for name, (where, raw) in chosen.items():
        if name not in kinds:
            raise ConfigurationError(
                f"{where}: the decision has no setting {name!r}; it has {', '.join(sorted(kinds))}"
            )
        try:
            value = kinds[name](raw)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{where}={raw!r} is not a valid {kinds[name].__name__}") from None
        if not math.isfinite(value) or (name not in _SIGNED and value < 0):
            raise ConfigurationError(f"{where}={raw!r}: {name} must be a finite number of at least 0")
        values[name] = value
    out = dataclasses.replace(base, **values)
    if out.window_days <= 0 or out.settled_size < 1:
        raise ConfigurationError(
            f"the decision's window_days must be above 0 and settled_size at least 1, "
            f"got {out.window_days} and {out.settled_size}"
        )
    return out


def _convert(name: str, value: Any) -> Any:
    kind = _TYPES.get(name)
    if kind is None or isinstance(value, kind):
        return value
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{ENV_PREFIX}{name.upper()}={value!r} is not a valid {kind.__name__}") from exc
