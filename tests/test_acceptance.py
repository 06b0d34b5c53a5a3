"""The first acceptance case, end to end: a real server on a loopback port, the real model, the real client."""

from __future__ import annotations

import importlib
import itertools
import re

import grpc
import pytest
from samestory import quotes
from samestory.config import Settings
from samestory.server import BackgroundServer
from samestory.text import clean
from samestory_client import SamestoryClient, make_article, pb
from samestory_client.formatting import span_text

from .conftest import seed_article

SEED_000 = "000_37e6b592380adfa8"
SEED_002 = "002_4e24442fa892cfb7"
SEED_003 = "003_12da6fbd2a6afa8c"
SEEDS = (SEED_000, SEED_002, SEED_003)

INTERNATIONALIZED = "The conclusion is clear — this war is becoming internationalized, extending beyond two countries."
INTERNATIONALISED = (
    "There is only one conclusion — this war is internationalised and goes beyond the borders of Ukraine and Russia"
)
DISCUSSED = "We discussed the involvement of North Korean military forces"
# The acceptance case's own words: the first must align with the second.
MUST_ALIGN = (
    "this war is becoming internationalized, extending beyond two countries",
    "this war is internationalised and goes beyond the borders of Ukraine and Russia",
)


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()


def _aligned(decisions: dict[str, pb.Decision], texts: dict[str, str]):
    """Every alignment as (article, its aligned text, other article, the other's aligned text), both directions."""
    out = []
    for article_id, decision in decisions.items():
        for a in decision.aligned_quotes:
            mine = texts[article_id][a.span.start : a.span.end]
            theirs = texts[a.other_article_id][a.other_span.start : a.other_span.end]
            assert mine == span_text(a.quote, a.span) or a.quote.parts, "offsets disagree with the quote text"
            out.append((article_id, mine, a.other_article_id, theirs, a))
            out.append((a.other_article_id, theirs, article_id, mine, a))
    return out


@pytest.mark.parametrize("order", list(itertools.permutations(SEEDS)), ids=lambda o: "-".join(s[:3] for s in o))
def test_seeds_form_one_cluster_in_any_order(start_server, seed_texts, order):
    _seeds_form_one_cluster(start_server(), seed_texts, order)


def test_seeds_form_one_cluster_on_the_shared_backends(start_server, shared_backends, seed_texts):
    _seeds_form_one_cluster(start_server(**shared_backends), seed_texts, SEEDS[::-1])


@pytest.mark.parametrize("max_tokens", [256, 128])
def test_seeds_form_one_cluster_on_the_int8_backend(tmp_path, seed_texts, int8, model_cache, max_tokens):
    # The server loads the model itself, as `samestory serve --backend onnx-int8 [--max-tokens 128]`
    # does (from the run's cache); 128 tokens is the fast setting (README, speed).
    settings = Settings.load(
        env={},
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        backend="onnx-int8",
        model_cache=model_cache,
        max_tokens=max_tokens,
    )
    server = BackgroundServer(settings)
    try:
        assert server.detector.embedder.identity == int8.identity.replace("/256/", f"/{max_tokens}/")
        _seeds_form_one_cluster(server, seed_texts, SEEDS)
    finally:
        server.stop()


def _seeds_form_one_cluster(server, seed_texts, order) -> None:
    with SamestoryClient(server.target) as client:
        decisions = {stem: client.ingest(seed_article(seed_texts, stem)) for stem in order}
        assert decisions[order[0]].verdict == pb.NEW_STORY
        assert decisions[order[0]].new_cluster
        for stem in order[1:]:
            assert decisions[stem].verdict == pb.SAME_EVENT, decisions[stem].reason
            assert not decisions[stem].new_cluster
        assert len({d.cluster_id for d in decisions.values()}) == 1
        cluster = client.get_cluster(decisions[order[0]].cluster_id)
        assert sorted(m.article_id for m in cluster.articles) == sorted(SEEDS)

        found = _aligned(decisions, seed_texts)
        # 000's "internationalized" quote with the matching part of 003's quote (which also holds "We discussed...")
        assert any(
            a == SEED_000
            and _norm(INTERNATIONALIZED) in _norm(mine)
            and b == SEED_003
            and _norm(theirs).startswith("the conclusion is clear")
            and DISCUSSED.casefold() not in theirs.casefold()
            for a, mine, b, theirs, _ in found
        )
        # ... and with 002's differently translated "internationalised" quote: its whole, or the
        # sentence piece that says it (the two are close, and the backends' vectors choose differently)
        assert any(
            a == SEED_000
            and _norm(MUST_ALIGN[0]) in _norm(mine)
            and b == SEED_002
            and _norm(MUST_ALIGN[1]) in _norm(theirs)
            and _norm(theirs) in _norm(INTERNATIONALISED)
            for a, mine, b, theirs, _ in found
        )
        # 003's "We discussed..." with 000's
        assert any(
            a == SEED_003
            and _norm(mine).startswith(_norm(DISCUSSED))
            and "conclusion" not in mine
            and b == SEED_000
            and _norm(theirs).startswith(_norm(DISCUSSED))
            for a, mine, b, theirs, _ in found
        )


