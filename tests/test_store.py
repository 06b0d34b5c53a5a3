import contextlib
import dataclasses
import datetime as dt
from contextlib import closing

import numpy as np
import orjson
import pytest
from samestory.errors import AlreadyExists, NotFound
from samestory.lexical import Signature
from samestory.quotes import Quote
from samestory.store import NewArticle, QuoteRecord, SQLiteStore
from samestory.store.postgres import MIGRATIONS, PostgresStore


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


def _open(kind: str, request, tmp_path):
    if kind == "sqlite":
        return SQLiteStore(tmp_path)
    return PostgresStore(request.getfixturevalue("postgres_dsn"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """Every test of the Store protocol runs against the embedded and the shared backend."""
    s = _open(request.param, request, tmp_path)
    yield s
    s.close()


def test_a_set_of_values_is_matched_alike_by_both_stores(store):
    """`_one_of`, which every read of several keys or names goes through: an IN list in SQLite, one array
    parameter in PostgreSQL; an empty set matches nothing."""
    store.set_parameters({"a": "1", "b": "2"})
    with store._lock:
        for values, expected in ((["a", "b", "zz"], {"a", "b"}), (["zz"], set()), ([], set())):
            where, args = store._one_of("key", values)
            assert {key for (key,) in store._x(f"SELECT key FROM meta WHERE {where}", args)} == expected
    a, b = store.add(article("x", "c1")).key, store.add(article("y", "c1", new=False)).key
    assert set(store.by_keys([a, b, b + 100])) == {a, b}


def test_quote_unit_vectors_not_yet_made_take_no_room(store):
    """Units are embedded when an alignment first needs them: a quote whose units have none stores nothing
    for them, and reads back as zeros of the article vector's width; made rows come back as they were."""
    made = np.zeros((3, 4), dtype=np.float32)
    made[1] = [0.5, 0.5, 0.5, 0.5]
    quotes = [
        QuoteRecord(Quote(f"Q{i}.", 1, 4, ((1, 4),), "", "", None, "said"), v)
        for i, v in enumerate((np.zeros((2, 4), dtype=np.float32), made, np.zeros((0, 4), dtype=np.float32)))
    ]
    key = store.add(article("a", "c1", quotes=quotes)).key
    with store._lock:
        stored = [bytes(blob) for (blob,) in store._x("SELECT vectors FROM quotes ORDER BY idx")]
    assert [len(blob) for blob in stored] == [0, 3 * 4 * 4, 0]
    store._kept_quotes.clear()  # the read below goes to the database, whatever a write may keep
    none, some, empty = store.quotes([key])[key]
    assert none.vectors.shape == (2, 4) and not none.vectors.any()
    assert np.array_equal(some.vectors, made) and empty.vectors is None


def test_a_decision_reads_back_as_written_and_sqlite_keeps_it_compressed(store):
    match = {"article_id": "x", "lexical": 0.0, "semantic": 0.8059, "relation": "SAME_EVENT", "days_apart": None}
    decision = orjson.dumps({"verdict": "SAME_EVENT", "matches": [dict(match, article_id=f"a{n}") for n in range(20)]})
    store.add(dataclasses.replace(article("a", "c1"), decision=decision.decode()))
    store.add(article("b", "c1", new=False))
    assert store.by_id("a").decision == decision.decode() and store.by_id("b").decision == "{}"
    if isinstance(store, SQLiteStore):
        with store._lock:
            kind, size = store._x("SELECT typeof(decision), length(decision) FROM articles WHERE id='a'").fetchone()
            assert kind == "blob" and size < len(decision) / 3
            store._x("UPDATE articles SET decision='{\"old\": 1}' WHERE id='b'")  # as schema 2 wrote them: text
        assert store.by_id("b").decision == '{"old": 1}'


def test_add_and_read_back(store):
    quote = Quote("We will win.", 1, 13, ((1, 13),), "Smith", "he", (20, 22), "said")
    key = store.add(article("a", "c1", quotes=[QuoteRecord(quote, np.ones((2, 4), dtype=np.float32))])).key
    record = store.by_id("a")
    assert record.key == key and record.cluster_id == "c1" and record.entities == {"kyiv", "a"}
    assert np.array_equal(record.signature.hashvalues, np.arange(128))
    (q,) = store.quotes([key])[key]
    assert q.quote == quote and q.vectors.shape == (2, 4)
    assert [e.key for e in store.index_entries()] == [key]
    assert store.counts() == (1, 1)


def test_quotes_read_again_are_as_stored_whatever_a_reader_filled_in_or_read_before(store):
    quote = Quote("We will win.", 1, 13, ((1, 13),), "Smith", "he", (20, 22), "said")
    key = store.add(article("a", "c1", quotes=[QuoteRecord(quote, np.zeros((2, 4), dtype=np.float32))])).key
    first = store.quotes([key, key + 1])
    assert first[key + 1] == [] and [q.quote for q in first[key]] == [quote]
    first[key][0].vectors[0] = 0.5  # alignment makes a unit's vector in the copy it was given
    (again,) = store.quotes([key])[key]
    assert again.quote == quote and again.vectors.shape == (2, 4) and not again.vectors.any()
    later = store.add(article("b", "c1", new=False, quotes=[QuoteRecord(quote, np.ones((2, 4), np.float32))])).key
    assert later == key + 1 or store.shared  # SQLite gives the next key: the one read before it was stored
    assert [q.quote for q in store.quotes([later])[later]] == [quote]
    store.add(article("c", "c1", new=False))
    assert store.quotes([store.by_id("c").key]) == {store.by_id("c").key: []}


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


def test_member_texts_are_a_clusters_newest_members_oldest_first(store):
    keys = [store.add(dataclasses.replace(article(x, "old", new=x == "a"), text=f"text of {x}")).key for x in "abc"]
    store.add(article("d", "other"))
    assert [(m.key, m.article_id, m.text) for m in store.member_texts("old", 2)] == [
        (keys[1], "b", "text of b"),
        (keys[2], "c", "text of c"),
    ]
    assert [m.article_id for m in store.member_texts("old", 20)] == ["a", "b", "c"]
    store.add(article("e", "other", new=False, merged=["old"]))
    assert store.member_texts("old", 20) == ()  # merged: its members moved
    assert [m.article_id for m in store.member_texts("other", 3)] == ["c", "d", "e"]


def test_a_cluster_is_read_a_page_at_a_time_in_key_order(store):
    keys = [store.add(article("a", "old")).key, store.add(article("b", "young")).key]
    keys.append(store.add(article("c", "old", new=False, merged=["young"])).key)
    keys.append(store.add(article("d", "old", new=False)).key)
    first = store.cluster_page("old", after=0, count=3)
    assert first.size == 4 and first.aliases == ("young",)
    assert [(m.key, m.article_id, m.title, m.verdict) for m in first.members] == [
        (keys[0], "a", "t", 4),
        (keys[1], "b", "t", 4),
        (keys[2], "c", "t", 3),
    ]
    rest = store.cluster_page("old", after=first.members[-1].key, count=3)
    assert [m.article_id for m in rest.members] == ["d"] and rest.size == 4
    assert store.cluster_page("old", after=keys[-1], count=3).members == ()
    store.delete("a")
    assert store.cluster_page("old", after=0, count=10).size == 3
    assert store.cluster_page("young", after=0, count=10) is None  # only canonical ids have a record


def test_failed_write_leaves_nothing_behind(store):
    store.add(article("a", "c1"))
    with pytest.raises(AlreadyExists):
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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_parameters_persist(kind, request, tmp_path):
    s = _open(kind, request, tmp_path)
    s.set_parameters({"model": "m1"})
    s.set_parameters({"model": "m2", "lsh.bands": "25"})
    s.close()
    s = _open(kind, request, tmp_path)
    assert s.parameters() == {"model": "m2", "lsh.bands": "25"}
    s.close()


def test_a_data_directory_serves_one_process_at_a_time(tmp_path):
    from samestory.errors import ConfigurationError

    first = SQLiteStore(tmp_path)
    with pytest.raises(ConfigurationError, match="in use by another Samestory process"):
        SQLiteStore(tmp_path)
    first.close()
    SQLiteStore(tmp_path).close()


def test_an_sqlite_database_of_schema_1_is_migrated_keeping_its_data_and_a_newer_one_refused(tmp_path):
    import sqlite3

    from samestory.errors import ConfigurationError
    from samestory.store.sqlite import SCHEMA_VERSION

    s = SQLiteStore(tmp_path)
    s.add(article("a", "old"))
    s.add(article("b", "old", new=False))
    s.close()
    path = tmp_path / "samestory.sqlite3"
    with closing(sqlite3.connect(path)) as db, db:  # back to schema 1, as its build made it
        db.execute("ALTER TABLE entity_df RENAME TO entity_df_2")
        db.execute("CREATE TABLE entity_df (term TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        db.execute("INSERT INTO entity_df SELECT term, n FROM entity_df_2")
        db.execute("DROP TABLE entity_df_2")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
        db.execute("DELETE FROM meta WHERE key='entity_df_change'")  # counted with each article, as then
    s = SQLiteStore(tmp_path)
    assert s.entity_frequencies(["kyiv", "a", "b", "zz"]) == (2, {"kyiv": 2, "a": 1, "b": 1})
    s.add(article("c", "old", new=False))
    assert s.entity_frequencies(["kyiv", "c"]) == (3, {"kyiv": 3, "c": 1})
    s.close()
    with closing(sqlite3.connect(path)) as db, db:
        (sql,) = db.execute("SELECT sql FROM sqlite_schema WHERE name='entity_df'").fetchone()
        assert sql.endswith("WITHOUT ROWID")
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert not db.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'entity_df_%'").fetchall()
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(ConfigurationError, match="upgrade Samestory"):
        SQLiteStore(tmp_path)
    with closing(sqlite3.connect(path)) as db, db:  # the refused open let the data directory go
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
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


def _watch(store):
    """(the statements the store runs from now on, a list that makes its change-log inserts fail while it
    holds anything)."""
    reads, failing, execute = [], [], store._x

    def watched(sql, args=()):
        reads.append(sql)
        if "INSERT INTO changes" in sql and failing:
            raise OSError("disk gone")
        return execute(sql, args)

    store._x = watched
    return reads, failing


def test_sqlite_keeps_the_frequencies_it_read_and_follows_only_committed_changes(tmp_path):
    store = SQLiteStore(tmp_path)
    terms = ["kyiv", "a", "b", "zz"]
    store.add(article("a", "c1"))
    assert store.entity_frequencies(terms) == (1, {"kyiv": 1, "a": 1})
    store.add(article("b", "c1", new=False))

    reads, failing = _watch(store)
    assert store.entity_frequencies(terms) == (2, {"kyiv": 2, "a": 1, "b": 1})
    assert not [sql for sql in reads if "entity_df" in sql]  # all kept, the add applied to them
    assert not [sql for sql in reads if "FROM meta" in sql]  # the count of articles too
    failing.append(True)
    with pytest.raises(OSError):
        store.add(article("c", "c1", new=False))  # counted, then rolled back
    failing.clear()
    reads.clear()
    assert store.entity_frequencies(terms) == (2, {"kyiv": 2, "a": 1, "b": 1})
    assert [sql for sql in reads if "entity_df" in sql]  # forgotten after the failure: read again
    assert [sql for sql in reads if "FROM meta" in sql]
    store.delete("a")
    assert store.entity_frequencies(terms) == (1, {"kyiv": 1, "a": 0, "b": 1})
    store.close()
    reopened = SQLiteStore(tmp_path)
    assert reopened.entity_frequencies(terms) == (1, {"kyiv": 1, "a": 0, "b": 1})
    reopened.close()


def _counted(path) -> tuple[int, dict[str, int], int]:
    """What an SQLite store holds of the names' document counts: (articles, term -> n, the change they are
    whole up to), read beside it, as a process opening it after a crash would."""
    import sqlite3

    with closing(sqlite3.connect(path)) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        terms = dict(db.execute("SELECT term, n FROM entity_df WHERE n > 0"))
    return int(meta.get("entity_documents", 0)), terms, int(meta["entity_df_change"])


def _crash(store: SQLiteStore) -> None:
    """Let go of the store as a process killed would: nothing folded, nothing written on the way out."""
    store._db.close()
    store._lockfile.close()


def test_sqlite_folds_the_names_counts_in_every_few_articles_and_a_crash_loses_none(tmp_path):
    path = tmp_path / "samestory.sqlite3"
    store = SQLiteStore(tmp_path)
    store.fold_every = 3
    terms = ["kyiv", "a", "b", "c", "d", "zz"]
    store.add(article("a", "c1"))
    store.add(article("b", "c1", new=False))
    assert _counted(path) == (0, {}, 0)  # not written with each article
    assert store.entity_frequencies(terms) == (2, {"kyiv": 2, "a": 1, "b": 1})
    third = store.add(article("c", "c1", new=False))
    assert _counted(path) == (3, {"kyiv": 3, "a": 1, "b": 1, "c": 1}, third.change)  # folded in, one transaction
    assert store.entity_frequencies(terms) == (3, {"kyiv": 3, "a": 1, "b": 1, "c": 1})
    store.add(article("d", "c1", new=False))
    _crash(store)

    store = SQLiteStore(tmp_path)  # the fourth article's names are counted from the change log
    store.fold_every = 3
    assert store.entity_frequencies(terms) == (4, {"kyiv": 4, "a": 1, "b": 1, "c": 1, "d": 1})
    fifth = store.add(article("e", "c1", new=False))
    store.delete("b")  # folds what is unfolded first, in its own transaction
    assert _counted(path) == (4, {"kyiv": 4, "a": 1, "c": 1, "d": 1, "e": 1}, fifth.change)
    assert store.entity_frequencies(["kyiv", "b", "e"]) == (4, {"kyiv": 4, "b": 0, "e": 1})
    store.add(article("f", "c1", new=False))
    store.close()  # folds on the way out
    assert _counted(path)[:2] == (5, {"kyiv": 5, "a": 1, "c": 1, "d": 1, "e": 1, "f": 1})
    reopened = SQLiteStore(tmp_path)
    assert reopened.entity_frequencies(["kyiv", "b", "f"]) == (5, {"kyiv": 5, "b": 0, "f": 1})
    reopened.close()


def test_sqlite_counts_an_article_whose_failed_commit_landed(tmp_path):
    """A commit that raises may still have written the article: its names are then counted from the log."""
    store = SQLiteStore(tmp_path)
    store.fold_every = 3
    store.add(article("a", "c1"))
    assert store.entity_frequencies(["kyiv", "b"]) == (1, {"kyiv": 1})
    transaction = store._transaction

    @contextlib.contextmanager
    def landed_then_failed():
        with transaction():
            yield
        raise OSError("disk I/O error")

    store._transaction = landed_then_failed
    with pytest.raises(OSError):
        store.add(article("b", "c1", new=False))
    store._transaction = transaction
    assert store.by_id("b") is not None
    assert store.entity_frequencies(["kyiv", "b"]) == (2, {"kyiv": 2, "b": 1})
    third = store.add(article("c", "c1", new=False))  # the third unfolded: folded in
    assert _counted(tmp_path / "samestory.sqlite3") == (3, {"kyiv": 3, "a": 1, "b": 1, "c": 1}, third.change)
    store.close()


def test_sqlite_keeps_the_profiles_it_read_or_saved_and_follows_only_committed_changes(tmp_path):
    store = SQLiteStore(tmp_path)
    store.add(article("a", "c1"))
    store.add(article("b", "c2"))
    reads, failing = _watch(store)
    before = store.profiles(["c1", "c2"])
    assert not [sql for sql in reads if "FROM clusters" in sql]  # both kept from their adds
    expected = [_profile_fields(p) for p in before.values()]
    assert expected[0] == (1, [0.5] * 4, {"a": 1.0, "kyiv": 1.693147}, None)
    before["c1"].add(np.ones(4, np.float32), {"changed": 1}, None)  # a copy: the next read is not changed
    assert [_profile_fields(p) for p in store.profiles(["c1", "c2"]).values()] == expected
    failing.append(True)
    with pytest.raises(OSError):
        store.add(article("c", "c1", new=False, merged=["c2"]))  # profiles saved, then rolled back
    failing.clear()
    assert [_profile_fields(p) for p in store.profiles(["c1", "c2"]).values()] == expected
    store.add(article("d", "c1", new=False, merged=["c2"]))
    reads.clear()
    merged = store.profiles(["c1"])
    assert not [sql for sql in reads if "FROM clusters" in sql]  # kept from the add
    store.close()
    reopened = SQLiteStore(tmp_path)
    try:
        again = reopened.profiles(["c1"])
    finally:
        reopened.close()
    assert _profile_fields(again["c1"]) == _profile_fields(merged["c1"])
    assert list(again["c1"].entities) == list(merged["c1"].entities)  # in the order sums run over
    assert again["c1"].size == 3


def _profile_fields(profile):
    lead = None if profile.lead_sum is None else profile.lead_sum.tolist()
    return profile.size, lead, dict(profile.entities), profile.first_published


def test_candidates_read_what_was_stored_whether_kept_or_read_again(store, request, tmp_path):
    """A candidate's time, signature and names are kept from its add or its first read, and are what a
    fresh read decodes; an add rolled back leaves nothing under its key, which SQLite gives again."""
    first = store.add(article("a", "c1")).key
    reads, failing = _watch(store)
    failing.append(True)
    with pytest.raises(OSError):
        store.add(dataclasses.replace(article("x", "c1", new=False), signature=Signature(np.zeros(128, np.uint64), 1)))
    failing.clear()
    published = dt.datetime(2024, 10, 29, 9, 30, 0, 123456, tzinfo=dt.UTC)
    second = store.add(dataclasses.replace(article("b", "c1", new=False), published=published)).key
    reads.clear()
    got = store.by_keys([first, second])
    assert not [sql for sql in reads if "signature" in sql]  # both kept from their adds
    assert [_candidate_fields(r) for r in store.by_exact_key("k-b")] == [_candidate_fields(got[second])]
    store.close()
    reopened = _open(request.node.callspec.params["store"], request, tmp_path)
    try:
        again = reopened.by_keys([first, second])  # read and decoded, nothing kept
    finally:
        reopened.close()
    assert {k: _candidate_fields(r) for k, r in again.items()} == {k: _candidate_fields(r) for k, r in got.items()}
    assert _candidate_fields(got[second])[1:] == (
        "b",
        "k-b",
        "c1",
        first,
        published,
        {"kyiv", "b"},
        list(range(128)),
        10,
    )


def _candidate_fields(record):
    r = record
    hashvalues = r.signature.hashvalues.tolist()
    return (
        r.key,
        r.article_id,
        r.exact_key,
        r.cluster_id,
        r.cluster_rank,
        r.published,
        r.entities,
        hashvalues,
        r.signature.shingles,
    )


def test_the_change_log_and_index_reads_agree(store):
    keys = [store.add(article(name, "c" + name)).key for name in "abcd"]
    store.delete("b")
    assert store.last_change() == 5
    changes = store.index_changes(2)
    assert [e.key for e in changes.added] == keys[2:] and changes.removed == (keys[1],) and changes.upto == 5
    assert store.index_changes(5).upto == 5 and store.index_changes(5).added == ()
    with store.index_state() as (seq, entries):
        store.add(article("e", "ce"))  # after the view began: not part of it
        assert seq == 5 and [e.key for e in entries] == [keys[0], keys[2], keys[3]]
    assert store.count_since(None) == 4
    late = store.index_entries(since=10**12)
    assert list(late) == [] and store.count_since(10**12) == 0


def test_postgresql_schema_is_migrated_once_and_a_newer_one_refused(postgres_dsn):
    import psycopg
    from samestory.errors import ConfigurationError

    PostgresStore(postgres_dsn).close()
    PostgresStore(postgres_dsn).close()  # a second start finds nothing to do
    with psycopg.connect(postgres_dsn, autocommit=True) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))
        db.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(MIGRATIONS) + 1,))
    with pytest.raises(ConfigurationError, match="upgrade Samestory"):
        PostgresStore(postgres_dsn)


