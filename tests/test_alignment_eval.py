"""The labelled alignment set and its scorer, on the part of it that lives in this repository: the seeds."""

import json

import pytest
from samestory.alignment_eval import read_alignment_set, score_alignments
from samestory.errors import ConfigurationError

from .conftest import REPO, SEEDS

SET = REPO / "bench/data/quote_alignments.jsonl"


def test_the_seed_pairs_align_as_labelled(embedder):
    pairs, skipped = read_alignment_set(SET, SEEDS)
    assert {p.corpus for p in pairs} == {"seeds"} and len(pairs) == 3
    # The rest needs PolNeAR's and ECB+'s corpora, which stay outside the repository.
    assert skipped["polnear"] > 20 and skipped["ecbplus"] > 20
    scores = score_alignments(pairs, embedder)
    assert scores.labelled == 4 and scores.quote_pairs > 20
    assert [scores.by_corpus["seeds", n] for n in ("right", "predicted", "labelled")] == [4, 4, 4]
    assert (scores.right, scores.predicted) == (4, 4), (scores.missed, scores.wrong)
    assert scores.kinds["paraphrase"] == 2 and scores.kinds["partial"] == 2


def test_a_wrong_alignment_and_a_miss_are_counted(embedder, tmp_path):
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]
    seed_rows = [r for r in rows if r["corpus"] == "seeds"]
    # Label the translation pair as different statements, and an unrelated pair as the same one.
    seed_rows[0]["aligned"] = [[[279, 371], [578, 601]]]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in seed_rows[:1]), encoding="utf-8")
    pairs, _ = read_alignment_set(path, SEEDS)
    scores = score_alignments(pairs, embedder)
    assert scores.right == 0 and scores.predicted == 1 and scores.labelled == 1
    assert len(scores.wrong) == 1 and len(scores.missed) == 1


def test_a_text_that_changed_since_labelling_is_refused(tmp_path):
    row = json.loads(SET.read_text(encoding="utf-8").splitlines()[0])
    row["a_sha1"] = "000000000000"
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="differs"):
        read_alignment_set(path, SEEDS)


def test_pairs_of_a_jsonl_corpus_are_read_and_counted_by_corpus(embedder, tmp_path):
    """A corpus outside the repository is a JSONL file of `id` and `text`, named on the command line."""
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines()]
    seed = rows[0]
    corpus = tmp_path / "corpus.jsonl"
    texts = {name: (SEEDS / f"{name}.txt").read_text(encoding="utf-8") for name in (seed["a"], seed["b"])}
    corpus.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()), encoding="utf-8")
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({**seed, "corpus": "other"}) + "\n", encoding="utf-8")
    pairs, skipped = read_alignment_set(path, SEEDS, {"other": corpus})
    assert [p.corpus for p in pairs] == ["other"] and not skipped
    scores = score_alignments(pairs, embedder)
    assert scores.by_corpus["other", "right"] == scores.right == 1 and "seeds" not in {c for c, _ in scores.by_corpus}
