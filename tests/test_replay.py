"""The in-memory replay of the decision gives the clusters the detector gives."""

import dataclasses

import pytest
from samestory.config import Settings
from samestory.detector import Detector
from samestory.evaluate import Labelled, read_dataset
from samestory.nearcopies import edited_copy
from samestory.records import ArticleIn
from samestory.replay import GIVEN_OUTCOMES, decide_given_events, prepare, replay, replay_clusters
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


def _prepared(settings: Settings, data_dir, rows: list[Labelled], embedder):
    """The rows as a detector on `data_dir` prepares them."""
    detector = Detector(dataclasses.replace(settings, data_dir=data_dir), open_store(data_dir), embedder)
    try:
        return prepare(detector, rows)
    finally:
        detector.close()


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
    prepared = _prepared(settings, tmp_path / "prep", rows, embedder)

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


def test_decisions_given_the_right_clusters(tmp_path, embedder):
    settings = Settings.load(env={}, data_dir=tmp_path)
    rows = _rows()
    prepared = _prepared(settings, tmp_path, rows, embedder)
    events = len({r.label for r in rows})
    first, joins_another = "first of its event, new story", "first of its event, joins another"

    shipped = decide_given_events(prepared, settings.thresholds)
    assert sum(shipped[o] for o in GIVEN_OUTCOMES[:5]) == len(rows)
    assert shipped[first] == events and shipped[joins_another] == shipped["joins another event"] == 0
    assert shipped["joins its own event"] == len(rows) - events  # the copies and the seeds' rewrites

    never = decide_given_events(prepared, dataclasses.replace(settings.thresholds, same_event=1.01, merge=1.01))
    assert never[first] == events and never["new story, its event already there"] == len(rows) - events
    assert never["would merge its event with another"] == 0

    # Joining whatever is there: only the stream's first article starts a story, each later first of
    # its event joins another, and every article whose event has a cluster beside another would merge.
    always = decide_given_events(prepared, dataclasses.replace(settings.thresholds, same_event=0.0, merge=0.0))
    assert always[first] == 1 and always[joins_another] == events - 1
    assert always["new story, its event already there"] == 0
    assert always["joins its own event"] + always["joins another event"] == len(rows) - events
    assert always["would merge its event with another"] > 0
    # Unless every story counts as settled and settled ones never merge.
    settled = dataclasses.replace(settings.thresholds, same_event=0.0, merge=0.0, settled_size=1, settled_merge=1.01)
    assert decide_given_events(prepared, settled)["would merge its event with another"] == 0

    # A decision that prefers what is least alike joins other events wherever there is one.
    unlike = dataclasses.replace(settings.thresholds, same_event=0.0, entity_weight=-20.0, lead_weight=-20.0)
    perverse = decide_given_events(prepared, unlike)
    assert perverse["joins another event"] > 0
    assert perverse["joins its own event"] + perverse["joins another event"] == len(rows) - events
