"""Fit the same-event decision's logistic weights on a labelled stream, as articles come in.

    .venv/bin/python bench/fit_decision.py --dataset ../shared/eval/ecbplus_dev.jsonl [--shuffles 5]
        [--embedding-cache FILE.npz] [--folds K] [--search N] [--diagnose]

Streams the labelled articles through the real detector (file order, or N seeded
shuffles) and records, for every article, the evidence against each candidate
cluster (entity cosine, lead cosine, year conflict, year mismatch, time) with whether
the cluster's gold event (its members' majority) is the article's. A logistic
regression (Newton's method; time, the freshness bonus less the time penalty, as a
fixed offset) gives the weights; it prints them with the current ones and the
log-likelihood of both on the same evidence, which is the baseline.

With --folds K it asks whether the weights carry over to news they were not fitted
on: the dataset's topics (its `topic` field; each ECB+ topic holds two events of one
kind, so a topic's hard negatives stay together) are dealt into K folds, the weights
are fitted on the streams of the other folds' articles, and each fold's articles are
then streamed through the detector with those weights and, as the baseline in the
same run, with the current ones, which were fitted on every topic.

With --search N it asks what the streams themselves reward: N random settings around
the current ones (the weights, the merge threshold and the settled size) are each scored by the mean
pairwise F1 over the streams, replayed in memory (`samestory.replay`: the detector's
own decision over what its store and indexes would answer, about a second a stream
instead of a minute), and the best are printed under the current settings' figures.
That is in-sample: a bound on these features, not weights to ship. With --folds K as
well, each fold's setting is the one the other folds' streams score best, and the
fold's own streams score it, with the current settings as the baseline.

With --diagnose it says where the current decision goes wrong: the replayed streams'
pairs by topic (right, wrong within the topic, missed; wrong across topics), the
pairwise F1 if the worst topics' wrong pairs, every wrong pair or every missed pair were
mended, what the decision does when the clusters before each article are exactly the
gold events (`samestory.replay.decide_given_events`): its own errors, apart from the ones
that follow from an earlier wrong join, and each topic's two events as whole clusters
weighed against each other: where they reach the merge threshold, the evidence the
decision uses cannot keep them apart once both have grown.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from samestory.config import Settings
from samestory.decide import ClusterEvidence
from samestory.detector import Detector
from samestory.evaluate import CachingEmbedder, Labelled, PairCounts, Quality, pair_counts, read_dataset, run_detector
from samestory.evaluate import orders as evaluation_orders
from samestory.profile import Profile, sums_cosine
from samestory.replay import GIVEN_OUTCOMES, Prepared, decide_given_events, prepare, replay, replay_clusters
from samestory.server import load_embedder
from samestory.store import open_store

FEATURES = ("intercept", "entity_weight", "lead_weight", "year_conflict_weight", "year_mismatch_weight")


def collect(rows, settings: Settings, embedder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, offsets, labels) of every (article, candidate cluster) met in one stream."""
    gold = {r.article.article_id: r.label for r in rows}
    members: dict[str, Counter] = {}
    seen: list[tuple[str, ClusterEvidence]] = []

    class Recording(Detector):
        def _cluster_evidence(self, prep, ranks):
            evidence = super()._cluster_evidence(prep, ranks)
            seen.extend((prep.article.article_id, ev) for ev in evidence.values())
            return evidence

    features, offsets, labels = [], [], []
    with fresh_detector(settings, embedder, Recording) as detector:
        for row in rows:
            seen.clear()
            decision = detector.ingest(row.article)
            for article_id, ev in seen:
                majority = members.get(ev.cluster_id, Counter()).most_common(1)
                if not majority:
                    continue
                dates = (float(ev.year_conflict), float(ev.year_mismatch))
                features.append((1.0, ev.entity_similarity, ev.lead_similarity, *dates))
                offsets.append(ev.time_term(settings.thresholds))
                labels.append(float(majority[0][0] == gold[article_id]))
            target = members.setdefault(decision.cluster_id, Counter())
            for merged in decision.merged:
                target.update(members.pop(merged, Counter()))
            target[row.label] += 1
    return np.array(features), np.array(offsets), np.array(labels)


