"""The gRPC API against a real server on a loopback port, with the real client."""

import datetime as dt

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from samestory.decide import Thresholds
from samestory.errors import IncompatibleData
from samestory.lexical import LexicalParams
from samestory_client import SamestoryClient, make_article, pb

from .conftest import seed_article

SEED_000 = "000_37e6b592380adfa8"
SEED_002 = "002_4e24442fa892cfb7"


@pytest.fixture(params=["embedded", "shared"])
def server(request, start_server):
    """Every API test runs on the embedded default and on PostgreSQL with a Redis LSH."""
    if request.param == "embedded":
        return start_server()
    return start_server(**request.getfixturevalue("shared_backends"))


def test_check_stores_nothing(client, seed_texts):
    decision = client.check(seed_article(seed_texts, SEED_000))
    assert decision.verdict == pb.NEW_STORY and not decision.stored and decision.cluster_id == ""
    assert client.stats().articles == 0
    with pytest.raises(grpc.RpcError) as err:
        client.get_article(SEED_000)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_ingest_is_idempotent_by_id(client, seed_texts):
    first = client.ingest(seed_article(seed_texts, SEED_000))
    assert first.stored
    assert client.ingest(seed_article(seed_texts, SEED_000)) == first
    with pytest.raises(grpc.RpcError) as err:
        client.ingest(make_article(SEED_000, seed_texts[SEED_000] + "\nA correction was added."))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert SEED_000 in err.value.details()
    assert client.stats().articles == 1


def test_the_page_dates_an_article_sent_without_a_publication_time(client, seed_texts):
    decision = client.ingest(seed_article(seed_texts, SEED_002))  # its `date 2024-10-29` prefix
    assert decision.published_at.ToDatetime().date() == dt.date(2024, 10, 29)
    storm = "The storm hit the coast at night and left many homes without power."
    stamped = client.ingest(make_article("stamped", f"Posted on January 5, 2011 at 3:39 PM\n{storm}"))
    assert stamped.published_at.ToDatetime().date() == dt.date(2011, 1, 5)
    # A scraper that took the page's time stamp for its headline: the headline dates the page.
    headline = client.ingest(make_article("stamp-title", f"{storm} Roads were closed.", title="Jan 05, 2011"))
    assert headline.published_at.ToDatetime().date() == dt.date(2011, 1, 5)
    real_title = client.ingest(make_article("titled", f"{storm} Trees fell.", title="Storm of January 5, 2011"))
    assert not real_title.HasField("published_at")
    given = client.ingest(
        make_article("dated", f"Posted on January 5, 2011\n{storm}", published_at=dt.datetime(2025, 1, 2, 3, 4, 5))
    )
    assert given.published_at.ToDatetime() == dt.datetime(2025, 1, 2, 3, 4, 5)  # the caller's time wins


def test_matches_say_how_long_the_story_would_run(client, seed_texts):
    noon = dt.datetime(2024, 10, 29, 12, tzinfo=dt.UTC)
    client.ingest(make_article(SEED_000, seed_texts[SEED_000], published_at=noon))
    decision = client.ingest(seed_article(seed_texts, SEED_002))  # dated 2024-10-29 by its page
    assert decision.verdict == pb.SAME_EVENT, decision.reason
    (match,) = [m for m in decision.matches if m.article_id == SEED_000]
    assert match.HasField("cluster_days_spanned") and match.cluster_days_spanned == pytest.approx(0.5)
    assert "0.5 days spanned with it" in decision.reason
    undated = client.check(make_article("undated", seed_texts[SEED_002].split("\n", 1)[1]))
    assert not undated.HasField("published_at")
    assert undated.matches and not any(m.HasField("cluster_days_spanned") for m in undated.matches)


