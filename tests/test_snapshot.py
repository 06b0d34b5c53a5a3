"""Index snapshots: written atomically, verified on load, caught up from the store, rebuilt when unusable."""

from __future__ import annotations

import dataclasses
import logging
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from samestory.config import Settings
from samestory.detector import Detector
from samestory.records import ArticleIn
from samestory.snapshot import MAGIC, Snapshot, SnapshotError, read_snapshot, write_snapshot
from samestory.store import SQLiteStore
from samestory_client import SamestoryClient, make_article

from .conftest import seed_article


def _snapshot(count: int, seq: int = 7, centroids: int = 0) -> Snapshot:
    rng = np.random.default_rng(count)
    return Snapshot(
        seq=seq,
        parameters={"model": "m", "lsh.bands": "9"},
        keys=np.arange(1, count + 1, dtype=np.int64),
        shingles=rng.integers(0, 500, count).astype(np.int64),
        signatures=rng.integers(0, 2**32, (count, 16)).astype(np.uint64),
        vectors=rng.standard_normal((count, 8)).astype(np.float32),
        lists=rng.integers(-1, max(centroids, 1), count).astype(np.int64),
        times=rng.uniform(1.7e9, 1.8e9, count),
        horizon=1.65e9,
        centroids=rng.standard_normal((centroids, 8)).astype(np.float32),
    )


