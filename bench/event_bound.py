"""How far the same-event evidence goes with hindsight: every article known at once, clustered as a whole.

    .venv/bin/python bench/event_bound.py --dataset ../shared/eval/ecbplus_dev.jsonl
        [--embedding-cache FILE.npz] [--deals 3] [--shuffles 5]

The stream decides each article once, against the clusters before it, with weights fitted
on the evidence met as the articles came in. This asks what the same kinds of evidence could
do with none of those limits. Every pair of articles gets a probability of being one event
from a logistic regression over pair evidence: the kinds the decision uses (the TF-IDF cosine
of the two articles' names and figures, counted as the decision counts them, the idf over the
whole set; the cosine of their headline-and-lead vectors), and in further rows one more kind
each: the document vectors' cosine, a TF-IDF cosine over all the words or over word bigrams
(headline and cleaned text), and the two articles' neighbourhood density (each one's mean
cosine with its 10 nearest articles of the whole set, summed: a correction for crowded
topics, CSLS in the word-translation literature, which only hindsight can give). The articles
are then clustered by average and by complete linkage on one less that probability, cut where
pairwise F1 is highest.

In-sample, the weights and the cut are chosen on the very pairs they are scored on: a bound
no stream of these kinds of evidence can pass. Held out, the dataset's topics (its `topic`
field; a topic's two events of one kind stay together) are dealt into two halves, --deals
times with different seeds; the weights, the linkage and the cut are chosen on one half and
scored on the other, both ways. The baseline in the same run: the shipped streaming decision
replayed (`samestory.replay`) over file order and --shuffles seeded orders of the same articles.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fit_decision import need_topics, prepared_rows, replay_streams
from samestory.config import Settings
from samestory.evaluate import Labelled, Quality, quality, read_dataset
from samestory.profile import idf, term_weights
from samestory.replay import Prepared, replay
from samestory.server import load_embedder
from samestory.text import clean
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import csr_matrix
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

DECISION = ("names and figures", "lead")
ROWS = (
    ("the decision's kinds: names and figures, lead", DECISION),
    ("+ document cosine", (*DECISION, "document")),
    ("+ all words, TF-IDF cosine", (*DECISION, "words")),
    ("+ word bigrams, TF-IDF cosine", (*DECISION, "bigrams")),
    ("+ neighbourhood density (hindsight only)", (*DECISION, "density")),
)
LINKAGES = ("average", "complete")
CUTS = np.round(np.arange(0.01, 1.0, 0.01), 2)  # on the distance, one less the pair's probability
NEIGHBOURS = 10


def pair_evidence(rows: Sequence[Labelled], prepared: dict[str, Prepared]) -> dict[str, np.ndarray]:
    """Each kind of pair evidence as an articles-by-articles matrix, in the order of `rows`."""
    articles = [prepared[r.article.article_id] for r in rows]
    texts = [f"{r.article.title}\n{clean(r.article.text).body}" for r in rows]
    lead, document = (_unit(np.array([getattr(a, kind) for a in articles])) for kind in ("lead", "vector"))
    lead_cosine = lead @ lead.T
    nearest = np.sort(lead_cosine - 2 * np.eye(len(articles)), axis=1)[:, -NEIGHBOURS:].mean(axis=1)
    return {
        "names and figures": _entity_cosine(articles),
        "lead": lead_cosine,
        "document": document @ document.T,
        "words": _tfidf_cosine(texts, (1, 1)),
        "bigrams": _tfidf_cosine(texts, (2, 2)),
        "density": nearest[:, None] + nearest[None, :],
    }


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _entity_cosine(articles: Sequence[Prepared]) -> np.ndarray:
    """The TF-IDF cosine of two articles' names and figures, weighed as the decision weighs them."""
    frequencies = Counter(term for a in articles for term in a.entity_counts)
    vocabulary = {term: n for n, term in enumerate(sorted(frequencies))}
    cells, columns, values = [], [], []
    for row, article in enumerate(articles):
        for term, weight in term_weights(article.entity_counts).items():
            cells.append(row)
            columns.append(vocabulary[term])
            values.append(weight * idf(len(articles), frequencies[term]))
    matrix = normalize(csr_matrix((values, (cells, columns)), shape=(len(articles), len(vocabulary))))
    return (matrix @ matrix.T).toarray()


def _tfidf_cosine(texts: Sequence[str], ngrams: tuple[int, int]) -> np.ndarray:
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=ngrams).fit_transform(texts)
    return (matrix @ matrix.T).toarray()


@dataclass(frozen=True)
class Cut:
    linkage: str
    distance: float
    quality: Quality


