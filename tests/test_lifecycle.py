"""Graceful shutdown and client retries, against real servers."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from samestory.config import Settings
from samestory.server import BackgroundServer
from samestory_client import SamestoryClient, make_article

from .conftest import free_port, seed_article

SEED_000 = "000_37e6b592380adfa8"


class SlowEmbedder:
    """The real model, made slow, so that a call is surely in flight when the server stops."""

    def __init__(self, embedder, delay: float) -> None:
        self._embedder = embedder
        self.identity, self.dim = embedder.identity, embedder.dim
        self.delay = delay

    def encode(self, texts, prefixes=()):
        time.sleep(self.delay)
        return self._embedder.encode(texts, prefixes)


def test_stop_turns_health_off_and_lets_in_flight_calls_finish(tmp_path, embedder, seed_texts):
    settings = Settings.load(env={}, data_dir=tmp_path / "d", host="127.0.0.1", port=0)
    server = BackgroundServer(settings, SlowEmbedder(embedder, 2.0))
    result: dict = {}
    with SamestoryClient(server.target) as client:

        def ingest():
            try:
                result["decision"] = client.ingest(seed_article(seed_texts, SEED_000), timeout=30)
            except grpc.RpcError as exc:  # pragma: no cover - reported below
                result["error"] = exc

        caller = threading.Thread(target=ingest)
        caller.start()
        time.sleep(0.5)  # the call is now inside the model
        stopper = threading.Thread(target=server.stop, kwargs={"grace": 10})
        started = time.monotonic()
        stopper.start()
        time.sleep(0.3)
        with SamestoryClient(server.target, retries=0) as probe:
            try:
                status = probe.health(timeout=2)
            except grpc.RpcError as exc:
                status = exc.code().name
        assert status in ("NOT_SERVING", "UNAVAILABLE")  # never SERVING once stopping
        caller.join(30)
        stopper.join(30)
        assert time.monotonic() - started < 10
    assert "error" not in result, result.get("error")
    assert result["decision"].stored

    restarted = BackgroundServer(settings, embedder)
    try:
        with SamestoryClient(restarted.target) as client:
            assert client.get_article(SEED_000).cluster_id == result["decision"].cluster_id
    finally:
        restarted.stop()


def test_client_retries_while_the_server_comes_up(tmp_path, embedder):
    port = free_port()
    settings = Settings.load(env={}, data_dir=tmp_path / "d", host="127.0.0.1", port=port)
    servers = []
    starter = threading.Timer(0.3, lambda: servers.append(BackgroundServer(settings, embedder)))
    with SamestoryClient(f"127.0.0.1:{port}", retries=4, timeout=30) as client:
        starter.start()
        try:
            assert client.stats().articles == 0
        finally:
            starter.join()
            for server in servers:
                server.stop()


def test_deadline_exceeded_is_reported_to_the_caller(tmp_path, embedder):
    settings = Settings.load(env={}, data_dir=tmp_path / "d", host="127.0.0.1", port=0)
    server = BackgroundServer(settings, SlowEmbedder(embedder, 1.5))
    try:
        with SamestoryClient(server.target) as client:
            try:
                client.check(make_article("x", "A short article about the weather today in Kyiv."), timeout=0.3)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            else:
                raise AssertionError("the deadline was not honoured")
            assert client.health() == "SERVING"
    finally:
        server.stop()


def test_an_ingest_past_its_deadline_stores_nothing(tmp_path, embedder):
    settings = Settings.load(env={}, data_dir=tmp_path / "d", host="127.0.0.1", port=0)
    server = BackgroundServer(settings, SlowEmbedder(embedder, 1.0))
    try:
        with SamestoryClient(server.target, retries=0) as client:
            try:
                client.ingest(make_article("late", "A storm hit the coast at night and cut power."), timeout=0.4)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            else:
                raise AssertionError("the deadline was not honoured")
            time.sleep(1.5)  # the server has finished its side by now
            assert client.stats().articles == 0
            with pytest.raises(grpc.RpcError) as err:
                client.get_article("late")
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        server.stop()
