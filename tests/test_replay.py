"""The in-memory replay of the decision gives the clusters the detector gives."""

import dataclasses

import pytest
from samestory.config import Settings
from samestory.detector import Detector
from samestory.evaluate import Labelled, read_dataset
from samestory.nearcopies import edited_copy
from samestory.records import ArticleIn
from samestory.replay import prepare, replay, replay_clusters
from samestory.store import open_store

from .conftest import DATA


def _rows() -> list[Labelled]:
    """The seeds and four other events, an edited copy of each (near-duplicates), one exact copy, and
    two seeds in one text (a near-duplicate of both: it merges their clusters where they are apart)."""
    rows = read_dataset(DATA / "labelled_small.jsonl")
    copies = []
    for n, row in enumerate(rows):
        copy = edited_copy(row.article.title, row.article.text, seed=n)
        article = ArticleIn(article_id=f"{row.article.article_id}-copy", title=copy.title, text=copy.text)
        copies.append(Labelled(article, row.label))
    exact = dataclasses.replace(rows[0].article, article_id="exact-copy")
    joined = ArticleIn(article_id="joined", title="", text=f"{rows[0].article.text}\n{rows[1].article.text}")
    return [*rows, *copies, Labelled(exact, rows[0].label), Labelled(joined, rows[0].label)]


def _groups(clusters: dict[str, str]) -> set[frozenset[str]]:
    by_cluster: dict[str, set[str]] = {}
    for article_id, cluster_id in clusters.items():
        by_cluster.setdefault(cluster_id, set()).add(article_id)
    return {frozenset(g) for g in by_cluster.values()}


# The shipped decision; one that joins and merges nearly everything; one that joins almost nothing.
SETTINGS = {
    "shipped": {},
    "permissive": {"same_event": 0.001, "merge": 0.002, "semantic_floor": -1.0},
    "strict": {"same_event": 0.99, "merge": 0.999},
}


@pytest.mark.parametrize("name", SETTINGS)
def test_a_replay_clusters_as_the_detector_does(name, tmp_path, embedder):
    base = Settings.load(env={}, data_dir=tmp_path / "unused")
    thresholds = dataclasses.replace(base.thresholds, **SETTINGS[name])
    settings = dataclasses.replace(base, thresholds=thresholds, data_dir=tmp_path / "detector")
    rows = _rows()

    detector = Detector(settings, open_store(settings.data_dir), embedder)
    try:
        decisions = [detector.ingest(row.article) for row in rows]
        stored = {row.article.article_id: detector.store.by_id(row.article.article_id).cluster_id for row in rows}
    finally:
        detector.close()
    preparer = Detector(
        dataclasses.replace(settings, data_dir=tmp_path / "prep"), open_store(tmp_path / "prep"), embedder
    )
    try:
        prepared = prepare(preparer, rows)
    finally:
        preparer.close()

    replayed = replay_clusters(prepared, thresholds, settings.semantic_candidates)
    assert _groups(replayed) == _groups(stored)
    events = len({r.label for r in rows})
    if name == "permissive":  # joins that the shipped decision would not make
        assert len(_groups(stored)) < events
    if name == "strict":  # a merge, and clusters kept apart that the shipped decision would join
        assert any(d.merged for d in decisions)
        assert len(_groups(stored)) > events
    quality = replay(prepared, thresholds, settings.semantic_candidates)
    assert quality.clusters == len(_groups(stored))
