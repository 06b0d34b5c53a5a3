import datetime as dt

import numpy as np
import pytest
from samestory.decide import Candidate, ClusterEvidence, Probe, Thresholds, Verdict, decide
from samestory.lexical import Signature

TH = Thresholds()
BASE = list(range(128))
NOW = dt.datetime(2024, 10, 29, tzinfo=dt.UTC)


def sig(values, shingles=100):
    return Signature(np.array(values, dtype=np.uint64), shingles)


def cand(key, cluster, rank, values=None, exact="x", semantic=0.8):
    return Candidate(
        key=key,
        article_id=f"a{key}",
        cluster_id=cluster,
        cluster_rank=rank,
        exact_key=exact,
        signature=sig(values or [v + 1000 for v in BASE]),
        entities=frozenset({"kyiv"}),
        published=None,
        semantic=semantic,
    )


def evidence(cluster, rank, entity, lead, days=None):
    """`days`: how many days the story would span with the probe in it."""
    return ClusterEvidence(cluster, rank, 5, entity, lead, days_spanned=days)


PROBE = Probe("k", sig(BASE), frozenset({"kyiv"}), NOW)


def test_no_candidates_is_a_new_story():
    out = decide(PROBE, [], {}, TH)
    assert out.verdict is Verdict.NEW_STORY and out.cluster_id is None and "no candidates" in out.reason


def test_probability_follows_the_fitted_logit():
    ev = evidence("c", 1, 0.5, 0.8)
    logit = TH.intercept + TH.entity_weight * 0.5 + TH.lead_weight * 0.8
    assert ev.probability(TH) == pytest.approx(1 / (1 + np.exp(-logit)))
    assert evidence("c", 1, 0.9, 0.9).probability(TH) > 0.99
    assert evidence("c", 1, 0.0, 0.2).probability(TH) < 0.02


@pytest.mark.parametrize(
    ("flag", "explained"),
    [("year_conflict", "no year in common"), ("year_mismatch", "its latest year is not the other's publication year")],
)
def test_year_evidence_lowers_the_probability_and_is_explained(flag, explained):
    plain = evidence("c1", 1, 0.55, 0.8)
    flagged = ClusterEvidence("c1", 1, 5, 0.55, 0.8, **{flag: True})
    weight = getattr(TH, f"{flag}_weight")
    assert weight < 0
    assert flagged.logit(TH) == pytest.approx(plain.logit(TH) + weight)
    out = decide(PROBE, [cand(1, "c1", 1)], {"c1": flagged}, TH)
    assert out.verdict is Verdict.SAME_EVENT and explained in out.reason


def test_exact_key_wins_over_everything():
    clusters = {"c1": evidence("c1", 1, 0.9, 0.9), "c2": evidence("c2", 2, 0.0, 0.1)}
    out = decide(PROBE, [cand(1, "c1", 1), cand(2, "c2", 2, exact="k")], clusters, TH)
    assert out.verdict is Verdict.EXACT_DUPLICATE
    # c1 is strong same-event evidence too: the older cluster keeps its id and takes c2 in.
    assert out.cluster_id == "c1" and out.merged == ("c2",)


def test_high_jaccard_is_a_near_duplicate():
    values = BASE[:100] + [v + 5000 for v in BASE[100:]]
    out = decide(PROBE, [cand(1, "c1", 1, values=values)], {"c1": evidence("c1", 1, 0.1, 0.3)}, TH)
    assert out.verdict is Verdict.NEAR_DUPLICATE and out.matches[0].lexical > 0.75


def test_cluster_evidence_makes_the_same_event():
    out = decide(PROBE, [cand(1, "c1", 1)], {"c1": evidence("c1", 1, 0.45, 0.75)}, TH)
    assert out.verdict is Verdict.SAME_EVENT and out.cluster_id == "c1"
    assert "cluster c1 (5 articles): probability" in out.reason


def test_weak_cluster_evidence_is_a_new_story():
    out = decide(PROBE, [cand(1, "c1", 1, semantic=0.9)], {"c1": evidence("c1", 1, 0.1, 0.6)}, TH)
    assert out.verdict is Verdict.NEW_STORY and out.cluster_id is None