@contextlib.contextmanager
def fresh_detector(settings: Settings, embedder, kind: type[Detector] = Detector) -> Iterator[Detector]:
    """A detector of `kind` on a throwaway data directory, closed and removed after use."""
    with tempfile.TemporaryDirectory() as tmp:
        run = dataclasses.replace(settings, data_dir=Path(tmp))
        detector = kind(run, open_store(run.data_dir), embedder)
        try:
            yield detector
        finally:
            detector.close()


def fit(x: np.ndarray, offset: np.ndarray, y: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w + offset)))
        gradient = x.T @ (y - p) - ridge * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-8:
            break
    return w


def log_likelihood(w: np.ndarray, x: np.ndarray, offset: np.ndarray, y: np.ndarray) -> float:
    z = x @ w + offset
    return float(np.sum(y * z - np.logaddexp(0, z)))


def orders(rows: list[Labelled], shuffles: int) -> list[list[Labelled]]:
    """File order alone, or N seeded shuffles: the streams `samestory eval --shuffles N` runs."""
    return [ordered for _, ordered in evaluation_orders(rows, shuffles)]


def fit_streams(streams: list[list[Labelled]], settings: Settings, embedder) -> tuple[np.ndarray, ...]:
    """(features, offsets, labels) of every stream, and the weights fitted on them."""
    parts = [collect(stream, settings, embedder) for stream in streams]
    x, offset, y = (np.concatenate(p) for p in zip(*parts, strict=True))
    return x, offset, y, fit(x, offset, y)


def with_weights(settings: Settings, weights: np.ndarray) -> Settings:
    fitted = dict(zip(FEATURES, (round(float(w), 3) for w in weights), strict=True))
    return dataclasses.replace(settings, thresholds=dataclasses.replace(settings.thresholds, **fitted))


def need_topics(args: argparse.Namespace, rows: list[Labelled], option: str) -> None:
    if any(r.topic is None for r in rows):
        raise SystemExit(f"{args.dataset}: {option} needs a `topic` field on every line")


def topic_folds(args: argparse.Namespace, rows: list[Labelled]) -> list[tuple[list[Labelled], list[Labelled]]]:
    """(the other folds' rows, the fold's rows) for each of K folds of the dataset's topics."""
    need_topics(args, rows, "--folds")
    names = sorted({str(r.topic) for r in rows})
    if args.folds > len(names):
        raise SystemExit(f"{args.dataset}: {len(names)} topics cannot fill {args.folds} folds")
    random.Random(0).shuffle(names)
    fold_of = {name: n % args.folds for n, name in enumerate(names)}
    return [
        ([r for r in rows if fold_of[str(r.topic)] != fold], [r for r in rows if fold_of[str(r.topic)] == fold])
        for fold in range(args.folds)
    ]


def mean_f1(qualities: Iterable[Quality]) -> tuple[float, float]:
    """The mean pairwise and B-cubed F1 of several runs."""
    runs = list(qualities)
    return float(np.mean([q.pairwise[2] for q in runs])), float(np.mean([q.bcubed[2] for q in runs]))


def held_out(args: argparse.Namespace, rows: list[Labelled], settings: Settings, embedder) -> None:
    """Fit on K-1 folds of topics, stream the K-th with those weights and with the current ones."""
    folds = topic_folds(args, rows)
    current = np.array([getattr(settings.thresholds, name) for name in FEATURES])
    print(
        f"{args.dataset.name}: {len({str(r.topic) for r in rows})} topics in {args.folds} folds; "
        "weights fitted on the other folds' "
        f"{'file order' if args.shuffles == 0 else f'{args.shuffles} shuffles'}, "
        "each fold streamed in the same orders"
    )
    print(f"{'fold':<5} {'articles':>8} {'weights: ' + ', '.join(FEATURES):<58} {'pairwise F1':>18} {'B-cubed F1':>18}")
    scores: dict[str, list[tuple[float, float]]] = {"held out": [], "current": []}
    for fold, (train, test) in enumerate(folds):
        *_, weights = fit_streams(orders(train, args.shuffles), settings, embedder)
        for name, w in (("held out", weights), ("current", current)):
            runs = [run_detector(o, with_weights(settings, w), embedder, name)[0] for o in orders(test, args.shuffles)]
            pf, bf = mean_f1(r.quality for r in runs)
            scores[name].append((pf, bf))
            shown = " ".join(f"{v:6.2f}" for v in w)
            print(f"{fold:<5} {len(test):>8} {name + ': ' + shown:<58} {pf:>18.3f} {bf:>18.3f}")
    for name, values in scores.items():
        pf, bf = (float(np.mean(v)) for v in zip(*values, strict=True))
        print(f"mean over folds, {name} weights: pairwise F1 {pf:.3f}, B-cubed F1 {bf:.3f}")


