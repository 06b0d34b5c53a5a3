import datetime as dt

import numpy as np
from samestory.decide import Candidate, Probe, Thresholds, Verdict, decide
from samestory.lexical import Signature

TH = Thresholds()


def sig(values, shingles=100):
    return Signature(np.array(values, dtype=np.uint64), shingles)


BASE = list(range(128))


def cand(key, cluster, rank, semantic, values=None, exact="x", entities=("kyiv",), published=None):
    return Candidate(
        key=key,
        article_id=f"a{key}",
        cluster_id=cluster,
        cluster_rank=rank,
        exact_key=exact,
        signature=sig(values or [v + 1000 for v in BASE]),
        entities=frozenset(entities),
        published=published,
        semantic=semantic,
    )


PROBE = Probe("k", sig(BASE), frozenset({"kyiv"}), dt.datetime(2024, 10, 29, tzinfo=dt.timezone.utc))


def test_no_candidates_is_a_new_story():
    out = decide(PROBE, [], TH)
    assert out.verdict is Verdict.NEW_STORY and out.cluster_id is None and "no candidates" in out.reason


def test_exact_key_wins_over_everything():
    out = decide(PROBE, [cand(1, "c1", 1, 0.6, entities=("paris",)), cand(2, "c2", 2, 0.5, exact="k")], TH)
    assert out.verdict is Verdict.EXACT_DUPLICATE and out.cluster_id == "c2"


def test_high_jaccard_is_a_near_duplicate():
    values = BASE[:100] + [v + 5000 for v in BASE[100:]]
    out = decide(PROBE, [cand(1, "c1", 1, 0.95, values=values)], TH)
    assert out.verdict is Verdict.NEAR_DUPLICATE
    assert out.matches[0].lexical > 0.75


def test_semantic_evidence_makes_the_same_event():
    out = decide(PROBE, [cand(1, "c1", 1, 0.8)], TH)
    assert out.verdict is Verdict.SAME_EVENT and out.cluster_id == "c1"


def test_weak_similarity_is_a_new_story():
    out = decide(PROBE, [cand(1, "c1", 1, 0.5, entities=("paris",))], TH)
    assert out.verdict is Verdict.NEW_STORY and out.cluster_id is None


def test_time_distance_weakens_the_evidence():
    near = cand(1, "c1", 1, 0.66, published=PROBE.published)
    far = cand(1, "c1", 1, 0.66, published=PROBE.published - dt.timedelta(days=60))
    assert decide(PROBE, [near], TH).verdict is Verdict.SAME_EVENT
    assert decide(PROBE, [far], TH).verdict is Verdict.NEW_STORY


def test_strong_evidence_into_two_clusters_merges_them_into_the_older():
    out = decide(PROBE, [cand(1, "young", 7, 0.9), cand(2, "old", 3, 0.85)], TH)
    assert out.cluster_id == "old"
    assert out.merged == ("young",)
    assert "merges young into old" in out.reason


def test_weak_second_cluster_is_not_merged():
    out = decide(PROBE, [cand(1, "c1", 1, 0.9), cand(2, "c2", 2, 0.7, entities=("paris",))], TH)
    assert out.matches[1].relation is Verdict.SAME_EVENT
    assert out.cluster_id == "c1" and out.merged == ()
