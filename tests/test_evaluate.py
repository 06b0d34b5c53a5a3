import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from samestory.evaluate import PairCounts, gold_of, orders, pair_counts, quality, read_dataset

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


def _unlabelled(tmp_path):
    path = tmp_path / "articles.jsonl"
    lines = [
        {"id": "a", "text": "first text", "date": "2016-02-02"},
        {"id": "b", "text": "second text", "date": "2016-02-01"},
        {"id": "c", "text": "third text", "date": "2016-02-01"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_labels_from_a_file_of_their_own_score_only_the_labelled(tmp_path):
    labels = tmp_path / "labels.jsonl"
    sha = hashlib.sha1(b"first text").hexdigest()[:12]
    labels.write_text(json.dumps({"id": "a", "label": "x", "sha1": sha}) + "\n" + '{"id": "c", "label": "x"}\n')
    rows = read_dataset(_unlabelled(tmp_path), labels)
    assert [(r.article.article_id, r.label) for r in rows] == [("a", "x"), ("b", None), ("c", "x")]
    assert gold_of(rows) == {"a": "x", "c": "x"}
    # b is streamed but not scored: putting it with a and c costs nothing.
    assert quality({"a": "1", "b": "1", "c": "1"}, gold_of(rows)).pairwise == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "z", "label": "x"}', "1 labelled ids are not in"),
        ('{"id": "a", "label": "x", "sha1": "0000"}', "is not the one labelled"),
        ('{"id": "a"}', "needs id and label"),
        ('{"id": "a", "label": "x"}\n{"id": "a", "label": "y"}', "labelled twice"),
    ],
)
def test_labels_that_do_not_fit_the_dataset_are_refused(tmp_path, line, message):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        read_dataset(_unlabelled(tmp_path), labels)


def test_streaming_by_date_sorts_and_shuffles_only_the_ties(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "a", "label": "x"}\n')
    rows = read_dataset(_unlabelled(tmp_path), labels)
    ((name, ordered),) = orders(rows, by_date=True)
    assert name == "date order" and [r.article.article_id for r in ordered] == ["b", "c", "a"]
    shuffled = [[r.article.article_id for r in s] for _, s in orders(rows, shuffles=8, by_date=True)]
    assert {tuple(s) for s in shuffled} == {("b", "c", "a"), ("c", "b", "a")}
    undated = tmp_path / "undated.jsonl"
    undated.write_text('{"id": "u", "text": "t", "label": "x"}\n')
    with pytest.raises(ValueError, match="1 have none, such as 'u'"):
        orders(read_dataset(undated), by_date=True)


def test_read_dataset_keeps_a_topic_where_the_file_gives_one(tmp_path):
    path = tmp_path / "topics.jsonl"
    path.write_text('{"id": "1", "text": "x", "label": "a", "topic": 7}\n{"id": "2", "text": "y", "label": "b"}\n')
    assert [r.topic for r in read_dataset(path)] == ["7", None]


def _samestory(*args):
    return subprocess.run(
        [str(Path(sys.executable).parent / "samestory"), *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_eval_command_reports_the_detector_and_the_baselines():
    result = _samestory("eval", str(DATA / "labelled_small.jsonl"), "--shuffles", "2", "--near-duplicates")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "7 articles, 5 gold events" in out
    for method in ("samestory", "tf-idf single-pass", "embedding single-pass", "minhash-lsh components"):
        assert out.count(method) == 3  # two shuffles and the mean
    detector_rows = [line for line in out.splitlines() if line.startswith("shuffle") and "samestory" in line]
    assert all("1.000 1.000 1.000" in line for line in detector_rows), detector_rows
    assert "near-duplicates: 7/7 edited copies called NEAR_DUPLICATE" in out
    assert "same-event rewrites called near-duplicates: 0" in out


def test_eval_refuses_undated_articles_by_date_before_loading_the_model():
    result = _samestory("eval", str(DATA / "labelled_small.jsonl"), "--by-date")
    assert result.returncode == 2
    assert "samestory eval: streaming by date needs every article's date; 7 have none" in result.stderr


@pytest.mark.slow
def test_eval_streams_every_article_by_date_and_scores_the_labelled(tmp_path):
    # The small set, dated, its labels in a file of their own: the seeds and one ECB+ article labelled,
    # the other three ECB+ articles streamed unscored.
    rows = [json.loads(line) for line in (DATA / "labelled_small.jsonl").read_text().splitlines() if line.strip()]
    dataset, labels = tmp_path / "dated.jsonl", tmp_path / "labels.jsonl"
    dates = ["2024-10-29", "2024-10-29", "2024-10-30", "2008-12-19", "2005-11-27", "2009-01-06", "2012-03-01"]
    unlabelled = [{k: v for k, v in r.items() if k != "label"} | {"date": d} for r, d in zip(rows, dates, strict=True)]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in unlabelled))
    labels.write_text("".join(json.dumps({"id": r["id"], "label": r["label"]}) + "\n" for r in rows[:4]))
    result = _samestory("eval", str(dataset), "--labels", str(labels), "--by-date")
    assert result.returncode == 0, result.stderr
    assert "7 articles, 2 gold events, 4 of them labelled" in result.stdout
    detector = [line for line in result.stdout.splitlines() if line.startswith("date order") and "samestory" in line]
    assert len(detector) == 1 and "1.000 1.000 1.000" in detector[0], result.stdout