SEARCHED = ("intercept", "entity_weight", "lead_weight", "year_mismatch_weight", "merge", "settled_size")


def random_settings(th, count: int) -> list[dict[str, float]]:
    """`count` settings of the searched knobs around the current ones, reproducibly."""
    rng = random.Random(0)
    return [
        {
            "intercept": th.intercept + rng.uniform(-2, 2),
            "entity_weight": th.entity_weight * rng.uniform(0.6, 1.6),
            "lead_weight": th.lead_weight * rng.uniform(0.3, 2.5),
            "year_mismatch_weight": rng.uniform(-4, 0),
            "merge": rng.choice([0.7, 0.8, 0.9, 0.95, 1.01]),
            "settled_size": rng.choice([2, 3, 4, 6, 10, 1_000_000]),
        }
        for _ in range(count)
    ]


def prepared_rows(rows: list[Labelled], settings: Settings, embedder, cache: Path | None = None) -> dict[str, Prepared]:
    """Each article as the detector prepares it, by id, for the replays; with `cache`, the
    embeddings are read from that .npz where it has them, and what was embedded is saved to it."""
    if cache is not None:
        embedder = CachingEmbedder(embedder, cache)
    try:
        with fresh_detector(settings, embedder) as detector:
            return {p.article_id: p for p in prepare(detector, rows)}
    finally:
        if cache is not None:
            embedder.save()


def replay_streams(prepared: dict[str, Prepared], rows: list[Labelled], shuffles: int) -> list[list[Prepared]]:
    """The prepared articles of `rows` in the orders `samestory eval` streams them."""
    return [[prepared[r.article.article_id] for r in stream] for stream in orders(rows, shuffles)]


def search(args: argparse.Namespace, rows: list[Labelled], settings: Settings, embedder) -> None:
    """Random settings around the current ones, scored on the replayed streams; the current first.

    With folds, each fold's best is the one the other folds' streams score highest, and the fold's
    own streams then score it and the current settings."""
    prepared = prepared_rows(rows, settings, embedder)
    th = settings.thresholds
    current = {n: getattr(th, n) for n in SEARCHED}
    tried = random_settings(th, args.search)

    def scored(streams: list[list[Prepared]], changes: dict[str, float]) -> tuple[float, float, float]:
        thresholds = dataclasses.replace(th, **changes)
        runs = [replay(stream, thresholds, settings.semantic_candidates) for stream in streams]
        pairwise = [q.pairwise[2] for q in runs]
        pf, bf = mean_f1(runs)
        return pf, max(pairwise) - min(pairwise), bf

    streams = 1 if args.shuffles == 0 else args.shuffles
    print(f"{args.dataset.name}: {streams} streams replayed, {args.search} random settings")
    print(
        f"{'settings':<18} {'pairwise F1':>11} {'spread':>7} {'B-cubed F1':>10}  "
        + " ".join(f"{n:>20}" for n in SEARCHED)
    )

    def show(label: str, result: tuple[float, float, float], values: dict[str, float]) -> None:
        pf, spread, bf = result
        print(f"{label:<18} {pf:11.3f} {spread:7.3f} {bf:10.3f}  " + " ".join(f"{values[n]:20.3f}" for n in SEARCHED))

    if not args.folds:
        everything = replay_streams(prepared, rows, args.shuffles)
        ranked = sorted(((scored(everything, c), c) for c in tried), key=lambda t: -t[0][0])
        show("current", scored(everything, current), current)
        for n, (result, changes) in enumerate(ranked[:5]):
            show(f"best {n + 1}", result, changes)
        return
    held: dict[str, list[tuple[float, float, float]]] = {"held out": [], "current": []}
    for fold, (train, test) in enumerate(topic_folds(args, rows)):
        train_streams, test_streams = (replay_streams(prepared, part, args.shuffles) for part in (train, test))
        best = max(tried, key=lambda c: scored(train_streams, c)[0])
        for name, changes in (("held out", best), ("current", current)):
            result = scored(test_streams, changes)
            held[name].append(result)
            show(f"fold {fold}, {name}", result, changes)
    for name, results in held.items():
        pf, _, bf = (float(np.mean(v)) for v in zip(*results, strict=True))
        print(f"mean over folds, {name} settings: pairwise F1 {pf:.3f}, B-cubed F1 {bf:.3f}")


