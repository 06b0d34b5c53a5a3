"""SIGKILL at random moments during a stream of ingests: every acknowledged article survives.

The server runs as its own process (`samestory serve`), the client ingests
one article after another, and the process is killed without warning 30
times, every other time while an index snapshot is being written; after
each restart every acknowledged article is there, in the cluster it was
acknowledged in (or the one that cluster merged into), and the store and
both indexes agree on their counts.

The server runs on the onnx-int8 backend, converted once for the run: it
starts in about 2.5 s where torch takes 4 or more, and what is
tested (the store, the snapshot, the catch-up) does not depend on the backend.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from samestory_client import SamestoryClient, make_article

from .conftest import DATA, SEEDS, free_port

BIN = Path(sys.executable).parent
KILLS = 30


def _articles(count: int) -> list:
    paragraphs = []
    for path in sorted(SEEDS.glob("*.txt")):
        paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n") if len(p.split()) > 8]
    with (DATA / "ecbplus_other_events.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            paragraphs += [p for p in json.loads(line)["text"].split("\n") if len(p.split()) > 8]
    rng = random.Random(7)
    out = []
    for n in range(count):
        body = rng.sample(paragraphs, 4) + [f"This is report number {n} of the series, filed at {n % 24}:00."]
        out.append(make_article(f"a{n:04d}", "\n".join(body), title=f"Report {n}"))
    return out


def _start(data_dir: Path, port: int, log: Path, model_cache: Path) -> subprocess.Popen:
    # A snapshot after every change, checked every 20 ms: many kills land while one is written.
    env = {
        **os.environ,
        "SAMESTORY_BACKEND": "onnx-int8",
        "SAMESTORY_MODEL_CACHE": str(model_cache),
        "SAMESTORY_LOG_LEVEL": "WARNING",
        "SAMESTORY_SNAPSHOT_SECONDS": "0.02",
        "SAMESTORY_SNAPSHOT_CHANGES": "1",
    }
    command = [str(BIN / "samestory"), "serve", "--data-dir", str(data_dir), "--port", str(port)]
    with log.open("ab") as stderr:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def _wait_ready(target: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    with SamestoryClient(target, retries=0, timeout=2) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited during start-up"
            try:
                if client.health() == "SERVING":
                    return
            except grpc.RpcError:
                time.sleep(0.2)
    pytest.fail("the server did not come up")


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.0005)
    return False


def _ingest_until_stopped(target: str, articles: list, acknowledged: dict[str, str], stop: threading.Event) -> None:
    """Ingest the articles not yet acknowledged, in order, until stopped or cut off."""
    with SamestoryClient(target, retries=0, timeout=30) as client:
        for article in articles[len(acknowledged) :]:
            if stop.is_set():
                return
            try:
                decision = client.ingest(article)
            except grpc.RpcError:
                return  # killed mid-call: not acknowledged, sent again after the restart
            acknowledged[article.id] = decision.cluster_id


def _check(target: str, acknowledged: dict[str, str]) -> None:
    with SamestoryClient(target, retries=0, timeout=30) as client:
        stats = client.stats()
        assert stats.articles == stats.lexical_index_size == stats.semantic_index_size
        # An ingest committed just before the kill, whose answer never arrived, may be there too.
        assert stats.articles in (len(acknowledged), len(acknowledged) + 1)
        # Each acknowledged cluster ID resolved once (a cluster's answer carries its quote groups: not cheap).
        resolved = {c: client.get_cluster(c).cluster_id for c in set(acknowledged.values())}
        for article_id, cluster_id in acknowledged.items():
            assert client.get_article(article_id).cluster_id == resolved[cluster_id]


@pytest.mark.slow
def test_acknowledged_ingests_survive_sigkill(tmp_path, model_cache, int8):
    # `int8` converts the model into `model_cache` once; every start below loads the converted file.
    articles = _articles(400)
    acknowledged: dict[str, str] = {}
    data_dir = tmp_path / "data"
    rng = random.Random(11)
    tmp_snapshot = data_dir / "index.snapshot.tmp"
    during_snapshot = 0
    log = tmp_path / "server.log"
    for kill in range(KILLS + 1):
        port = free_port()
        target = f"127.0.0.1:{port}"
        process = _start(data_dir, port, log, model_cache)
        try:
            _wait_ready(target, process)
            _check(target, acknowledged)
            if kill == KILLS:
                break
            stop = threading.Event()
            worker = threading.Thread(target=_ingest_until_stopped, args=(target, articles, acknowledged, stop))
            worker.start()
            time.sleep(rng.uniform(0.1, 1.2))
            if kill % 2 and _wait_for(tmp_snapshot.exists, timeout=5):
                during_snapshot += 1
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            stop.set()
            worker.join(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert len(acknowledged) > KILLS  # the stream made progress between the kills
    assert during_snapshot >= KILLS // 4, f"only {during_snapshot} kills landed while a snapshot was written"
    # A kill mid-write leaves the previous snapshot whole: no start had to rebuild.
    warnings = log.read_text(encoding="utf-8")
    assert "snapshot not used" not in warnings and "disagrees with the store" not in warnings, warnings
