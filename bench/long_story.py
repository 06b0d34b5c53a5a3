"""A story that runs long: what a decision and its write cost as one cluster grows, with the service's caps or none.

    .venv/bin/python bench/long_story.py [--articles 2000] [--backend B] [--max-tokens T]

Ingests N articles of one story, one at a time, through the detector the server
builds (the real model, FAISS, the LSH, SQLite with fsync): the seed article about
the 2024-10-29 call (seeds/), each time with a paragraph of its own naming people
and a place no other article names. Every copy is a near-duplicate of every other,
as a syndicated wire story is, and brings new names, as reports of a long story do:
all join one cluster. Printed: the CPU of the commit (candidates, cluster evidence,
decision, quote alignment, the store's write; the model is not in it) per article
in windows of the stream, the names in the cluster's profile, and the size of its
stored row.

Twice: as the service runs (a decision takes the `lexical_candidates` articles that
share the most LSH buckets with the new one, and a profile keeps its `PROFILE_TERMS`
heaviest names), and, the baseline, with neither cap. The model's vectors of the
first pass are replayed in the second, so both decide on the same vectors.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from model_options import (
    REPO,
    add_model_arguments,
    clocked_stages,
    describe,
    keeping,
    model_calls_through,
    open_model,
    replaying,
    server_settings,
)
from samestory import profile as profile_module
from samestory.detector import Detector
from samestory.records import ArticleIn
from samestory.server import build_detector

_WINDOWS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    add_model_arguments(parser)
    args = parser.parse_args()
    articles = story(args.articles)
    model = open_model(args)
    kept: dict[tuple, object] = {}
    print(f"{args.articles} articles of one story, one at a time, {describe(args)}, python {sys.version.split()[0]}")
    for label, capped, wrap in (("the service", True, keeping), ("baseline, no caps", False, replaying)):
        with contextlib.nullcontext() if capped else uncapped():
            windows = ingest(args, model, articles, lambda call, wrap=wrap: wrap(call, kept), capped)
        print(label)
        for first, last, cpu, names, row in windows:
            print(
                f"  articles {first:5d}-{last:5d}: commit {cpu * 1000:6.2f} ms of CPU an article, "
                f"the profile {names:6d} names, its row {row / 1024:7.1f} KB"
            )
    return 0


def story(count: int) -> list[ArticleIn]:
    """The seed article, each copy with a paragraph naming people and a place of its own."""
    seed = sorted((REPO / "seeds").glob("*.txt"))[0].read_text(encoding="utf-8")
    rng = random.Random(7)

    def name() -> str:
        return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3)).capitalize()

    out = []
    for n in range(count):
        extra = (
            f"Officials {name()} {name()} and {name()} {name()} met residents of {name()} on Tuesday, "
            f"said {name()} {name()}, who leads the local council."
        )
        out.append(
            ArticleIn(
                article_id=f"story-{n}", title="Zelensky and Yoon discuss North Korean troops", text=f"{seed}\n{extra}"
            )
        )
    return out


def ingest(
    args, model, articles: list[ArticleIn], wrap: Callable, capped: bool
) -> list[tuple[int, int, float, int, int]]:
    """The articles into a fresh data directory, the model's calls through `wrap`; per window: first and last
    article, commit CPU seconds an article, and the cluster's profile's names and stored row size at the
    window's end."""
    settings = server_settings(args, Path(tempfile.gettempdir()))
    if not capped:
        settings = dataclasses.replace(settings, lexical_candidates=sys.maxsize)
    spent: Counter = Counter()
    windows = []
    commit = [("commit", Detector, "_commit_once")]
    with (
        model_calls_through(model, wrap),
        clocked_stages(commit, spent, time.thread_time),
        tempfile.TemporaryDirectory() as tmp,
    ):
        detector = build_detector(dataclasses.replace(settings, data_dir=Path(tmp)), model)
        try:
            size = max(1, len(articles) // _WINDOWS)
            for first in range(0, len(articles), size):
                spent.clear()
                chunk = articles[first : first + size]
                cluster_id = [detector.ingest(article) for article in chunk][-1].cluster_id
                store = detector.store
                with store._lock:
                    (row,) = store._x("SELECT length(entities) FROM clusters WHERE id=?", (cluster_id,)).fetchone()
                names = len(store.profiles([cluster_id])[cluster_id].entities)
                windows.append((first + 1, first + len(chunk), spent["commit"] / len(chunk), names, row))
        finally:
            detector.close()
    return windows


@contextlib.contextmanager
def uncapped():
    """Profiles that keep every name."""
    saved = profile_module.PROFILE_TERMS, profile_module._PRUNE_PAST
    profile_module.PROFILE_TERMS = profile_module._PRUNE_PAST = sys.maxsize
    try:
        yield
    finally:
        profile_module.PROFILE_TERMS, profile_module._PRUNE_PAST = saved


if __name__ == "__main__":
    sys.exit(main())