def diagnose(args: argparse.Namespace, rows: list[Labelled], settings: Settings, embedder) -> None:
    """Where the current decision's wrong pairs lie, by topic, and what it decides given the right clusters."""
    need_topics(args, rows, "--diagnose")
    prepared = prepared_rows(rows, settings, embedder)
    topic = {r.article.article_id: str(r.topic) for r in rows}
    events = {t: len({r.label for r in rows if str(r.topic) == t}) for t in set(topic.values())}
    th = settings.thresholds
    by_topic: dict[str | None, PairCounts] = {}
    given: Counter[str] = Counter()
    streams = replay_streams(prepared, rows, args.shuffles)
    for stream in streams:
        clusters = replay_clusters(stream, th, settings.semantic_candidates)
        gold = {a.article_id: a.label for a in stream}
        for name, counts in pair_counts(clusters, gold, topic).items():
            by_topic.setdefault(name, PairCounts()).add(counts)
        given.update(decide_given_events(stream, th))
    print(f"{args.dataset.name}: the current decision over {len(streams)} replayed streams, pairs summed over them")
    print(f"{'topic':<8} {'events':>6} {'right':>7} {'wrong':>7} {'missed':>7}")
    ranked = sorted((t for t in by_topic if t is not None), key=lambda t: -(by_topic[t].wrong + by_topic[t].missed))
    for name in ranked:
        c = by_topic[name]
        if c.wrong or c.missed:
            print(f"{name:<8} {events[name]:>6} {c.right:>7} {c.wrong:>7} {c.missed:>7}")
    print(f"{'across':<8} {'':>6} {'':>7} {by_topic[None].wrong:>7} {'':>7}  (wrong pairs of two topics)")
    total = PairCounts()
    for counts in by_topic.values():
        total.add(counts)

    def f1(right: int, wrong: int, missed: int) -> float:
        return 2 * right / (2 * right + wrong + missed) if right + wrong + missed else 1.0

    worst = [t for t in sorted(ranked, key=lambda t: -by_topic[t].wrong) if by_topic[t].wrong][:4]
    undone = total.wrong - sum(by_topic[t].wrong for t in worst)
    print(f"pairwise F1 of the pooled pairs {f1(total.right, total.wrong, total.missed):.3f}")
    if worst:
        print(f"  the wrong pairs of topics {', '.join(worst)} undone: {f1(total.right, undone, total.missed):.3f}")
    print(f"  every wrong pair undone (precision 1): {f1(total.right, 0, total.missed):.3f}")
    print(f"  every missed pair joined (recall 1): {f1(total.right, total.wrong, 0):.3f}")
    decisions = sum(given[o] for o in GIVEN_OUTCOMES[:5])
    print(f"given the right clusters (each article against the gold events before it), {decisions} decisions:")
    for outcome in GIVEN_OUTCOMES:
        print(f"  {outcome:<38} {given[outcome]:>6}")
    events_as_wholes(prepared, topic, th)


