"""Hostile and random requests against a real server: a documented status every time, nothing half-stored."""

from __future__ import annotations

import threading

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from samestory_client import SamestoryClient, make_article

from .test_lifecycle import SlowEmbedder

DOCUMENTED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ALREADY_EXISTS,
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def test_invalid_utf8_is_invalid_argument_not_unknown(server, client):
    article = b"\x0a\x01a" + b"\x1a\x04ok \xff"  # id "a", text "ok \xff"
    request = b"\x0a" + _varint(len(article)) + article
    with grpc.insecure_channel(server.target) as channel:
        ingest = channel.unary_unary("/samestory.v1.Samestory/Ingest")
        with pytest.raises(grpc.RpcError) as err:
            ingest(request, timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "UTF-8" in err.value.details()
        junk = channel.unary_unary("/samestory.v1.Samestory/GetCluster")
        with pytest.raises(grpc.RpcError) as err:
            junk(b"\xff\xff\xff", timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert client.health() == "SERVING"
    assert client.stats().articles == 0


HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=2000),
    st.sampled_from(["", " ", "\n\n\t", "\x00\x01\x02", "“" * 3000, '"' * 5000, "a" * 60_000, "word " * 12_000]),
    st.lists(st.sampled_from(['"', "“", "”", "«", "»", "he said,", "Smith", "\n", "war.", "—"]), max_size=400).map(
        "".join
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    article_id=st.one_of(st.text(max_size=20), st.sampled_from(["", "x" * 300, "a\x00b", "same-id"])),
    title=st.text(max_size=50),
    text=HOSTILE_TEXT,
)
def test_random_and_hostile_articles_get_documented_answers(server, client, article_id, title, text):
    before = client.stats().articles
    try:
        client.check(make_article(article_id, text, title=title), timeout=60)
    except grpc.RpcError as exc:
        assert exc.code() in DOCUMENTED, (exc.code(), exc.details())
        assert exc.details()
    stored = False
    try:
        decision = client.ingest(make_article(article_id, text, title=title), timeout=60)
        stored = decision.stored
    except grpc.RpcError as exc:
        assert exc.code() in DOCUMENTED, (exc.code(), exc.details())
    after = client.stats()
    assert after.articles in (before, before + 1)
    assert (after.articles == before + 1) <= stored  # a new row only when the ingest said so
    assert after.lexical_index_size <= after.articles and after.semantic_index_size == after.articles
    assert client.health() == "SERVING"


def test_calls_beyond_the_limit_are_resource_exhausted(start_server, embedder):
    server = start_server(max_concurrent_calls=1)
    server.detector.embedder = SlowEmbedder(embedder, 1.5)
    codes = []

    def call():
        with SamestoryClient(server.target, retries=0) as client:
            try:
                client.check(make_article("", "A storm hit the coast at night and cut power to many homes."))
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert grpc.StatusCode.OK in codes and grpc.StatusCode.RESOURCE_EXHAUSTED in codes
