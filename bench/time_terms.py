"""Choose the decision's time terms on dated news, and check them on news they were not chosen on.

    .venv/bin/python bench/time_terms.py --dataset ../shared/eval/polnear_quotes_dev.jsonl
        --labels bench/data/polnear_events.jsonl --split 2016-04-01
        [--embedding-cache FILE.npz] [--shuffles 5] [--workers 2]
        [--ecbplus ../shared/eval/ecbplus_dev.jsonl --ecbplus-cache FILE.npz]

ECB+ cannot weigh time (only one event of each topic is dated, and its follow-ups run for
years), so the time terms (the freshness bonus over its days, the penalty's window and its
weight per window; `Thresholds`) are chosen on a dated stream with labelled events: every
article of the dataset streamed in publication order (each shuffle breaking the ties between
the articles of one day), as `samestory eval --by-date` streams it, replayed in memory
(`samestory.replay`) under each setting of a grid. The labelled articles published before
--split are scored apart from those published on or after it, so that a setting chosen on one
side is scored on the other. The baselines in the same run: the shipped thresholds, and every
article on its own. With --ecbplus, ECB+'s 5 shuffles are replayed too, under the shipped
setting and the two chosen ones, and so is ECB+ as a dense stream, to see what a bonus for
stories of the same days costs where many stories of one kind break in the same days: every
event dated at random in one fortnight and each of its articles within 2 days of that date
(about 45 articles a day; a topic's two events of one kind often fall in the same days),
streamed in that order, the year evidence off (its years would contradict the made-up
dates), with no bonus as the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import multiprocessing
import os
import random
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fit_decision import mean_f1, prepared_rows, replay_streams
from samestory.config import Settings
from samestory.evaluate import Labelled, gold_of, orders, quality, read_dataset
from samestory.replay import Prepared, replay, replay_clusters
from samestory.server import load_embedder

GRID = {
    "fresh_bonus": (2.0, 3.0, 4.0, 5.0),
    "fresh_days": (2.0, 3.0, 4.0),
    "window_days": (10.0, 14.0, 21.0, 30.0),
    "time_penalty_per_window": (0.5, 1.0),
}
UNLABELLED = "\0unlabelled "  # a label no gold event has, for the replays: streamed, never scored

# Set before the workers fork: the streams, the halves' gold events, the settings and the candidates.
_STATE: dict = {}


def _score(changes: dict[str, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """(pairwise F1, B-cubed F1) of each half, mean over the streams, under the shipped settings changed so."""
    thresholds = dataclasses.replace(_STATE["thresholds"], **changes)
    streamed = [replay_clusters(stream, thresholds, _STATE["candidates"]) for stream in _STATE["streams"]]
    out = []
    for gold in _STATE["halves"]:
        runs = [quality({i: clusters[i] for i in gold}, gold) for clusters in streamed]
        out.append(mean_f1(runs))
    return out[0], out[1]


def _unlabelled_streamed(rows: Sequence[Labelled]) -> list[Labelled]:
    return [r if r.label is not None else dataclasses.replace(r, label=UNLABELLED + r.article.article_id) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True, help="a dated JSONL, every article streamed")
    parser.add_argument("--labels", type=Path, required=True, help="the events of some of its articles")
    parser.add_argument("--split", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD: the halves' border")
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--shuffles", type=int, default=5, help="orders of each day's articles")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ecbplus", type=Path, help="ECB+'s JSONL: the chosen settings replayed on it too")
    parser.add_argument("--ecbplus-cache", type=Path, help="an embedding cache for ECB+")
    args = parser.parse_args()

    settings = Settings.load(env={}, data_dir=Path(tempfile.gettempdir()))
    labelled = read_dataset(args.dataset, args.labels)
    rows = _unlabelled_streamed(labelled)
    embedder = load_embedder(settings)
    prepared = prepared_rows(rows, settings, embedder, args.embedding_cache)
    border = dt.datetime.combine(args.split, dt.time(), dt.UTC)
    published = {r.article.article_id: r.article.published for r in rows}
    gold = gold_of(labelled)
    halves = [{i: label for i, label in gold.items() if (published[i] < border) == first} for first in (True, False)]
    streams = [[prepared[r.article.article_id] for r in s] for _, s in orders(rows, args.shuffles, by_date=True)]
    _STATE.update(
        streams=streams, halves=halves, thresholds=settings.thresholds, candidates=settings.semantic_candidates
    )
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    shipped = {name: getattr(settings.thresholds, name) for name in GRID}
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(_score, [shipped, *grid], chunksize=1)
    alone = [quality({i: i for i in gold}, gold) for gold in halves]

    print(
        f"{args.dataset.name}: {len(rows)} articles streamed by date in {len(streams)} orders; "
        f"scored: {len(halves[0])} labelled before {args.split}, {len(halves[1])} from it on; {len(grid)} settings"
    )
    names = " ".join(f"{n:>9.9}" for n in GRID)
    print(f"{'':<28} {names}   {'before: pairwise / B-cubed':>26}   {'after: pairwise / B-cubed':>25}")

    def show(label: str, changes: dict[str, float] | None, result) -> None:
        values = " ".join(f"{changes[n]:9.1f}" for n in GRID) if changes else " ".join(f"{'':>9}" for _ in GRID)
        (a, b), (c, d) = result
        print(f"{label:<28} {values}   {a:>15.3f} / {b:.3f}   {c:>14.3f} / {d:.3f}")

    show("shipped", shipped, results[0])
    show("every article on its own", None, ((0.0, alone[0].bcubed[2]), (0.0, alone[1].bcubed[2])))
    scored = list(zip(grid, results[1:], strict=True))
    chosen = {}
    for half, label in ((0, "best before, held out after"), (1, "best after, held out before")):
        changes, result = max(scored, key=lambda t: (t[1][half][0], t[1][half][1]))
        chosen[label] = changes
        show(label, changes, result)
    print("the ten best by the mean of the two halves' pairwise F1:")
    for changes, result in sorted(scored, key=lambda t: -(t[1][0][0] + t[1][1][0]))[:10]:
        show("", changes, result)

    if args.ecbplus:
        ecb = read_dataset(args.ecbplus)
        ecb_prepared = prepared_rows(ecb, settings, embedder, args.ecbplus_cache)
        ecb_streams = replay_streams(ecb_prepared, ecb, 5)
        print(f"{args.ecbplus.name}, 5 shuffles replayed: pairwise / B-cubed F1")
        for label, changes in (("shipped", shipped), *chosen.items()):
            thresholds = dataclasses.replace(settings.thresholds, **changes)
            runs = [replay(s, thresholds, settings.semantic_candidates) for s in ecb_streams]
            pairwise, bcubed = mean_f1(runs)
            print(f"{label:<28} {pairwise:.3f} / {bcubed:.3f}")
        dense = _dense(list(ecb_prepared.values()))
        print(f"{args.ecbplus.name} as a dense stream: pairwise precision / recall / F1")
        undated_years = {"year_conflict_weight": 0.0, "year_mismatch_weight": 0.0}
        for label, changes in (("no bonus", {**shipped, "fresh_bonus": 0.0}), ("shipped", shipped), *chosen.items()):
            thresholds = dataclasses.replace(settings.thresholds, **changes, **undated_years)
            p, r, f = replay(dense, thresholds, settings.semantic_candidates).pairwise
            print(f"{label:<28} {p:.3f} / {r:.3f} / {f:.3f}")
    return 0


def _dense(articles: list[Prepared], seed: int = 7) -> list[Prepared]:
    """The articles re-dated as a dense stream (see the module's doc) and ordered by the new dates."""
    rng = random.Random(seed)
    start = dt.datetime(2020, 3, 1, tzinfo=dt.UTC)
    events = {label: start + dt.timedelta(days=rng.uniform(0, 14)) for label in sorted({a.label for a in articles})}
    dated = []
    for article in sorted(articles, key=lambda a: a.article_id):
        when = events[article.label] + dt.timedelta(days=rng.uniform(0, 2))
        dated.append(dataclasses.replace(article, probe=dataclasses.replace(article.probe, published=when)))
    return sorted(dated, key=lambda a: a.probe.published)


if __name__ == "__main__":
    sys.exit(main())
