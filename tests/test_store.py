import sqlite3

import numpy as np
import pytest
from samestory.errors import NotFound
from samestory.lexical import Signature
from samestory.quotes import Quote
from samestory.store import NewArticle, QuoteRecord, SQLiteStore


def article(article_id, cluster, new=True, merged=(), quotes=()):
    return NewArticle(
        article_id=article_id,
        title="t",
        text="some text",
        published=None,
        source="",
        url="",
        content_hash="h-" + article_id,
        exact_key="k-" + article_id,
        signature=Signature(np.arange(128, dtype=np.uint64), 10),
        vector=np.ones(4, dtype=np.float32) / 2,
        lead_vector=np.ones(4, dtype=np.float32) / 2,
        entity_counts={"kyiv": 2, article_id: 1},
        verdict=4 if new else 3,
        cluster_id=cluster,
        new_cluster=new,
        merged=tuple(merged),
        decision="{}",
        quotes=tuple(quotes),
    )


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path)
    yield s
    s.close()


def test_add_and_read_back(store):
    quote = Quote("We will win.", 1, 13, ((1, 13),), "Smith", "he", (20, 22), "said")
    key = store.add(article("a", "c1", quotes=[QuoteRecord(quote, np.ones((2, 4), dtype=np.float32))]))
    record = store.by_id("a")
    assert record.key == key and record.cluster_id == "c1" and record.entities == {"kyiv", "a"}
    assert np.array_equal(record.signature.hashvalues, np.arange(128))
    (q,) = store.quotes([key])[key]
    assert q.quote == quote and q.vectors.shape == (2, 4)
    assert [e.key for e in store.index_entries()] == [key]
    assert store.counts() == (1, 1)


def test_merge_keeps_old_ids_resolving(store):
    store.add(article("a", "old"))
    store.add(article("b", "young"))
    store.add(article("c", "old", new=False, merged=["young"]))
    assert store.resolve_cluster("young") == "old"
    assert store.by_id("b").cluster_id == "old"
    cluster = store.cluster("old")
    assert cluster.aliases == ("young",)
    assert [m.article_id for m in cluster.members] == ["a", "b", "c"]
    store.add(article("d", "newer"))
    store.add(article("e", "newer", new=False, merged=["old"]))
    assert store.resolve_cluster("young") == "newer"  # aliases follow a later merge
    assert store.cluster("young") is None  # only canonical ids have a record
    assert store.counts() == (5, 1)


def test_failed_write_leaves_nothing_behind(store):
    store.add(article("a", "c1"))
    with pytest.raises(sqlite3.IntegrityError):
        store.add(article("a", "c2"))
    assert store.resolve_cluster("c2") is None
    assert store.counts() == (1, 1)


def test_delete_removes_the_article_but_the_cluster_resolves(store):
    store.add(article("a", "c1"))
    store.delete("a")
    assert store.by_id("a") is None
    assert store.resolve_cluster("c1") == "c1"
    assert store.cluster("c1").members == ()
    with pytest.raises(NotFound):
        store.delete("a")


def test_parameters_persist(tmp_path):
    s = SQLiteStore(tmp_path)
    s.set_parameters({"model": "m1"})
    s.close()
    s = SQLiteStore(tmp_path)
    assert s.parameters() == {"model": "m1"}
    s.close()


def test_a_data_directory_serves_one_process_at_a_time(tmp_path):
    from samestory.errors import ConfigurationError

    first = SQLiteStore(tmp_path)
    with pytest.raises(ConfigurationError, match="in use by another Samestory process"):
        SQLiteStore(tmp_path)
    first.close()
    SQLiteStore(tmp_path).close()


def test_cluster_profiles_and_entity_frequencies_follow_adds_merges_and_deletes(store):
    store.add(article("a", "old"))
    store.add(article("b", "young"))
    assert store.profiles(["old"])["old"].size == 1
    store.add(article("c", "old", new=False, merged=["young"]))
    profile = store.profiles(["old"])["old"]
    assert profile.size == 3
    assert profile.entities["kyiv"] == pytest.approx(3 * (1 + np.log(2)))
    assert np.allclose(profile.lead_sum, 1.5)
    assert store.entity_frequencies(["kyiv", "b", "zz"]) == (3, {"kyiv": 3, "b": 1})
    store.delete("b")
    profile = store.profiles(["old"])["old"]
    assert profile.size == 2 and "b" not in profile.entities
    assert store.entity_frequencies(["kyiv", "b"]) == (2, {"kyiv": 2, "b": 0})
