import datetime as dt
import math

import numpy as np
import pytest
from samestory.profile import PROFILE_TERMS, Profile, entity_cosine, idf, lead_cosine, term_weights

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2024, 10, 29, tzinfo=dt.UTC)


def test_term_weights_are_sublinear():
    assert term_weights({"lohan": 1, "rehab": 3}) == {"lohan": 1.0, "rehab": pytest.approx(1 + math.log(3))}


def test_add_remove_and_absorb_are_inverse_sums():
    a = Profile()
    a.add(np.array([1.0, 0.0]), {"lohan": 2}, T0)
    a.add(np.array([0.0, 1.0]), {"lohan": 1, "court": 1}, T0 + 2 * DAY)
    assert a.size == 2 and a.entities["court"] == 1.0
    assert (a.first_published, a.last_published) == (T0, T0 + 2 * DAY)
    a.add(np.array([0.0, 1.0]), {"lohan": 1, "court": 1}, None, sign=-1)
    assert a.size == 1 and "court" not in a.entities and np.allclose(a.lead_sum, [1.0, 0.0])
    b = Profile()
    b.add(np.array([0.0, 2.0]), {"reid": 1}, T0 - DAY)
    a.absorb(b)
    assert a.size == 2 and set(a.entities) == {"lohan", "reid"} and a.first_published == T0 - DAY


