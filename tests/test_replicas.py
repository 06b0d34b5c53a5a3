"""Several replicas over one PostgreSQL store: one truth for clusters, and each replica's
in-memory indexes follow the others' writes through the store's change log."""

from __future__ import annotations

import random
import time

import grpc
import pytest
from samestory.config import Settings
from samestory.lexical import RedisLexicalIndex
from samestory_client import SamestoryClient, make_article

from .test_concurrency import _articles, _partition, _SlowReads, clusters_in_order, ingest_concurrently

CLIENTS_PER_REPLICA = 8


@pytest.mark.parametrize("lsh", ["in-memory", "redis"])
def test_two_replicas_with_eight_clients_each_make_the_clusters_of_one_in_order(
    start_server, tmp_path, postgres, request, seed_texts, other_events, lsh
):
    from .engines import fresh_database

    shared_lsh = {}
    if lsh == "redis":
        shared_lsh = {"lsh": request.getfixturevalue("redis_url"), "lsh_basename": "two-replicas"}
        RedisLexicalIndex(Settings().lexical, shared_lsh["lsh"], "two-replicas").clear()
    articles = _articles(seed_texts, other_events)
    expected = clusters_in_order(
        start_server(tmp_path / "single", store=fresh_database(postgres, "replicas_single")), articles
    )

    shared = fresh_database(postgres, "replicas_shared")
    replicas = [start_server(tmp_path / f"replica{n}", store=shared, **shared_lsh) for n in range(2)]
    for replica in replicas:  # decisions read slowly: deciding outside the shared lock would race
        replica.detector.store = _SlowReads(replica.detector.store)
    order = articles[:]
    random.Random(7).shuffle(order)
    # Client n goes to replica n % 2 and starts elsewhere in the one shuffled set.
    orders = [order[n % len(order) :] + order[: n % len(order)] for n in range(2 * CLIENTS_PER_REPLICA)]
    answers = ingest_concurrently([r.target for r in replicas], orders)
    assert all(a == answers[0] for a in answers)  # every client, on either replica, heard one answer
    for replica in replicas:
        replica.detector.follow()
        with SamestoryClient(replica.target, timeout=120) as client:
            stats = client.stats()
            assert stats.articles == stats.semantic_index_size == stats.lexical_index_size == len(articles)
            assert _partition(client, articles) == expected


def test_a_write_through_one_replica_is_found_through_the_other_within_a_second(
    start_server, tmp_path, postgres_dsn, seed_texts
):
    first, second = (start_server(tmp_path / f"r{n}", store=postgres_dsn, follow_seconds=0.1) for n in range(2))
    stems = sorted(seed_texts)
    with SamestoryClient(first.target) as one, SamestoryClient(second.target) as other:
        one.ingest(make_article(stems[0], seed_texts[stems[0]]))
        written = time.monotonic()
        probe = make_article("", seed_texts[stems[0]][:2000])
        while not other.check(probe).matches:
            assert time.monotonic() - written < 1.0, "the second replica did not see the write within 1 s"
            time.sleep(0.02)
        assert other.check(probe).matches[0].article_id == stems[0]
        # A delete through the second reaches the first.
        other.delete_article(stems[0])
        deleted = time.monotonic()
        while one.stats().semantic_index_size:
            assert time.monotonic() - deleted < 1.0, "the delete did not reach the first replica within 1 s"
            time.sleep(0.02)
        assert not one.check(probe).matches
        with pytest.raises(grpc.RpcError) as info:
            one.get_article(stems[0])
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_replica_snapshots_its_indexes_and_restarts_from_them(start_server, tmp_path, postgres_dsn, seed_texts):
    data_dir = tmp_path / "replica"
    replica = start_server(data_dir, store=postgres_dsn)
    with SamestoryClient(replica.target) as client:
        for stem, text in sorted(seed_texts.items()):
            client.ingest(make_article(stem, text))
    replica.stop()
    assert (data_dir / "index.snapshot").exists()
    again = start_server(data_dir, store=postgres_dsn)
    assert again.detector.stats()["snapshot_change"] == again.detector.stats()["last_change"] == len(seed_texts)


