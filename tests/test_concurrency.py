"""16 concurrent clients, each sending the same articles in its own shuffled order, end with
the same clusters as one client sending them in order: the writer lock makes every decision
see the ones before it, and idempotent ingest gives every client the same answer."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import pytest
from samestory.config import Settings
from samestory.detector import Detector
from samestory.errors import InvalidArticle
from samestory.nearcopies import edited_copy
from samestory.records import ArticleIn
from samestory.store import SQLiteStore
from samestory_client import SamestoryClient, make_article, pb

CLIENTS = 16


class _SlowReads:
    """The real store, with candidate reads made slow: a decision taken outside the writer lock
    would then surely race another one and split or duplicate a cluster."""

    def __init__(self, store) -> None:
        self._store = store

    def by_keys(self, keys):
        time.sleep(0.4)
        return self._store.by_keys(keys)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _articles(seed_texts, other_events) -> list[pb.Article]:
    originals = [(stem, "", text) for stem, text in sorted(seed_texts.items())]
    originals += [(e["id"], e["title"], e["text"]) for e in other_events]
    out = [make_article(article_id, text, title=title) for article_id, title, text in originals]
    for n, (article_id, title, text) in enumerate(originals):
        copy = edited_copy(title, text, seed=n)
        out.append(make_article(f"{article_id}-copy", copy.text, title=copy.title))
    return out


def _partition(client: SamestoryClient, articles: list[pb.Article]) -> set[frozenset[str]]:
    """The clusters as sets of article ids, whatever their ids."""
    members: dict[str, set[str]] = defaultdict(set)
    for article in articles:
        cluster_id = client.get_article(article.id).cluster_id
        members[client.get_cluster(cluster_id).cluster_id].add(article.id)
    return {frozenset(ids) for ids in members.values()}


def clusters_in_order(server, articles: list[pb.Article]) -> set[frozenset[str]]:
    """The clusters one client makes sending the articles one by one, in order."""
    with SamestoryClient(server.target, timeout=120) as client:
        for article in articles:
            client.ingest(article)
        expected = _partition(client, articles)
    server.stop()
    # The set has both sizes of cluster: otherwise any split or any merge would pass.
    assert 1 < len(expected) < len(articles)
    return expected


def ingest_concurrently(targets: list[str], orders: list[list[pb.Article]]) -> list[dict[str, tuple[int, str]]]:
    """One client per order, on targets[n % len(targets)], all starting together; each one's answers."""
    answers: list[dict[str, tuple[int, str]]] = [{} for _ in orders]
    errors: list[BaseException] = []
    start = threading.Barrier(len(orders))

    def run(n: int) -> None:
        try:
            with SamestoryClient(targets[n % len(targets)], timeout=300) as client:
                start.wait()
                for article in orders[n]:
                    decision = client.ingest(article)
                    answers[n][article.id] = (decision.verdict, decision.cluster_id)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not errors, errors
    return answers


def test_concurrent_shuffled_clients_make_the_clusters_one_client_makes_in_order(
    start_server, tmp_path, seed_texts, other_events
):
    articles = _articles(seed_texts, other_events)
    expected = clusters_in_order(start_server(tmp_path / "serial"), articles)

    concurrent = start_server(tmp_path / "concurrent")
    concurrent.detector.store = _SlowReads(concurrent.detector.store)
    orders = [articles[:] for _ in range(CLIENTS)]
    for n, order in enumerate(orders):
        random.Random(n).shuffle(order)
    answers = ingest_concurrently([concurrent.target], orders)
    # Every client heard the same answer for each article: the first ingest's, replayed.
    assert all(a == answers[0] for a in answers[1:])
    with SamestoryClient(concurrent.target, timeout=120) as client:
        stats = client.stats()
        assert stats.articles == stats.semantic_index_size == stats.lexical_index_size == len(articles)
        assert _partition(client, articles) == expected


def _as_decided(articles: list[ArticleIn], decisions) -> list[tuple]:
    """Each decision with its cluster named by the article that opened it (cluster IDs are random)."""
    opened: dict[str, str] = {}
    out = []
    for article, decision in zip(articles, decisions, strict=True):
        assert decision.article_id == article.article_id
        opened.setdefault(decision.cluster_id, article.article_id)
        matches = [(m.article_id, m.lexical, round(m.semantic, 4)) for m in decision.matches]
        out.append((decision.verdict, opened[decision.cluster_id], matches))
    return out


def test_ingest_in_order_decides_as_one_ingest_after_another(tmp_path, embedder, seed_texts, other_events):
    """Prepared ahead in threads, committed in order: the same decisions as plain ingests one after
    another; an article that cannot be prepared fails at its turn, and nothing after it is stored."""
    articles = [ArticleIn(a.id, a.text, title=a.title) for a in _articles(seed_texts, other_events)]

    def detector(name: str) -> Detector:
        settings = Settings.load(env={}, data_dir=tmp_path / name, snapshot_seconds=0)
        return Detector(settings, SQLiteStore(settings.data_dir), embedder)

    one_by_one, ahead, stopped = detector("one-by-one"), detector("ahead"), detector("stopped")
    try:
        expected = _as_decided(articles, [one_by_one.ingest(a) for a in articles])
        assert len({opener for _, opener, _ in expected}) > 1  # more than one story: decisions differ
        assert _as_decided(articles, ahead.ingest_in_order(articles, ahead=4, workers=2)) == expected

        broken = [*articles[:3], ArticleIn("empty", "   "), *articles[3:6]]
        decisions = stopped.ingest_in_order(broken, ahead=4, workers=2)
        assert [next(decisions).article_id for _ in range(3)] == [a.article_id for a in articles[:3]]
        with pytest.raises(InvalidArticle, match="empty"):
            next(decisions)
        assert stopped.stats()["articles"] == 3
    finally:
        for d in (one_by_one, ahead, stopped):
            d.close()
