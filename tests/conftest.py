"""Shared fixtures: the real model loaded once, real servers on loopback ports, real clients."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from samestory.config import Settings
from samestory.semantic import OnnxEmbedder, SentenceTransformerEmbedder, open_embedder
from samestory.server import BackgroundServer
from samestory_client import SamestoryClient, make_article, pb

from . import engines
from .engines import free_port  # noqa: F401 (the tests import it from here)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return SentenceTransformerEmbedder(threads=2)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """A throwaway cache for the run's converted models."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def int8(model_cache) -> OnnxEmbedder:
    """The same model on the onnx-int8 backend, converted once for the run."""
    return open_embedder(threads=2, backend="onnx-int8", cache_dir=model_cache)


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


@pytest.fixture(scope="session")
def other_events() -> list[dict]:
    with (DATA / "ecbplus_other_events.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture
def start_server(tmp_path: Path, embedder) -> Iterator[Callable[..., BackgroundServer]]:
    """Starts real gRPC servers on free loopback ports; stops them after the test."""
    servers: list[BackgroundServer] = []

    def start(data_dir: Path | None = None, **settings) -> BackgroundServer:
        config = Settings.load(env={}, data_dir=data_dir or tmp_path / "data", host="127.0.0.1", port=0, **settings)
        server = BackgroundServer(config, embedder)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if not server.stopped:
            server.stop()


@pytest.fixture
def server(start_server) -> BackgroundServer:
    return start_server()


@pytest.fixture
def client(server) -> Iterator[SamestoryClient]:
    with SamestoryClient(server.target, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """One throwaway PostgreSQL server for the run (see tests/engines.py)."""
    with engines.postgres_server() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One throwaway Redis server for the run; tests keep apart by basename."""
    with engines.redis_server() as url:
        yield url


@pytest.fixture
def shared_backends(postgres_dsn, redis_url, request) -> dict[str, str]:
    """Server settings for the shared backends: a fresh PostgreSQL database and a Redis LSH basename of its own."""
    return {"store": postgres_dsn, "lsh": redis_url, "lsh_basename": hashlib.sha1(postgres_dsn.encode()).hexdigest()}


@pytest.fixture
def postgres_dsn(postgres, request) -> str:
    """A fresh database of its own for each test."""
    return engines.fresh_database(postgres, "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16])


def seed_article(seed_texts: dict[str, str], stem: str, new_id: str | None = None) -> pb.Article:
    return make_article(new_id or stem, seed_texts[stem])