def test_ingest_stream_answers_each_item_and_goes_on(client, seed_texts):
    articles = [
        seed_article(seed_texts, SEED_000),
        make_article("empty", "   "),
        make_article(SEED_000, "other content under a stored id"),
        seed_article(seed_texts, SEED_002),
    ]
    responses = list(client.ingest_many(articles, timeout=120))
    assert [r.article_id for r in responses] == [SEED_000, "empty", SEED_000, SEED_002]
    assert responses[0].decision.verdict == pb.NEW_STORY
    assert responses[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert responses[2].error.code == grpc.StatusCode.ALREADY_EXISTS.value[0]
    assert responses[3].decision.verdict == pb.SAME_EVENT
    assert responses[3].decision.cluster_id == responses[0].decision.cluster_id


def test_get_article_and_cluster(client, seed_texts):
    decision = client.ingest(seed_article(seed_texts, SEED_000))
    stored = client.get_article(SEED_000)
    assert stored.article.text == seed_texts[SEED_000]
    assert stored.cluster_id == decision.cluster_id and stored.verdict == pb.NEW_STORY
    assert [q.text for q in stored.quotes] == [q.text for q in decision.quotes]
    cluster = client.get_cluster(decision.cluster_id)
    assert [m.article_id for m in cluster.articles] == [SEED_000]


def test_a_cluster_is_read_a_page_at_a_time(client, seed_texts):
    stems = sorted(seed_texts)
    ids = [client.ingest(seed_article(seed_texts, stem)).article_id for stem in stems]
    ids += [client.ingest(seed_article(seed_texts, stems[0], f"copy-{n}")).article_id for n in range(2)]
    cluster_id = client.get_article(ids[0]).cluster_id
    whole = client.get_cluster(cluster_id)
    assert [m.article_id for m in whole.articles] == ids and whole.size == 5 and whole.next_page_token == ""
    pages, token = [], ""
    while True:
        page = client.get_cluster(cluster_id, page_size=2, page_token=token)
        assert page.size == 5 and page.cluster_id == whole.cluster_id
        pages.append(page)
        token = page.next_page_token
        if not token:
            break
    assert [[m.article_id for m in p.articles] for p in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert pages[0].quote_groups == whole.quote_groups and len(whole.quote_groups) > 0
    assert [len(p.quote_groups) for p in pages[1:]] == [0, 0]  # the statements come with the first page
    assert [m.article_id for m in client.cluster_members(cluster_id, page_size=2)] == ids
    assert len(client.get_cluster(cluster_id, page_size=10**9).articles) == 5  # over the most: the most
    wrong = [
        (cluster_id, {"page_size": -1}, "page_size"),
        (cluster_id, {"page_token": "not-a-token"}, "page_token"),
        ("c_another", {"page_token": pages[0].next_page_token}, "issued for cluster 'c_another'"),
    ]
    for asked, kwargs, says in wrong:
        with pytest.raises(grpc.RpcError) as err:
            client.get_cluster(asked, **kwargs)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and says in err.value.details(), kwargs


def test_delete_removes_from_store_and_indexes(client, seed_texts):
    decision = client.ingest(seed_article(seed_texts, SEED_000))
    reply = client.delete_article(SEED_000)
    assert reply.cluster_id == decision.cluster_id
    stats = client.stats()
    assert (stats.articles, stats.lexical_index_size, stats.semantic_index_size) == (0, 0, 0)
    assert client.check(seed_article(seed_texts, SEED_000, "again")).verdict == pb.NEW_STORY
    assert client.get_cluster(decision.cluster_id).articles == []  # the id still resolves
    with pytest.raises(grpc.RpcError) as err:
        client.delete_article(SEED_000)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_stats_report_the_parameters(client):
    params = client.stats().parameters
    assert params["model"].startswith("model@") and params["minhash.scheme"] == "affine32"
    assert params["vector.dim"] == "384" and "decide.same_event" in params


def test_the_decision_settings_are_set_per_server_and_stored_with_the_data(start_server, tmp_path):
    data = tmp_path / "decided"
    server = start_server(data_dir=data, decide={"window_days": "7", "same_event": "0.55"})
    with SamestoryClient(server.target) as client:
        params = client.stats().parameters
    assert (params["decide.window_days"], params["decide.same_event"]) == ("7.0", "0.55")
    server.stop()
    # Unlike the index's parameters, the decision's may change on the same data: the store keeps the latest.
    with SamestoryClient(start_server(data_dir=data).target) as client:
        assert client.stats().parameters["decide.window_days"] == str(Thresholds().window_days)


def test_health_and_reflection(server, client):
    assert client.health() == "SERVING"
    assert client.health("samestory.v1.Samestory") == "SERVING"
    with grpc.insecure_channel(server.target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        (reply,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for s in reply.list_services_response.service}
    assert {"samestory.v1.Samestory", "grpc.health.v1.Health"} <= names


def test_missing_article_field_is_invalid(server):
    with grpc.insecure_channel(server.target) as channel:
        from samestory_client._proto import samestory_pb2_grpc

        stub = samestory_pb2_grpc.SamestoryStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Ingest(pb.IngestRequest(), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no article" in err.value.details()


def test_data_built_with_other_parameters_is_refused(start_server, tmp_path, seed_texts):
    data_dir = tmp_path / "d"
    server = start_server(data_dir)
    with SamestoryClient(server.target) as client:
        client.ingest(seed_article(seed_texts, SEED_000))
    server.stop()
    with pytest.raises(IncompatibleData) as err:
        start_server(data_dir, lexical=LexicalParams(shingle_size=4))
    assert "shingle.words: data has '5', settings give '4'" in str(err.value)
    assert "--data-dir" in str(err.value)


def test_a_stream_longer_than_max_batch_ends_with_resource_exhausted(start_server, seed_texts, other_events):
    server = start_server(max_batch=2)
    articles = [seed_article(seed_texts, stem) for stem in sorted(seed_texts)]
    articles += [make_article(e["id"], e["text"], title=e["title"]) for e in other_events]
    with SamestoryClient(server.target, timeout=120) as client:
        answered = []
        with pytest.raises(grpc.RpcError) as caught:
            for response in client.ingest_many(articles, batch=5):
                answered.append(response.article_id)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "at most 2 articles (SAMESTORY_MAX_BATCH)" in caught.value.details()
        assert answered == [a.id for a in articles[:2]]
        assert client.stats().articles == 2  # nothing past the limit was stored
        # The client's own batches within the limit carry everything, in order.
        responses = list(client.ingest_many(articles, batch=2))
        assert [r.article_id for r in responses] == [a.id for a in articles]
        assert all(r.HasField("decision") for r in responses)
        assert client.stats().articles == len(articles)
