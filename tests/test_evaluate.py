import subprocess
import sys
from pathlib import Path

import pytest
from samestory.evaluate import PairCounts, pair_counts, quality, read_dataset

from .conftest import DATA


def test_perfect_clustering_scores_one():
    gold = {"a": "x", "b": "x", "c": "y"}
    q = quality({"a": "1", "b": "1", "c": "2"}, gold)
    assert q.pairwise == (1.0, 1.0, 1.0) and q.bcubed == (1.0, 1.0, 1.0)
    assert (q.clusters, q.gold_clusters) == (2, 2)


def test_merged_and_split_clusterings():
    gold = {"a": "x", "b": "x", "c": "y", "d": "y"}
    merged = quality({k: "1" for k in gold}, gold)
    assert merged.pairwise[0] == pytest.approx(2 / 6) and merged.pairwise[1] == 1.0
    assert merged.bcubed[0] == pytest.approx(0.5) and merged.bcubed[1] == 1.0
    split = quality({k: k for k in gold}, gold)
    assert split.pairwise[1] == 0.0 and split.bcubed == (1.0, 0.5, pytest.approx(2 / 3))


def test_pair_counts_split_the_pairwise_figures_by_topic():
    # Events x and y are one topic, z another. Cluster 1 joins x's two articles (right), one of y
    # (two wrong pairs within the topic) and one of z (three wrong pairs across topics); y's and z's
    # second articles stand apart (a missed pair each).
    gold = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "z", "f": "z"}
    topic = {"a": "t1", "b": "t1", "c": "t1", "d": "t1", "e": "t2", "f": "t2"}
    predicted = {"a": "1", "b": "1", "c": "1", "f": "1", "d": "2", "e": "3"}
    counts = pair_counts(predicted, gold, topic)
    assert counts == {
        "t1": PairCounts(right=1, wrong=2, missed=1),
        "t2": PairCounts(right=0, wrong=0, missed=1),
        None: PairCounts(right=0, wrong=3, missed=0),
    }
    total = PairCounts()
    for c in counts.values():
        total.add(c)
    q = quality(predicted, gold)
    assert q.pairwise[0] == pytest.approx(total.right / (total.right + total.wrong)) == pytest.approx(1 / 6)
    assert q.pairwise[1] == pytest.approx(total.right / (total.right + total.missed)) == pytest.approx(1 / 3)


def test_read_dataset_needs_labels(tmp_path):
    rows = read_dataset(DATA / "labelled_small.jsonl")
    assert len(rows) == 7 and rows[0].label == "ukraine-korea-call-2024-10-29"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "x"}\n')
    with pytest.raises(ValueError, match="label"):
        read_dataset(bad)


def test_read_dataset_keeps_a_topic_where_the_file_gives_one(tmp_path):
    path = tmp_path / "topics.jsonl"
    path.write_text('{"id": "1", "text": "x", "label": "a", "topic": 7}\n{"id": "2", "text": "y", "label": "b"}\n')
    assert [r.topic for r in read_dataset(path)] == ["7", None]


@pytest.mark.slow
def test_eval_command_reports_the_detector_and_the_baselines():
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "samestory"),
            "eval",
            str(DATA / "labelled_small.jsonl"),
            "--shuffles",
            "2",
            "--near-duplicates",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "7 articles, 5 gold events" in out
    for method in ("samestory", "tf-idf single-pass", "embedding single-pass", "minhash-lsh components"):
        assert out.count(method) == 3  # two shuffles and the mean
    detector_rows = [line for line in out.splitlines() if line.startswith("shuffle") and "samestory" in line]
    assert all("1.000 1.000 1.000" in line for line in detector_rows), detector_rows
    assert "near-duplicates: 7/7 edited copies called NEAR_DUPLICATE" in out
    assert "same-event rewrites called near-duplicates: 0" in out