def test_a_long_story_keeps_its_heaviest_names_only():
    """Past a quarter more than PROFILE_TERMS names, a profile keeps the PROFILE_TERMS heaviest (ties by name), so a
    story's cost per decision stops growing; the story's own names stay, and a merge is pruned too."""
    story = Profile()
    lead = np.ones(2)
    for n in range(PROFILE_TERMS):  # each member: the protagonist, and two names of its own
        story.add(lead, {"zelensky": 2, f"a{n:05d}": 1, f"b{n:05d}": 1}, None)
        assert len(story.entities) <= PROFILE_TERMS * 5 // 4
    assert PROFILE_TERMS <= len(story.entities) <= PROFILE_TERMS * 5 // 4
    assert story.entities["zelensky"] == pytest.approx(PROFILE_TERMS * (1 + math.log(2)), rel=1e-6)
    tied = Profile(entities={f"t{n:05d}": 1.0 for n in reversed(range(PROFILE_TERMS * 5 // 4 + 1))})
    tied.add(lead, {}, None)  # equal weights go by name, not by arrival: the same in every replica
    assert sorted(tied.entities) == [f"t{n:05d}" for n in range(PROFILE_TERMS)]
    story.add(lead, {"zelensky": 2, "a00000": 1, "b00000": 1}, None, sign=-1)  # a member removed: no negative sums
    assert min(story.entities.values()) > 0
    other = Profile()
    other.add(lead, {f"c{n:05d}": 1 for n in range(PROFILE_TERMS)}, None)
    story.absorb(other)
    assert len(story.entities) <= PROFILE_TERMS * 5 // 4 and "zelensky" in story.entities


def test_days_spanned_reach_the_farthest_member():
    p = Profile()
    p.add(np.zeros(2), {}, T0)
    p.add(np.zeros(2), {}, T0 + 4 * DAY)
    assert p.days_spanned(T0 + DAY) == pytest.approx(3.0)
    assert p.days_spanned(T0 + 10 * DAY) == pytest.approx(10.0)
    assert p.days_spanned(T0 - DAY) == pytest.approx(5.0)
    assert p.days_spanned(None) is None and Profile().days_spanned(T0) is None


def test_entity_cosine_weights_rare_names_over_common_ones():
    p = Profile()
    p.add(np.zeros(2), {"lohan": 3, "california": 1}, None)
    frequencies = {"lohan": 2, "reid": 2, "california": 90}
    same_person = entity_cosine({"lohan": 2, "california": 1}, p, 100, frequencies)
    other_person = entity_cosine({"reid": 2, "california": 1}, p, 100, frequencies)
    assert same_person > 0.9 > 0.2 > other_person
    assert idf(100, 0) > idf(100, 90) >= 1.0
    assert entity_cosine({}, p, 100, frequencies) == 0.0


def test_cluster_evidence_gives_each_cluster_the_tf_idf_cosine_by_the_book():
    from samestory.profile import cluster_evidence

    article = {"lohan": 2, "california": 1, "2008": 1, "nobody": 3}
    a, b, empty = Profile(), Profile(), Profile()
    a.add(np.zeros(2), {"lohan": 3, "california": 1, "court": 2}, None)
    b.add(np.zeros(2), {"reid": 1, "california": 2, "2008": 1, "promises": 1}, None)
    frequencies = {"lohan": 2, "reid": 2, "california": 90, "court": 7, "2008": 7}  # "nobody", "promises": unseen
    evidence = cluster_evidence(
        article, np.zeros(2), None, {"a": a, "b": b, "e": empty}, {"a": 1, "b": 2, "e": 3}, 100, frequencies
    )

    def by_the_book(sums):
        tfidf = {t: w * idf(100, frequencies.get(t, 0)) for t, w in sums.items()}
        mine = {t: w * idf(100, frequencies.get(t, 0)) for t, w in term_weights(article).items()}
        dot = sum(v * tfidf.get(t, 0.0) for t, v in mine.items())
        return dot / math.sqrt(sum(v * v for v in mine.values())) / math.sqrt(sum(v * v for v in tfidf.values()))

    assert evidence["a"].entity_similarity == round(by_the_book(a.entities), 6) > 0.4
    assert evidence["b"].entity_similarity == round(by_the_book(b.entities), 6) > 0.0
    assert evidence["e"].entity_similarity == 0.0
    assert evidence["b"].entity_similarity == round(entity_cosine(article, b, 100, frequencies), 6)


def test_lead_cosine_uses_the_centroid():
    p = Profile()
    p.add(np.array([1.0, 0.0]), {}, None)
    p.add(np.array([0.0, 1.0]), {}, None)
    assert lead_cosine(np.array([1.0, 0.0]), p) == pytest.approx(1 / math.sqrt(2))
    assert lead_cosine(np.array([1.0, 0.0]), Profile()) == 0.0


def test_years_conflict_only_when_both_name_years_and_share_none():
    from samestory.profile import year_conflict, years

    assert years({"2008", "beijing", "91000", "1999", "2150"}) == {"2008", "1999"}
    cluster = Profile()
    cluster.add(np.ones(4, dtype=np.float32), {"klitschko": 2, "2008": 1}, None)
    theirs = years(cluster.entities)
    assert year_conflict(years({"klitschko": 1, "2011": 1}), theirs)
    assert not year_conflict(years({"klitschko": 1, "2011": 1, "2008": 1}), theirs)
    assert not year_conflict(years({"klitschko": 1}), theirs)  # no year named: no evidence either way


def test_year_mismatch_compares_a_publication_year_with_the_latest_year_the_other_side_names():
    from samestory.profile import year_mismatch, years

    def at(year: int) -> dt.datetime:
        return dt.datetime(year, 6, 1, tzinfo=dt.UTC)

    def mismatch(published: dt.datetime | None, counts: dict[str, int], cluster: Profile) -> bool:
        return year_mismatch(published, years(counts), years(cluster.entities), cluster)

    undated = Profile()
    undated.add(np.ones(4, dtype=np.float32), {"klitschko": 2, "2004": 1, "2008": 1}, None)
    assert mismatch(at(2012), {"klitschko": 1}, undated)  # its latest year is 2008
    assert not mismatch(at(2008), {"klitschko": 1}, undated)
    assert not mismatch(None, {"klitschko": 1, "2001": 1}, undated)  # neither side is dated

    dated = Profile()
    dated.add(np.ones(4, dtype=np.float32), {"klitschko": 2}, at(2011))
    dated.add(np.ones(4, dtype=np.float32), {"klitschko": 2}, at(2012))
    assert mismatch(None, {"klitschko": 1, "2008": 1}, dated)
    assert not mismatch(None, {"klitschko": 1, "2005": 1, "2011": 1}, dated)  # within its span
    assert not mismatch(at(2012), {"klitschko": 1}, dated)  # no year named: no evidence

    both = Profile()
    both.add(np.ones(4, dtype=np.float32), {"2008": 1}, at(2012))
    assert not mismatch(at(2008), {"2012": 1}, both)  # one direction matches: enough
    assert mismatch(at(2010), {"2009": 1}, both)