def test_an_unreachable_postgresql_is_a_clear_error():
    from samestory.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="cannot reach the PostgreSQL store"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_the_postgresql_store_reconnects_after_the_server_drops_it(postgres_dsn):
    import psycopg

    def drop_connections() -> None:  # as a PostgreSQL restart would
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )

    store = PostgresStore(postgres_dsn)
    store.add(article("a", "c1"))
    drop_connections()
    assert store.by_id("a").cluster_id == "c1"  # the read finds its connection dead, and runs again on a new one
    drop_connections()
    store.add(article("b", "c2"))  # a write replaces a dead connection before its transaction begins
    with store.decision_lock():  # and so does the lock
        assert store.counts() == (2, 2)
    store.close()


def test_a_decision_taken_before_the_log_moved_is_refused(store):
    from samestory.errors import StaleDecision

    first = store.add(article("a", "ca"))
    assert first.change == store.last_change() == 1
    second = store.add(dataclasses.replace(article("b", "cb"), decided_at_change=1))
    assert second.change == 2
    with pytest.raises(StaleDecision, match="decided at change 1; the store is at 2"):
        store.add(dataclasses.replace(article("c", "cc"), decided_at_change=1))
    assert store.by_id("c") is None and store.resolve_cluster("cc") is None and store.last_change() == 2
