"""The labelled alignment set and its scorer, on the part of it that lives in this repository: the seeds."""

import json

import pytest
from samestory.alignment_eval import read_alignment_set, score_alignments
from samestory.errors import ConfigurationError

from .conftest import REPO, SEEDS

SET = REPO / "bench/data/quote_alignments.jsonl"


def test_the_seed_pairs_align_as_labelled(embedder):
    pairs, skipped = read_alignment_set(SET, SEEDS, polnear=None)
    assert {p.corpus for p in pairs} == {"seeds"} and len(pairs) == 3
    assert skipped["polnear"] > 20  # the rest needs PolNeAR's corpus, which stays outside the repository
    scores = score_alignments(pairs, embedder)
    assert scores.labelled == 4 and scores.quote_pairs > 20
    assert (scores.right, scores.predicted) == (4, 4), (scores.missed, scores.wrong)
    assert scores.kinds["paraphrase"] == 2 and scores.kinds["partial"] == 2


def test_a_wrong_alignment_and_a_miss_are_counted(embedder, tmp_path):
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]
    seed_rows = [r for r in rows if r["corpus"] == "seeds"]
    # Label the translation pair as different statements, and an unrelated pair as the same one.
    seed_rows[0]["aligned"] = [[[279, 371], [578, 601]]]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in seed_rows[:1]), encoding="utf-8")
    pairs, _ = read_alignment_set(path, SEEDS, polnear=None)
    scores = score_alignments(pairs, embedder)
    assert scores.right == 0 and scores.predicted == 1 and scores.labelled == 1
    assert len(scores.wrong) == 1 and len(scores.missed) == 1


def test_a_text_that_changed_since_labelling_is_refused(tmp_path):
    row = json.loads(SET.read_text(encoding="utf-8").splitlines()[0])
    row["a_sha1"] = "000000000000"
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="differs"):
        read_alignment_set(path, SEEDS, polnear=None)