@pytest.mark.parametrize(("count", "centroids"), [(0, 0), (1, 0), (25, 0), (25, 4)])
def test_snapshot_round_trip(tmp_path, count, centroids):
    path = tmp_path / "index.snapshot"
    original = _snapshot(count, centroids=centroids)
    write_snapshot(path, original)
    loaded = read_snapshot(path)
    assert loaded.seq == original.seq and loaded.parameters == original.parameters
    assert loaded.horizon == original.horizon
    for name in ("keys", "shingles", "signatures", "vectors", "lists", "times", "centroids"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert not path.with_name("index.snapshot.tmp").exists()


def test_signatures_take_four_bytes_a_value_where_they_fit(tmp_path):
    # datasketch's affine32 scheme (the default) gives 32-bit values: 4 bytes each, not 8.
    narrow, wide = tmp_path / "narrow", tmp_path / "wide"
    snapshot = _snapshot(25)
    write_snapshot(narrow, snapshot)
    wide_snapshot = dataclasses.replace(snapshot, signatures=snapshot.signatures | np.uint64(1 << 40))
    write_snapshot(wide, wide_snapshot)
    assert wide.stat().st_size - narrow.stat().st_size == 25 * 16 * 4
    np.testing.assert_array_equal(read_snapshot(narrow).signatures, snapshot.signatures)
    np.testing.assert_array_equal(read_snapshot(wide).signatures, wide_snapshot.signatures)
    # A snapshot written before the width was a choice has no `signature_bytes` in its header: 8.
    data = wide.read_bytes()
    start = len(MAGIC) + 4
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    header = data[start : start + length].replace(b', "signature_bytes": 8', b"")
    assert len(header) < length
    old = tmp_path / "old"
    old.write_bytes(MAGIC + struct.pack("<I", len(header)) + header + data[start + length :])
    np.testing.assert_array_equal(read_snapshot(old).signatures, wide_snapshot.signatures)


def test_every_truncation_and_flipped_byte_is_detected(tmp_path):
    path = tmp_path / "index.snapshot"
    write_snapshot(path, _snapshot(3))
    data = path.read_bytes()
    broken = tmp_path / "broken"
    for cut in range(len(data)):
        broken.write_bytes(data[:cut])
        with pytest.raises(SnapshotError):
            read_snapshot(broken)
    for at in range(len(MAGIC), len(data), 7):
        flipped = bytearray(data)
        flipped[at] ^= 0x40
        broken.write_bytes(bytes(flipped))
        try:
            changed = read_snapshot(broken)
        except SnapshotError:
            continue
        # A flip inside the JSON header can leave it valid (a digit of seq or a parameter):
        # then the snapshot reads as other parameters or another seq, which the detector checks.
        assert (changed.seq, changed.parameters) != (7, {"model": "m", "lsh.bands": "9"})
    broken.write_bytes(b"")
    with pytest.raises(SnapshotError, match="not a Samestory index snapshot"):
        read_snapshot(broken)


# ------------------------------------------------------------ the detector


def _articles(seed_texts, other_events) -> list[ArticleIn]:
    out = [ArticleIn(article_id=stem, text=text) for stem, text in seed_texts.items()]
    out += [ArticleIn(article_id=e["id"], title=e["title"], text=e["text"]) for e in other_events]
    return out


def _detector(data_dir: Path, embedder) -> Detector:
    settings = Settings.load(env={}, data_dir=data_dir, snapshot_seconds=0)
    return Detector(settings, SQLiteStore(data_dir), embedder)


def _index_view(detector: Detector, probes: list[ArticleIn]) -> list:
    stats = detector.stats()
    assert stats["articles"] == stats["lexical_index_size"] == stats["semantic_index_size"]
    return [stats["articles"]] + [
        [(m.article_id, m.lexical, m.semantic) for m in detector.check(p).matches] for p in probes
    ]


def test_restart_loads_the_snapshot_and_replays_later_changes(tmp_path, embedder, seed_texts, other_events, caplog):
    articles = _articles(seed_texts, other_events)
    probes = [ArticleIn(article_id="", text=a.text[: len(a.text) // 2]) for a in articles]
    data_dir = tmp_path / "data"
    detector = _detector(data_dir, embedder)
    for article in articles[:4]:
        detector.ingest(article)
    snapshot_seq = detector.snapshot()
    assert snapshot_seq == detector.stats()["last_change"] > 0
    assert detector.snapshot() is None  # nothing new since
    for article in articles[4:]:
        detector.ingest(article)
    detector.delete(articles[1].article_id)  # removed after the snapshot
    detector.delete(articles[5].article_id)  # added and removed after the snapshot
    before = _index_view(detector, probes)
    detector.store.close()

    with caplog.at_level(logging.INFO, logger="samestory.detector"):
        restarted = _detector(data_dir, embedder)
    assert f"loaded from the snapshot at change {snapshot_seq}" in caplog.text
    assert restarted.stats()["snapshot_change"] == snapshot_seq
    assert _index_view(restarted, probes) == before
    restarted.store.close()


def test_the_sole_writer_reads_its_log_only_after_a_write_failed(tmp_path, embedder, seed_texts, other_events):
    """SQLite has one writer, whose writes reach its indexes directly: an ingest reads the store's change log
    only after a write raised, which may still have landed (a commit that fails after writing)."""
    articles = _articles(seed_texts, other_events)
    detector = _detector(tmp_path / "data", embedder)
    store = detector.store
    real_add, real_changes, reads = store.add, store.index_changes, []
    store.index_changes = lambda since: reads.append(since) or real_changes(since)
    detector.ingest(articles[0])  # the first write after start-up reads it
    detector.ingest(articles[1])
    detector.delete(articles[1].article_id)
    assert len(reads) == 1

    def landed_then_failed(article):
        real_add(article)
        raise OSError("disk I/O error")

    store.add = landed_then_failed
    with pytest.raises(OSError):
        detector.ingest(articles[2])
    store.add = real_add
    stats = detector.stats()
    assert (stats["articles"], stats["semantic_index_size"]) == (2, 1)  # stored, not yet indexed
    detector.ingest(articles[3])
    assert len(reads) == 2
    assert _index_view(detector, [])[0] == 3  # the landed write is indexed too
    detector.ingest(articles[4])
    assert len(reads) == 2
    store.close()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "index data"),
        (lambda data: data[:-40] + bytes(b ^ 1 for b in data[-40:]), "checksum"),
        (lambda data: b"not a snapshot", "bad magic"),
    ],
    ids=["truncated", "corrupted", "garbage"],
)
def test_a_damaged_snapshot_is_detected_and_rebuilt_from_the_store(
    tmp_path, embedder, seed_texts, other_events, caplog, damage, reason
):
    articles = _articles(seed_texts, other_events)
    probes = [ArticleIn(article_id="", text=a.text) for a in articles]
    data_dir = tmp_path / "data"
    detector = _detector(data_dir, embedder)
    for article in articles:
        detector.ingest(article)
    detector.snapshot()
    before = _index_view(detector, probes)
    detector.store.close()
    path = data_dir / "index.snapshot"
    path.write_bytes(damage(path.read_bytes()))

    with caplog.at_level(logging.INFO, logger="samestory.detector"):
        restarted = _detector(data_dir, embedder)
    assert "index snapshot not used, rebuilding from the store" in caplog.text
    assert reason in caplog.text
    assert "rebuilt from the store: 7 articles" in caplog.text
    assert _index_view(restarted, probes) == before
    assert restarted.snapshot() is not None  # a fresh, good snapshot replaces the damaged one
    restarted.store.close()
    read_snapshot(path)


def test_a_snapshot_of_other_data_is_not_used(tmp_path, embedder, seed_texts, other_events, caplog):
    articles = _articles(seed_texts, other_events)
    big, small = tmp_path / "big", tmp_path / "small"
    detector = _detector(big, embedder)
    for article in articles:
        detector.ingest(article)
    detector.snapshot()
    detector.store.close()
    detector = _detector(small, embedder)
    detector.ingest(articles[0])
    detector.store.close()
    (small / "index.snapshot").write_bytes((big / "index.snapshot").read_bytes())

    with caplog.at_level(logging.INFO, logger="samestory.detector"):
        restarted = _detector(small, embedder)
    assert "ahead of the store" in caplog.text
    assert restarted.stats()["semantic_index_size"] == 1
    restarted.store.close()


# ------------------------------------------------------------ over gRPC


def _wait_for_snapshot(client: SamestoryClient, change: int) -> None:
    deadline = time.monotonic() + 10
    while client.stats().snapshot_change < change and time.monotonic() < deadline:
        time.sleep(0.02)


def test_server_snapshots_in_the_background_and_on_stop(start_server, tmp_path, seed_texts, other_events):
    data_dir = tmp_path / "data"
    server = start_server(data_dir, snapshot_seconds=0.05, snapshot_changes=2)
    articles = [seed_article(seed_texts, stem) for stem in sorted(seed_texts)]
    articles.append(make_article(other_events[0]["id"], other_events[0]["text"], title=other_events[0]["title"]))
    with SamestoryClient(server.target, timeout=60) as client:
        client.ingest(articles[0])
        _wait_for_snapshot(client, 1)  # the first change is snapshotted at once
        assert client.stats().snapshot_change == 1
        client.ingest(articles[1])
        time.sleep(0.3)
        assert client.stats().snapshot_change == 1  # one change behind: below snapshot_changes
        client.ingest(articles[2])
        _wait_for_snapshot(client, 3)
        assert client.stats().snapshot_change == 3
        client.ingest(articles[3])
    server.stop()
    assert read_snapshot(data_dir / "index.snapshot").seq == 4  # written on the way out

    again = start_server(data_dir)
    with SamestoryClient(again.target, timeout=60) as client:
        stats = client.stats()
        assert (stats.articles, stats.semantic_index_size, stats.snapshot_change, stats.last_change) == (4, 4, 4, 4)


# ------------------------------------------- inverted file and time window


def _paragraphs(seed_texts, other_events) -> list[ArticleIn]:
    """Each long paragraph of the seeds and the ECB+ articles as an article of its own."""
    texts = [*seed_texts.values(), *(e["text"] for e in other_events)]
    unique = dict.fromkeys(p.strip() for t in texts for p in t.split("\n") if len(p.split()) >= 20)
    return [ArticleIn(article_id=f"p{i:03}", text=p) for i, p in enumerate(unique)]


def test_the_inverted_file_and_its_lists_survive_a_restart(tmp_path, embedder, seed_texts, other_events, caplog):
    articles = _paragraphs(seed_texts, other_events)
    assert len(articles) >= 45
    data_dir = tmp_path / "data"
    settings = Settings.load(env={}, data_dir=data_dir, snapshot_seconds=0, ivf_from=39, ivf_lists=1, ivf_probe=1)
    detector = Detector(settings, SQLiteStore(data_dir), embedder)
    for article in articles[:30]:
        detector.ingest(article)
    assert detector.vector_index == "flat"
    with caplog.at_level(logging.INFO, logger="samestory.semantic"):
        for article in articles[30:]:
            detector.ingest(article)
        detector.wait_for_training(timeout=60)
    assert "moved from exact search to an inverted file of 1 lists" in caplog.text
    assert detector.vector_index == "ivf1"
    detector.snapshot()
    detector.delete(articles[3].article_id)
    probes = [ArticleIn(article_id="", text=a.text[: len(a.text) * 2 // 3]) for a in articles[::4]]
    before = _index_view(detector, probes)
    detector.store.close()

    caplog.clear()
    with caplog.at_level(logging.INFO):
        restarted = Detector(settings, SQLiteStore(data_dir), embedder)
    assert "loaded from the snapshot" in caplog.text and "vector index ivf1" in caplog.text
    assert "moved from exact search" not in caplog.text  # trained once, not again on restart
    assert _index_view(restarted, probes) == before
    restarted.store.close()


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_the_time_window_evicts_old_articles_from_the_indexes_only(tmp_path, embedder, seed_texts, caplog):
    data_dir, clock = tmp_path / "data", _Clock()
    settings = Settings.load(env={}, data_dir=data_dir, snapshot_seconds=0, index_window_days=30)
    detector = Detector(settings, SQLiteStore(data_dir), embedder, clock=clock)
    articles = _articles(seed_texts, [])
    edited = ArticleIn(article_id="", text=articles[1].text.replace("Zelensky", "Zelenskyy") + "\nMore to follow.")
    for article in articles[:2]:
        detector.ingest(article)
    assert detector.check(edited).verdict.name == "NEAR_DUPLICATE"
    detector.snapshot()
    clock.now += 20 * 86_400
    detector.ingest(articles[2])
    assert detector.evict() == 0
    clock.now += 11 * 86_400  # the first two are now 31 days old, the third 11
    assert detector.evict() == 2
    stats = detector.stats()
    assert (stats["articles"], stats["lexical_index_size"], stats["semantic_index_size"]) == (3, 1, 1)
    late = detector.check(edited)  # only the third seed, a write-up of its own, is left to match
    assert late.verdict.name == "SAME_EVENT" and {m.article_id for m in late.matches} == {articles[2].article_id}
    record, _ = detector.get_article(articles[0].article_id)  # still stored, still in its cluster
    assert record.article_id in [m.article_id for m in detector.get_cluster(record.cluster_id).members]
    detector.store.close()

    # A restart loads only what is inside the window, from the older snapshot and the store.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="samestory.detector"):
        restarted = Detector(settings, SQLiteStore(data_dir), embedder, clock=clock)
    assert "loaded from the snapshot" in caplog.text
    stats = restarted.stats()
    assert (stats["articles"], stats["lexical_index_size"], stats["semantic_index_size"]) == (3, 1, 1)
    restarted.store.close()
    clock.now += 20 * 86_400
    restarted = Detector(settings, SQLiteStore(data_dir), embedder, clock=clock)
    assert restarted.stats()["semantic_index_size"] == 0
    restarted.store.close()