def test_a_write_lost_between_the_store_and_redis_is_replayed_by_the_next_writer(
    start_server, tmp_path, postgres_dsn, redis_url, seed_texts
):
    RedisLexicalIndex(Settings().lexical, redis_url, "lost-write").clear()
    replica = start_server(tmp_path / "r", store=postgres_dsn, lsh=redis_url, lsh_basename="lost-write")
    lsh = replica.detector._lexical
    stems = sorted(seed_texts)
    with SamestoryClient(replica.target) as client:
        client.ingest(make_article(stems[0], seed_texts[stems[0]]))
        # As if the writer had died after its store commit, before Redis heard of it:
        key = replica.detector.store.by_id(stems[0]).key
        lsh.remove(key)
        lsh.set_seq(lsh.seq - 1)
        assert key not in lsh
        client.ingest(make_article(stems[1], seed_texts[stems[1]]))  # the next decision syncs Redis first
        assert key in lsh and lsh.seq == replica.detector.store.last_change()
    replica.stop()
    # A Redis emptied (or replaced) under a running deployment is rebuilt from the store on start.
    lsh.clear()
    again = start_server(tmp_path / "r", store=postgres_dsn, lsh=redis_url, lsh_basename="lost-write")
    assert len(again.detector._lexical) == 2 and again.detector._lexical.seq == 2


def test_evictions_and_deletes_reach_every_replica(postgres_dsn, redis_url, embedder, tmp_path, seed_texts):
    from samestory.detector import Detector
    from samestory.records import ArticleIn
    from samestory.store.postgres import PostgresStore

    from .test_snapshot import _Clock

    clock = _Clock()
    settings = {"store": postgres_dsn, "lsh": redis_url, "lsh_basename": "evictions", "snapshot_seconds": 0}
    RedisLexicalIndex(Settings().lexical, redis_url, "evictions").clear()
    replicas = [
        Detector(
            Settings.load(env={}, data_dir=tmp_path / f"r{n}", follow_seconds=0, **settings),
            PostgresStore(postgres_dsn),
            embedder,
            clock=clock,
        )
        for n in range(2)
    ]
    stems = sorted(seed_texts)
    replicas[0].ingest(ArticleIn(article_id=stems[0], text=seed_texts[stems[0]]))
    clock.now += 20 * 86_400
    replicas[1].ingest(ArticleIn(article_id=stems[1], text=seed_texts[stems[1]]))  # catches up first
    replicas[0].follow()
    assert [r.stats()["semantic_index_size"] for r in replicas] == [2, 2]
    clock.now += 11 * 86_400  # the first article is 31 days old: out of both replicas' windows
    assert [r.evict() for r in replicas] == [1, 1]
    assert [r.stats()["semantic_index_size"] for r in replicas] == [1, 1]
    assert replicas[0].stats()["lexical_index_size"] == 1  # the shared LSH, evicted once for both
    replicas[1].delete(stems[1])
    replicas[0].follow()
    assert [r.stats()["semantic_index_size"] for r in replicas] == [0, 0]
    assert replicas[0].get_article(stems[0])[0].article_id == stems[0]  # evicted, still stored
    for replica in replicas:
        replica.close()


def test_a_stale_decision_is_taken_again_after_catching_up(postgres_dsn, embedder, tmp_path, seed_texts, caplog):
    """Should the shared lock ever fail, the store's check on the change log sends the decision round again."""
    import contextlib
    import logging

    from samestory.detector import Detector
    from samestory.records import ArticleIn
    from samestory.store.postgres import PostgresStore

    first, second = (
        Detector(
            Settings.load(env={}, data_dir=tmp_path / name, store=postgres_dsn, snapshot_seconds=0, follow_seconds=0),
            PostgresStore(postgres_dsn),
            embedder,
        )
        for name in ("first", "second")
    )
    stems = sorted(seed_texts)
    pending = second.prepare(ArticleIn(article_id=stems[1], text=seed_texts[stems[1]]))
    # The second replica decides without the lock and without catching up, once, while the first writes.
    second.store.decision_lock = contextlib.nullcontext
    real_catch_up, calls = second._catch_up, []

    def late_catch_up():
        calls.append(1)
        if len(calls) == 1:
            first.ingest(ArticleIn(article_id=stems[0], text=seed_texts[stems[0]]))
            return 0
        return real_catch_up()

    second._catch_up = late_catch_up
    with caplog.at_level(logging.WARNING, logger="samestory.detector"):
        decision = second.commit(pending)
    assert "deciding again" in caplog.text and len(calls) == 2
    # Taken again, the decision saw the first replica's article: the same event, one cluster.
    assert decision.verdict.name == "SAME_EVENT" and decision.matches[0].article_id == stems[0]
    assert second.stats()["semantic_index_size"] == 2
    first.close()
    second.close()


def test_two_replicas_cannot_share_a_data_directory(start_server, tmp_path, postgres_dsn):
    from samestory.errors import ConfigurationError

    start_server(tmp_path / "one", store=postgres_dsn)
    with pytest.raises(ConfigurationError, match="in use by another Samestory process"):
        start_server(tmp_path / "one", store=postgres_dsn)
    start_server(tmp_path / "two", store=postgres_dsn)  # its own directory: fine
