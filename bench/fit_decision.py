"""Fit the same-event decision's logistic weights on a labelled stream, as articles come in.

    .venv/bin/python bench/fit_decision.py --dataset ../shared/eval/ecbplus_dev.jsonl [--shuffles 5]
        [--embedding-cache FILE.npz]

Streams the labelled articles through the real detector (file order, or N seeded
shuffles) and records, for every article, the evidence against each candidate
cluster (entity cosine, lead cosine, year conflict, year mismatch, time penalty) with whether
the cluster's gold event (its members' majority) is the article's. A logistic
regression (Newton's method, the time penalty as a fixed offset) gives the
weights; it prints them with the current ones and the log-likelihood of both
on the same evidence, which is the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from samestory.config import Settings
from samestory.decide import ClusterEvidence
from samestory.detector import Detector
from samestory.evaluate import CachingEmbedder, read_dataset
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
    with tempfile.TemporaryDirectory() as tmp:
        run = dataclasses.replace(settings, data_dir=Path(tmp))
        detector = Recording(run, open_store(run.data_dir), embedder)
        try:
            for row in rows:
                seen.clear()
                decision = detector.ingest(row.article)
                for article_id, ev in seen:
                    majority = members.get(ev.cluster_id, Counter()).most_common(1)
                    if not majority:
                        continue
                    dates = (float(ev.year_conflict), float(ev.year_mismatch))
                    features.append((1.0, ev.entity_similarity, ev.lead_similarity, *dates))
                    offsets.append(-ev.penalty(run.thresholds))
                    labels.append(float(majority[0][0] == gold[article_id]))
                target = members.setdefault(decision.cluster_id, Counter())
                for merged in decision.merged:
                    target.update(members.pop(merged, Counter()))
                target[row.label] += 1
        finally:
            detector.close()
    return np.array(features), np.array(offsets), np.array(labels)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--shuffles", type=int, default=0, help="N seeded shuffles instead of file order")
    parser.add_argument("--embedding-cache", type=Path)
    args = parser.parse_args()

    rows = read_dataset(args.dataset)
    settings = Settings.load(env={}, data_dir=Path(tempfile.gettempdir()))
    embedder = load_embedder(settings)
    if args.embedding_cache:
        embedder = CachingEmbedder(embedder, args.embedding_cache)
    orders = [rows] if args.shuffles == 0 else []
    for n in range(args.shuffles):
        shuffled = list(rows)
        random.Random(n).shuffle(shuffled)
        orders.append(shuffled)
    parts = [collect(order, settings, embedder) for order in orders]
    if args.embedding_cache:
        embedder.save()
    x, offset, y = (np.concatenate(p) for p in zip(*parts, strict=True))
    th = settings.thresholds
    current = np.array([getattr(th, name) for name in FEATURES])
    fitted = fit(x, offset, y)
    print(
        f"{args.dataset.name}: {len(y)} (article, candidate cluster) pairs over {len(orders)} streams, "
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