class Bound:
    """Pair probabilities and hindsight clusterings over a subset of the articles."""

    def __init__(self, evidence: dict[str, np.ndarray], ids: Sequence[str], labels: Sequence[str]) -> None:
        self.evidence, self.ids, self.labels = evidence, list(ids), np.array(labels)

    def _pairs(self, kinds: Sequence[str], members: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
        upper = np.triu_indices(len(members), 1)
        block = np.ix_(members, members)
        features = np.stack([self.evidence[kind][block][upper] for kind in kinds], axis=1)
        same = (self.labels[members][:, None] == self.labels[members][None, :])[upper]
        return features, same, upper

    def fit(self, kinds: Sequence[str], members: np.ndarray) -> LogisticRegression:
        features, same, _ = self._pairs(kinds, members)
        return LogisticRegression(C=100.0, max_iter=2000).fit(features, same)

    def cuts(
        self,
        model: LogisticRegression,
        kinds: Sequence[str],
        members: np.ndarray,
        linkages: Sequence[str] = LINKAGES,
        distances: Sequence[float] = CUTS,
    ) -> list[Cut]:
        """The members clustered by each of `linkages` on the model's probabilities, cut at each of `distances`."""
        features, _, upper = self._pairs(kinds, members)
        distance = np.zeros((len(members), len(members)))
        distance[upper] = 1.0 - model.predict_proba(features)[:, 1]
        condensed = squareform(distance + distance.T, checks=False)
        ids = [self.ids[m] for m in members]
        gold = {i: str(self.labels[m]) for i, m in zip(ids, members, strict=True)}
        out = []
        for method in linkages:
            tree = linkage(condensed, method)
            for cut in distances:
                clusters = fcluster(tree, cut, "distance")
                out.append(Cut(method, float(cut), quality(dict(zip(ids, map(str, clusters), strict=True)), gold)))
        return out


def best(cuts: Sequence[Cut], method: str | None = None) -> Cut:
    return max((c for c in cuts if method in (None, c.linkage)), key=lambda c: c.quality.pairwise[2])


def halves(rows: Sequence[Labelled], deals: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(one half, the other) of the row positions, the topics dealt at random, `deals` times, both ways."""
    names = sorted({str(r.topic) for r in rows})
    out = []
    for deal in range(deals):
        random.Random(deal).shuffle(names)
        first = set(names[: len(names) // 2])
        a = np.array([n for n, r in enumerate(rows) if str(r.topic) in first])
        b = np.array([n for n, r in enumerate(rows) if str(r.topic) not in first])
        out += [(a, b), (b, a)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--deals", type=int, default=3, help="deals of the topics into two halves, held out")
    parser.add_argument("--shuffles", type=int, default=5, help="seeded orders the streamed baseline replays")
    args = parser.parse_args()
    rows = read_dataset(args.dataset)
    need_topics(args, rows, "the held-out bound")
    settings = Settings.load(env={}, data_dir=Path(tempfile.gettempdir()))
    prepared = prepared_rows(rows, settings, load_embedder(settings), args.embedding_cache)

    streamed = [replay(s, settings.thresholds, settings.semantic_candidates) for s in replay_streams(prepared, rows, 0)]
    shuffled = [
        replay(s, settings.thresholds, settings.semantic_candidates)
        for s in replay_streams(prepared, rows, args.shuffles)
    ]
    print(f"{args.dataset.name}: {len(rows)} articles, {len({r.label for r in rows})} events")
    print(
        f"the shipped decision, streamed: file order pairwise F1 {streamed[0].pairwise[2]:.3f}, "
        f"B-cubed {streamed[0].bcubed[2]:.3f}; {args.shuffles} shuffles "
        f"{np.mean([q.pairwise[2] for q in shuffled]):.3f}, {np.mean([q.bcubed[2] for q in shuffled]):.3f}"
    )
    bound = Bound(pair_evidence(rows, prepared), [r.article.article_id for r in rows], [r.label for r in rows])
    everyone = np.arange(len(rows))
    split = halves(rows, args.deals)
    print(
        f"with hindsight, pairwise F1 / B-cubed F1; held out: mean over {len(split)} halves "
        f"({args.deals} deals of the topics), weights, linkage and cut chosen on the other half"
    )
    print(f"{'evidence':<44} {'in-sample average':>18} {'in-sample complete':>19} {'held out':>14}")
    for label, kinds in ROWS:
        cuts = bound.cuts(bound.fit(kinds, everyone), kinds, everyone)
        in_sample = [best(cuts, method).quality for method in LINKAGES]
        held = []
        for train, test in split:
            model = bound.fit(kinds, train)
            chosen = best(bound.cuts(model, kinds, train))
            (scored,) = bound.cuts(model, kinds, test, [chosen.linkage], [chosen.distance])
            held.append(scored.quality)
        pairwise, bcubed = (float(np.mean([getattr(q, kind)[2] for q in held])) for kind in ("pairwise", "bcubed"))
        shown = " ".join(f"{q.pairwise[2]:>9.3f} / {q.bcubed[2]:.3f}" for q in in_sample)
        print(f"{label:<44} {shown} {pairwise:>6.3f} / {bcubed:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