def test_no_quote_comes_from_page_boilerplate(client, seed_texts):
    raw_page = seed_texts[SEED_003]
    decision = client.ingest(seed_article(seed_texts, SEED_003))
    content_start = raw_page.index("Ukrainian President Volodymyr Zelenskyy said on Tuesday")
    content_end = raw_page.index("Published - October 30, 2024 12:28 pm IST\n")
    assert decision.quotes
    for quote in decision.quotes:
        assert content_start <= quote.span.start < quote.span.end <= content_end, quote.text
        parts = quote.parts or [quote.span]
        assert " ".join(raw_page[p.start : p.end] for p in parts) == quote.text
    speakers = {q.text[:20]: q.speaker for q in decision.quotes}
    assert speakers["We discussed the inv"] == "Zelenskyy"
    assert speakers["unprecedented and da"] == "Yoon"


def test_exact_and_near_duplicates_join_the_seed_cluster(client, seed_texts):
    first = client.ingest(seed_article(seed_texts, SEED_000))
    client.ingest(seed_article(seed_texts, SEED_002))

    copy = client.ingest(seed_article(seed_texts, SEED_000, new_id="copy-of-000"))
    assert copy.verdict == pb.EXACT_DUPLICATE, copy.reason
    assert copy.cluster_id == first.cluster_id
    assert copy.matches[0].article_id == SEED_000

    paragraphs = seed_texts[SEED_000].split("\n")
    edited = "\n".join(
        ["Subscribe to our newsletter for the latest news", "Home | World | Europe | Sign in"]
        + paragraphs[:8]
        + paragraphs[9:]
        + ["Read more: the war in Ukraine", "© 2024 Example Media. All rights reserved."]
    )
    syndicated = client.ingest(
        make_article("syndicated-000", edited, title="Zelenskyy warns the war is going international")
    )
    assert syndicated.verdict == pb.NEAR_DUPLICATE, syndicated.reason
    assert syndicated.cluster_id == first.cluster_id
    assert syndicated.matches[0].article_id in (SEED_000, "copy-of-000")
    assert syndicated.matches[0].lexical_score > 0.7


def test_other_events_are_new_stories_in_their_own_clusters(client, seed_texts, other_events):
    seeds_cluster = {client.ingest(seed_article(seed_texts, stem)).cluster_id for stem in SEEDS}
    clusters = set()
    for row in other_events:
        decision = client.ingest(make_article(row["id"], row["text"], title=row["title"]))
        assert decision.verdict == pb.NEW_STORY, (row["id"], decision.reason)
        assert decision.new_cluster
        clusters.add(decision.cluster_id)
    assert len(clusters) == len(other_events)
    assert not clusters & seeds_cluster


def test_restart_changes_no_answer_and_no_cluster_id(start_server, tmp_path, seed_texts, other_events):
    data_dir = tmp_path / "kept"
    server = start_server(data_dir)
    with SamestoryClient(server.target) as client:
        before = {stem: client.ingest(seed_article(seed_texts, stem)) for stem in SEEDS}
        probe = make_article("probe", seed_texts[SEED_002].replace("Tuesday", "Tuesday evening"))
        check_before = client.check(probe)
        other = client.check(make_article("", other_events[0]["text"]))
    server.stop()

    server = start_server(data_dir)
    with SamestoryClient(server.target) as client:
        after = {stem: client.ingest(seed_article(seed_texts, stem)) for stem in SEEDS}
        assert after == before  # idempotent replays: the stored answers, byte for byte
        check_after = client.check(probe)
        assert check_after.verdict == check_before.verdict
        assert check_after.cluster_id == check_before.cluster_id
        assert [m.article_id for m in check_after.matches] == [m.article_id for m in check_before.matches]
        assert client.check(make_article("", other_events[0]["text"])).verdict == other.verdict
        cluster = client.get_cluster(before[SEED_000].cluster_id)
        assert sorted(m.article_id for m in cluster.articles) == sorted(SEEDS)
        stats = client.stats()
        assert (stats.articles, stats.lexical_index_size, stats.semantic_index_size) == (3, 3, 3)