def events_as_wholes(prepared: dict[str, Prepared], topic: dict[str, str], th) -> None:
    """Each topic's events as whole clusters against each other: the decision's probability when one
    event's profile (every member's names and figures, the centroid of their leads) is weighed against the
    other's as an article is weighed against a cluster, with no year or time evidence. Where two events reach
    `merge` so, no stream of these kinds of evidence keeps them apart once both have grown."""
    profiles: dict[str, Profile] = {}
    frequencies: Counter[str] = Counter()
    for article in prepared.values():
        profiles.setdefault(article.label, Profile()).add(article.lead, article.entity_counts, article.probe.published)
        frequencies.update(article.entity_counts.keys())

    labels: dict[str, list[str]] = {}
    for article in prepared.values():
        labels.setdefault(topic[article.article_id], [])
        if article.label not in labels[topic[article.article_id]]:
            labels[topic[article.article_id]].append(article.label)
    pairs = []
    for name, (first, second, *_) in ((t, ls) for t, ls in labels.items() if len(ls) >= 2):
        a, b = profiles[first], profiles[second]
        entity = sums_cosine(a.entities, b.entities, len(prepared), frequencies)
        lead = float(np.dot(a.lead_sum, b.lead_sum) / (np.linalg.norm(a.lead_sum) * np.linalg.norm(b.lead_sum)))
        ev = ClusterEvidence(first, 0, a.size, round(entity, 6), round(lead, 6))
        pairs.append((ev.probability(th), name, a.size, b.size, entity, lead))
    if not pairs:
        return
    print("each topic's first two events as whole clusters, one weighed against the other:")
    print(f"{'topic':<8} {'sizes':>7} {'entity':>7} {'lead':>6} {'probability':>11}")
    for p, name, size_a, size_b, entity, lead in sorted(pairs, reverse=True):
        print(f"{name:<8} {f'{size_a}/{size_b}':>7} {entity:7.2f} {lead:6.2f} {p:11.2f}")
    merge = sum(p >= th.merge for p, *_ in pairs)
    same = sum(p >= th.same_event for p, *_ in pairs)
    print(f"  {merge} of {len(pairs)} topics' two events reach merge ({th.merge}) against each other, ", end="")
    print(f"{same} reach same_event ({th.same_event})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--shuffles", type=int, default=0, help="N seeded shuffles instead of file order")
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--folds", type=int, default=0, help="K folds of topics: fit on K-1, evaluate on the last")
    parser.add_argument("--search", type=int, default=0, help="score N random settings on the replayed streams")
    parser.add_argument("--diagnose", action="store_true", help="the current decision's wrong pairs by topic")
    args = parser.parse_args()
    if args.folds == 1 or args.folds < 0:
        parser.error("--folds needs at least 2 folds")

    rows = read_dataset(args.dataset)
    settings = Settings.load(env={}, data_dir=Path(tempfile.gettempdir()))
    embedder = load_embedder(settings)
    if args.embedding_cache:
        embedder = CachingEmbedder(embedder, args.embedding_cache)
    try:
        if args.diagnose:
            diagnose(args, rows, settings, embedder)
            return 0
        if args.search:
            search(args, rows, settings, embedder)
            return 0
        if args.folds:
            held_out(args, rows, settings, embedder)
            return 0
        x, offset, y, fitted = fit_streams(orders(rows, args.shuffles), settings, embedder)
    finally:
        if args.embedding_cache:
            embedder.save()
    current = np.array([getattr(settings.thresholds, name) for name in FEATURES])
    streams = 1 if args.shuffles == 0 else args.shuffles
    print(
        f"{args.dataset.name}: {len(y)} (article, candidate cluster) pairs over {streams} streams, "
        f"{int(y.sum())} of the article's own event; {int(x[:, 3].sum())} with a year conflict "
        f"({int((x[:, 3] * y).sum())} of them the article's own event)"
    )
    print(f"{'weight':<22} {'current':>9} {'fitted':>9}")
    for name, a, b in zip(FEATURES, current, fitted, strict=True):
        print(f"{name:<22} {a:9.3f} {b:9.3f}")
    before, after = log_likelihood(current, x, offset, y), log_likelihood(fitted, x, offset, y)
    print(f"log-likelihood: current {before:.1f}, fitted {after:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
