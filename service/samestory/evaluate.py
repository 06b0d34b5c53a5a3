"""Clustering quality on labelled data: the detector against naive baselines, in one run.

`samestory eval DATASET.jsonl` streams the articles through the real detector
(a fresh data directory per run) and scores the final clusters against the
gold events. The baselines see the same articles in the same order, each at
the threshold that suits it best on this very data, so they are an upper
bound on what the naive method can do.

The labels may come in a file of their own (`--labels`): every article of the
dataset is streamed, as a real stream would bring them, and the figures are
those of the labelled ones, in the clusters the stream left them in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Settings
from .decide import Verdict
from .lexical import Hasher, LexicalParams, jaccard, shingles
from .nearcopies import edited_copy
from .records import ArticleIn
from .semantic import Embedder, Prefixes
from .text import clean, tokens

__all__ = [
    "Labelled",
    "NearDuplicateRecall",
    "PairCounts",
    "Quality",
    "evaluate",
    "gold_of",
    "near_duplicate_recall",
    "need_dates",
    "orders",
    "pair_counts",
    "quality",
    "read_dataset",
]

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Labelled:
    article: ArticleIn
    label: str | None  # the gold event; None: streamed but not scored (see `read_dataset`'s labels)
    topic: str | None = None  # a group of events (ECB+: two events of one kind), where the file gives one


@dataclass(frozen=True)
class Quality:
    pairwise: tuple[float, float, float]
    bcubed: tuple[float, float, float]
    clusters: int
    gold_clusters: int

    def row(self) -> str:
        p, b = self.pairwise, self.bcubed
        return (
            f"{p[0]:.3f} {p[1]:.3f} {p[2]:.3f}   {b[0]:.3f} {b[1]:.3f} {b[2]:.3f}   "
            f"{self.clusters:4d}/{self.gold_clusters}"
        )


@dataclass
class Run:
    name: str
    quality: Quality
    verdicts: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    articles: int = 0
    threshold: float | None = None
    # Near-duplicate verdicts between texts that share under half their shingles: rewrites, not copies.
    false_near_duplicates: list[tuple[str, str]] = field(default_factory=list)


def read_dataset(path: Path, labels: Path | None = None) -> list[Labelled]:
    """JSONL with id, title, text, date (ISO or null) and label (the gold event).

    With `labels`, the labels come from that JSONL instead (id and label, and optionally `sha1`, a
    prefix of the SHA-1 of the article's text as labelled): the dataset's articles need none, and
    those it leaves out are streamed but not scored. A labelled id the dataset lacks, or a text that
    is not the one labelled, is refused."""
    given = _read_labels(labels) if labels is not None else None
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            data = json.loads(line)
            if "text" not in data or "id" not in data or (given is None and "label" not in data):
                raise ValueError(f"{path}:{number}: each line needs id, text and label")
            published = None
            if data.get("date"):
                published = dt.datetime.fromisoformat(data["date"])
                if published.tzinfo is None:
                    published = published.replace(tzinfo=dt.UTC)
            article = ArticleIn(str(data["id"]), data["text"], title=data.get("title") or "", published=published)
            if given is None:
                label = str(data["label"])
            else:
                label, digest = given.pop(article.article_id, (None, None))
                if digest and not hashlib.sha1(article.text.encode("utf-8")).hexdigest().startswith(digest):
                    raise ValueError(f"{path}:{number}: the text of {article.article_id!r} is not the one labelled")
            topic = data.get("topic")
            rows.append(Labelled(article, label, None if topic is None else str(topic)))
    if given:
        raise ValueError(f"{labels}: {len(given)} labelled ids are not in {path}, such as {next(iter(given))!r}")
    return rows


def _read_labels(path: Path) -> dict[str, tuple[str, str | None]]:
    """id -> (label, SHA-1 prefix of the text or None) from a labels JSONL."""
    out = {}
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            data = json.loads(line)
            if "id" not in data or "label" not in data:
                raise ValueError(f"{path}:{number}: each line needs id and label")
            if str(data["id"]) in out:
                raise ValueError(f"{path}:{number}: {data['id']!r} is labelled twice")
            out[str(data["id"])] = (str(data["label"]), data.get("sha1"))
    return out


def gold_of(rows: Sequence[Labelled]) -> dict[str, str]:
    """The gold event of each labelled article, by id."""
    return {r.article.article_id: r.label for r in rows if r.label is not None}


# ----------------------------------------------------------------- metrics


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def quality(predicted: dict[str, str], gold: dict[str, str]) -> Quality:
    """Pairwise and B-cubed precision, recall and F1 of a clustering."""
    ids = list(gold)
    cells = Counter((predicted[i], gold[i]) for i in ids)
    pred_sizes = Counter(predicted[i] for i in ids)
    gold_sizes = Counter(gold[i] for i in ids)

    def pairs(n: int) -> int:
        return n * (n - 1) // 2

    together = sum(pairs(n) for n in cells.values())
    pred_pairs = sum(pairs(n) for n in pred_sizes.values())
    gold_pairs = sum(pairs(n) for n in gold_sizes.values())
    p = together / pred_pairs if pred_pairs else 1.0
    r = together / gold_pairs if gold_pairs else 1.0
    # B-cubed: per item, the share of its predicted cluster that shares its gold label, and vice versa.
    bp = sum(n * n / pred_sizes[c] for (c, _), n in cells.items()) / len(ids)
    br = sum(n * n / gold_sizes[g] for (_, g), n in cells.items()) / len(ids)
    return Quality((p, r, _f1(p, r)), (bp, br, _f1(bp, br)), len(pred_sizes), len(gold_sizes))


@dataclass
class PairCounts:
    """Pairs of articles by what a clustering did with them: put together and of one event (right),
    put together but of two events (wrong), or of one event but apart (missed)."""

    right: int = 0
    wrong: int = 0
    missed: int = 0

    def add(self, other: PairCounts) -> None:
        self.right += other.right
        self.wrong += other.wrong
        self.missed += other.missed


def pair_counts(predicted: dict[str, str], gold: dict[str, str], group: dict[str, str]) -> dict[str | None, PairCounts]:
    """The pairs behind pairwise precision and recall, by the group (an ECB+ topic) of their events.

    A wrong pair of two events of one group counts under that group; one of two groups under None.
    Summed over the groups, right / (right + wrong) is the precision and right / (right + missed) the
    recall `quality` gives."""

    def pairs(n: int) -> int:
        return n * (n - 1) // 2

    event_group = {gold[i]: group[i] for i in gold}
    out: dict[str | None, PairCounts] = {None: PairCounts()}
    for name in event_group.values():
        out.setdefault(name, PairCounts())
    members: dict[str, list[str]] = {}
    for article_id in gold:
        members.setdefault(predicted[article_id], []).append(article_id)
    together: Counter[str] = Counter()  # right pairs by event
    for ids in members.values():
        by_event = Counter(gold[i] for i in ids)
        by_group: Counter[str] = Counter()
        for event, n in by_event.items():
            together[event] += pairs(n)
            by_group[event_group[event]] += n
            out[event_group[event]].wrong -= pairs(n)  # the group's pairs below, less its right ones
        for name, n in by_group.items():
            out[name].wrong += pairs(n)
        out[None].wrong += pairs(len(ids)) - sum(pairs(n) for n in by_group.values())
    for event, size in Counter(gold.values()).items():
        out[event_group[event]].right += together[event]
        out[event_group[event]].missed += pairs(size) - together[event]
    return out


# --------------------------------------------------------------- baselines

_THRESHOLDS = [round(t, 2) for t in np.arange(0.05, 0.96, 0.05)]


def _single_pass(vectors: np.ndarray, threshold: float) -> list[int]:
    """Each item joins the cluster whose centroid is most similar, if above the threshold."""
    sums = np.zeros_like(vectors)
    units = np.zeros_like(vectors)
    count = 0
    assigned = []
    for v in vectors:
        if count:
            sims = units[:count] @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                sums[best] += v
                units[best] = sums[best] / (np.linalg.norm(sums[best]) or 1.0)
                assigned.append(best)
                continue
        sums[count] = v
        units[count] = v / (np.linalg.norm(v) or 1.0)
        assigned.append(count)
        count += 1
    return assigned


def _best(name: str, rows: Sequence[Labelled], assign: Callable[[float], list], thresholds: Iterable[float]) -> Run:
    gold = gold_of(rows)
    best: Run | None = None
    for t in thresholds:
        labels = assign(t)
        q = quality({r.article.article_id: str(c) for r, c in zip(rows, labels, strict=True)}, gold)
        if best is None or q.pairwise[2] > best.quality.pairwise[2]:
            best = Run(name, q, threshold=t)
    return best


def tfidf_single_pass(rows: Sequence[Labelled]) -> Run:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{r.article.title}\n{clean(r.article.text).body}" for r in rows]
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    dense = matrix.toarray().astype(np.float32)
    return _best("tf-idf single-pass", rows, lambda t: _single_pass(dense, t), _THRESHOLDS)


def embedding_single_pass(rows: Sequence[Labelled], vectors: np.ndarray) -> Run:
    return _best("embedding single-pass", rows, lambda t: _single_pass(vectors, t), _THRESHOLDS)


def minhash_components(rows: Sequence[Labelled], params: LexicalParams) -> Run:
    hasher = Hasher(params)
    sigs = [hasher.signature(tokens(clean(r.article.text).body)) for r in rows]
    n = len(sigs)
    sims = np.zeros((n, n), dtype=np.float32)
    for i in range(n):
        for j in range(i + 1, n):
            sims[i, j] = jaccard(sigs[i], sigs[j])

    def components(t: float) -> list[int]:
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for i, j in zip(*np.nonzero(sims >= t), strict=True):
            parent[find(int(i))] = find(int(j))
        return [find(i) for i in range(n)]

    return _best("minhash-lsh components", rows, components, _THRESHOLDS)


# ---------------------------------------------------------------- detector


class CachingEmbedder:
    """Wraps an embedder with an on-disk cache keyed by text, for repeated evaluation runs."""

    def __init__(self, embedder: Embedder, path: Path) -> None:
        self._embedder = embedder
        self.identity, self.dim = embedder.identity, embedder.dim
        self._path = path
        self._cache: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                self._cache = {k: data[k] for k in data.files}

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray:
        # A prefix's vector depends on the text it begins: both go into its key.
        of = dict(prefixes)
        keys = [
            hashlib.sha1(f"{self.identity}\0{t}\0{texts[of[i]] if i in of else ''}".encode()).hexdigest()
            for i, t in enumerate(texts)
        ]
        missing = {i for i, k in enumerate(keys) if k not in self._cache}
        missing = sorted(missing | {of[i] for i in missing if i in of})
        if missing:
            position = {row: n for n, row in enumerate(missing)}
            sub = [(position[i], position[of[i]]) for i in of if i in position]
            fresh = self._embedder.encode([texts[i] for i in missing], sub)
            for i, v in zip(missing, fresh, strict=True):
                self._cache[keys[i]] = v
        return np.vstack([self._cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def save(self) -> None:
        np.savez(self._path, **self._cache)


def run_detector(rows: Sequence[Labelled], settings: Settings, embedder: Embedder, name: str) -> tuple[Run, np.ndarray]:
    from .detector import Detector
    from .store import open_store

    with tempfile.TemporaryDirectory(prefix="samestory-eval-") as tmp:
        run_settings = dataclasses.replace(settings, data_dir=Path(tmp))
        detector = Detector(run_settings, open_store(run_settings.data_dir), embedder)
        verdicts: Counter = Counter()
        near: list[tuple[Labelled, str]] = []
        started = time.monotonic()
        for row, decision in zip(rows, detector.ingest_in_order(r.article for r in rows), strict=True):
            verdicts[decision.verdict.name] += 1
            if decision.verdict is Verdict.NEAR_DUPLICATE:
                near.append((row, decision.matches[0].article_id))
        seconds = time.monotonic() - started
        texts = {r.article.article_id: r.article.text for r in rows}
        false_near = [
            (row.article.article_id, other)
            for row, other in near
            if _true_containment(row.article.text, texts[other], settings.lexical.shingle_size) < 0.5
        ]
        records = {r.article.article_id: detector.store.by_id(r.article.article_id) for r in rows}
        predicted = {i: rec.cluster_id for i, rec in records.items()}
        vectors = {e.key: e.vector for e in detector.store.index_entries()}
        ordered = np.vstack([vectors[records[r.article.article_id].key] for r in rows])
        detector.close()
    run = Run(name, quality(predicted, gold_of(rows)), verdicts, seconds, len(rows), false_near_duplicates=false_near)
    return run, ordered


def _true_containment(a: str, b: str, size: int) -> float:
    """The exact share of the smaller text's shingles found in the other."""
    sa, sb = (shingles(tokens(clean(t).body), size) for t in (a, b))
    return len(sa & sb) / min(len(sa), len(sb)) if sa and sb else 0.0


_DUPLICATES = (Verdict.EXACT_DUPLICATE, Verdict.NEAR_DUPLICATE)


@dataclass(frozen=True)
class NearDuplicateRecall:
    copies: int
    near_duplicate: int
    exact_duplicate: int
    misses: tuple[tuple[str, tuple[str, ...], str], ...]

    @property
    def recall(self) -> float:
        return self.near_duplicate / self.copies if self.copies else 1.0


def near_duplicate_recall(
    rows: Sequence[Labelled], settings: Settings, embedder: Embedder, seed: int = 0
) -> NearDuplicateRecall:
    """Ingest the articles, then Check an edited copy of each: how many are called near-duplicates of it."""
    from .detector import Detector
    from .store import open_store

    near = exact = 0
    misses = []
    with tempfile.TemporaryDirectory(prefix="samestory-eval-") as tmp:
        detector = Detector(dataclasses.replace(settings, data_dir=Path(tmp)), open_store(Path(tmp)), embedder)
        for _ in detector.ingest_in_order(r.article for r in rows):
            pass
        for number, row in enumerate(rows):
            original = row.article
            copy = edited_copy(original.title, original.text, seed + number)
            decision = detector.check(
                ArticleIn(f"{original.article_id}~copy", copy.text, title=copy.title, published=original.published)
            )
            # The corpus has its own copies: a near-duplicate of the original's copy finds the original too.
            copies = {m.article_id for m in decision.matches if m.relation in _DUPLICATES}
            if decision.verdict is Verdict.NEAR_DUPLICATE and original.article_id in copies:
                near += 1
            else:
                if decision.verdict is Verdict.EXACT_DUPLICATE:
                    exact += 1
                misses.append((original.article_id, copy.edits, f"{decision.verdict.name}: {decision.reason}"))
        detector.close()
    return NearDuplicateRecall(len(rows), near, exact, tuple(misses))


def need_dates(rows: Sequence[Labelled]) -> None:
    """Refuse (ValueError) a dataset with an undated article: it cannot be streamed by date."""
    undated = [r.article.article_id for r in rows if r.article.published is None]
    if undated:
        raise ValueError(
            f"streaming by date needs every article's date; {len(undated)} have none, such as {undated[0]!r}"
        )


def orders(
    rows: Sequence[Labelled], shuffles: int = 0, seed: int = 0, by_date: bool = False
) -> list[tuple[str, list[Labelled]]]:
    """The streams an evaluation runs, named: file order alone, or `shuffles` seeded shuffles.

    `by_date` streams in publication order, as a real stream brings the articles (every article
    needs a date): file order breaks the ties (articles of one day), and each shuffle breaks them
    at random."""
    if by_date:
        need_dates(rows)
    if shuffles == 0:
        ordered = sorted(rows, key=lambda r: r.article.published) if by_date else list(rows)
        return [("date order" if by_date else "file order", ordered)]
    out = []
    for n in range(shuffles):
        shuffled = list(rows)
        random.Random(seed + n).shuffle(shuffled)
        if by_date:
            shuffled.sort(key=lambda r: r.article.published)  # stable: the shuffle breaks the ties
        out.append((f"shuffle {seed + n}", shuffled))
    return out


def evaluate(
    rows: Sequence[Labelled],
    settings: Settings,
    embedder: Embedder,
    shuffles: int = 0,
    seed: int = 0,
    by_date: bool = False,
) -> list[tuple[str, list[Run]]]:
    """Per order (file or date order, then each shuffle): the detector's run and the baselines'."""
    results = []
    for label, ordered in orders(rows, shuffles, seed, by_date):
        detector_run, vectors = run_detector(ordered, settings, embedder, "samestory")
        runs = [
            detector_run,
            tfidf_single_pass(ordered),
            embedding_single_pass(ordered, vectors),
            minhash_components(ordered, settings.lexical),
        ]
        results.append((label, runs))
    return results


def report(results: list[tuple[str, list[Run]]], dataset: str, rows: Sequence[Labelled]) -> str:
    gold = gold_of(rows)
    events = len(set(gold.values()))
    scored = f", {len(gold)} of them labelled" if len(gold) < len(rows) else ""
    lines = [
        f"dataset {dataset}: {len(rows)} articles, {events} gold events{scored}",
        f"{'order':<12} {'method':<24} {'pairwise P   R     F1':<21}   {'B-cubed P    R     F1':<21}   "
        f"clusters  threshold  articles/s  verdicts",
    ]
    for label, runs in results:
        for run in runs:
            speed = f"{run.articles / run.seconds:9.1f}" if run.seconds else " " * 9
            thr = f"{run.threshold:9.2f}" if run.threshold is not None else " " * 9
            verdicts = " ".join(f"{k}={v}" for k, v in sorted(run.verdicts.items()))
            lines.append(f"{label:<12} {run.name:<24} {run.quality.row()}  {thr}  {speed}   {verdicts}")
            if run.false_near_duplicates:
                pairs = ", ".join(f"{a}~{b}" for a, b in run.false_near_duplicates)
                lines.append(f"{'':<12} near-duplicate verdicts on rewrites (under half the shingles shared): {pairs}")
    if len(results) > 1:
        for index, name in enumerate(r.name for r in results[0][1]):
            pf = [runs[index].quality.pairwise[2] for _, runs in results]
            bf = [runs[index].quality.bcubed[2] for _, runs in results]
            lines.append(
                f"{'mean':<12} {name:<24} pairwise F1 {np.mean(pf):.3f} (spread {max(pf) - min(pf):.3f}), "
                f"B-cubed F1 {np.mean(bf):.3f} (spread {max(bf) - min(bf):.3f})"
            )
    return "\n".join(lines)