def _healthy(client: SamestoryClient) -> None:
    assert client.health() == "SERVING"
    assert client.stats().articles >= 0


def test_bad_input_gets_a_clear_status_and_the_server_stays_healthy(start_server, seed_texts):
    server = start_server(max_article_chars=50_000, max_message_bytes=200_000)
    with SamestoryClient(server.target) as client:
        for text in ("", "   \n\t  "):
            with pytest.raises(grpc.RpcError) as err:
                client.ingest(make_article("empty", text))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "empty" in err.value.details()
            _healthy(client)

        with pytest.raises(grpc.RpcError) as err:
            client.ingest(make_article("big", "word " * 20_000))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "50000" in err.value.details()
        _healthy(client)

        with pytest.raises(grpc.RpcError) as err:
            client.ingest(make_article("huge", "word " * 100_000))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "200000" in err.value.details()
        _healthy(client)

        with pytest.raises(grpc.RpcError) as err:
            client.get_cluster("c_never_issued")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        _healthy(client)

        with pytest.raises(grpc.RpcError) as err:
            client.ingest(make_article("", seed_texts[SEED_000]))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "id" in err.value.details()
        _healthy(client)
        assert client.stats().articles == 0  # nothing half-written


def test_a_cluster_read_after_ingest_finds_the_pairs_the_ingests_aligned(server, client, seed_texts, monkeypatch):
    group_mod = importlib.import_module("samestory.quotes.group")  # the package's `group` is the function
    calls = []
    real = group_mod.align_articles

    def counted(*args, **kwargs):
        calls.append(args[0][:40])
        return real(*args, **kwargs)

    monkeypatch.setattr(group_mod, "align_articles", counted)
    for stem in SEEDS:
        cluster_id = client.ingest(seed_article(seed_texts, stem)).cluster_id
    read = client.get_cluster(cluster_id).quote_groups
    assert calls == []  # each later seed was aligned with the earlier ones as it was ingested
    server.detector.clear_alignments()
    assert client.get_cluster(cluster_id).quote_groups == read  # the same statements, aligned afresh
    assert len(calls) == 3


def test_get_cluster_returns_each_statement_once_with_every_wording(client, seed_texts):
    for stem in SEEDS:
        cluster_id = client.ingest(seed_article(seed_texts, stem)).cluster_id
    cluster = client.get_cluster(cluster_id)
    shared = [g for g in cluster.quote_groups if len({w.article_id for w in g.wordings}) > 1]

    def wordings(fragment):
        (group,) = [g for g in shared if any(fragment in w.quote.text for w in g.wordings if w.article_id == SEED_000)]
        return {w.article_id: seed_texts[w.article_id][w.span.start : w.span.end] for w in group.wordings}

    war = wordings("internationalized")
    assert set(war) == set(SEEDS)
    assert _norm(war[SEED_002]) == _norm(INTERNATIONALISED)
    assert _norm(war[SEED_003]).startswith("the conclusion is clear") and "discussed" not in war[SEED_003]
    discussed = wordings("We discussed")
    assert set(discussed) == {SEED_000, SEED_003} and "conclusion" not in discussed[SEED_003]


def test_quote_units_are_embedded_only_when_an_alignment_needs_them(server, embedder, seed_texts, monkeypatch):
    embedded: list[str] = []

    def counted(method):
        def call(texts, *args, **kwargs):
            embedded.extend(texts)
            return method(texts, *args, **kwargs)

        return call

    # Documents queue for a turn among the model's calls; quote units, made under the writer lock, run now.
    for name in ("encode", "encode_now"):
        monkeypatch.setattr(embedder, name, counted(getattr(embedder, name)))
    with SamestoryClient(server.target) as client:
        decisions = [client.ingest(seed_article(seed_texts, stem)) for stem in SEEDS]
    assert any(a.kind == pb.PARAPHRASE for d in decisions for a in d.aligned_quotes)
    units = {
        unit
        for stem in SEEDS
        for q in quotes.extract(seed_texts[stem], clean(seed_texts[stem]).paragraphs)
        for unit, _ in quotes.quote_units(seed_texts[stem], q)
        if quotes.can_paraphrase(unit)
    }
    made = [t for t in embedded if t in units]
    # Each article's document and lead at ingest; a unit only once a quote of another article may say the same.
    assert len(embedded) == 2 * len(SEEDS) + len(made)
    assert 0 < len(made) < len(units) / 2, (len(made), len(units))