def test_time_distance_weakens_the_evidence():
    near = {"c1": evidence("c1", 1, 0.42, 0.7, days=0.0)}
    within = {"c1": evidence("c1", 1, 0.42, 0.7, days=TH.window_days - 1)}
    far = {"c1": evidence("c1", 1, 0.42, 0.7, days=5 * TH.window_days)}
    assert decide(PROBE, [cand(1, "c1", 1)], near, TH).verdict is Verdict.SAME_EVENT
    assert within["c1"].penalty(TH) == 0.0
    assert decide(PROBE, [cand(1, "c1", 1)], within, TH).verdict is Verdict.SAME_EVENT
    assert far["c1"].penalty(TH) == TH.max_time_penalty
    out = decide(PROBE, [cand(1, "c1", 1)], far, TH)
    assert out.verdict is Verdict.NEW_STORY and f"{5 * TH.window_days:.1f} days spanned with it" in out.reason


def test_a_story_of_the_same_days_gets_the_freshness_bonus_tapering_to_none():
    undated = evidence("c1", 1, 0.1, 0.4)
    spans = [evidence("c1", 1, 0.1, 0.4, days=d) for d in (0.0, TH.fresh_days / 2, TH.fresh_days, TH.window_days)]
    assert undated.freshness(TH) == 0.0 and undated.penalty(TH) == 0.0
    assert [ev.freshness(TH) for ev in spans] == pytest.approx([TH.fresh_bonus, TH.fresh_bonus / 2, 0.0, 0.0])
    assert spans[0].logit(TH) == pytest.approx(undated.logit(TH) + TH.fresh_bonus)
    # Weak evidence (names 0.1, lead 0.4) joins a story of the same day, not one a week older.
    assert decide(PROBE, [cand(1, "c1", 1)], {"c1": undated}, TH).verdict is Verdict.NEW_STORY
    assert decide(PROBE, [cand(1, "c1", 1)], {"c1": spans[0]}, TH).verdict is Verdict.SAME_EVENT
    assert decide(PROBE, [cand(1, "c1", 1)], {"c1": spans[3]}, TH).verdict is Verdict.NEW_STORY


def test_the_most_likely_cluster_wins():
    clusters = {"c1": evidence("c1", 1, 0.40, 0.7), "c2": evidence("c2", 2, 0.6, 0.8)}
    out = decide(PROBE, [cand(1, "c1", 1, semantic=0.95), cand(2, "c2", 2, semantic=0.7)], clusters, TH)
    assert out.cluster_id == "c2" and out.merged == ()


def _sized(cluster, rank, size, entity, lead):
    return ClusterEvidence(cluster, rank, size, entity, lead)


def test_two_settled_stories_merge_only_on_stronger_evidence():
    # The article is surely in "young" and likely (about 0.88) in "old": enough to merge a small
    # cluster, not two that have each grown to settled_size articles apart.
    likely = 0.88
    entity = (np.log(likely / (1 - likely)) - TH.intercept - TH.lead_weight * 0.85) / TH.entity_weight
    assert _sized("old", 3, 9, entity, 0.85).probability(TH) == pytest.approx(likely)
    assert TH.merge < likely < TH.settled_merge
    candidates = [cand(1, "young", 7), cand(2, "old", 3)]

    def outcome(young_size, old_size, old_entity=entity):
        clusters = {
            "young": _sized("young", 7, young_size, 0.8, 0.9),
            "old": _sized("old", 3, old_size, old_entity, 0.85),
        }
        return decide(PROBE, candidates, clusters, TH)

    settled = TH.settled_size
    apart = outcome(settled, settled)
    assert apart.verdict is Verdict.SAME_EVENT and apart.cluster_id == "young" and apart.merged == ()
    assert f"keeps old ({settled} articles, probability 0.880) apart: settled stories merge at 0.95" in apart.reason
    for young_size, old_size in ((settled - 1, 40), (40, settled - 1), (1, 1)):
        assert outcome(young_size, old_size).merged == ("young",)
    # Stronger evidence for the older story merges settled ones too.
    assert outcome(settled, settled, old_entity=0.8).merged == ("young",)
    # So does a near-duplicate of one of its articles, whatever the sizes.
    copy = cand(2, "old", 3, values=BASE[:100] + [v + 5000 for v in BASE[100:]])
    clusters = {"young": _sized("young", 7, 30, 0.8, 0.9), "old": _sized("old", 3, 30, entity, 0.85)}
    near = decide(PROBE, [cand(1, "young", 7), copy], clusters, TH)
    assert near.verdict is Verdict.NEAR_DUPLICATE and near.cluster_id == "old" and near.merged == ("young",)


def test_strong_evidence_into_two_clusters_merges_them_into_the_older():
    clusters = {"young": evidence("young", 7, 0.8, 0.9), "old": evidence("old", 3, 0.7, 0.9)}
    out = decide(PROBE, [cand(1, "young", 7), cand(2, "old", 3)], clusters, TH)
    assert out.cluster_id == "old" and out.merged == ("young",)
    assert "merges young into old" in out.reason
