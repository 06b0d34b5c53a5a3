"""TLS and tokens: every RPC with no token, a wrong token and each role, over TLS."""

from __future__ import annotations

import subprocess

import grpc
import pytest
from samestory.auth import load_tokens
from samestory.errors import ConfigurationError
from samestory_client import SamestoryClient, make_article

from .conftest import seed_article

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
SEED = "000_37e6b592380adfa8"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "server.pem", where / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def secure(start_server, certificate, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# role token\nreader {READER}\nwriter {WRITER}\n")
    cert, key = certificate
    server = start_server(tls_cert=cert, tls_key=key, tokens_file=tokens)
    return server, cert.read_bytes()


def _calls(client: SamestoryClient, article):
    return {
        "Check": lambda: client.check(article),
        "Ingest": lambda: client.ingest(article),
        "IngestStream": lambda: [r for r in client.ingest_many([article])],
        "GetCluster": lambda: client.get_cluster("c_unknown"),
        "GetArticle": lambda: client.get_article(article.id),
        "DeleteArticle": lambda: client.delete_article("nobody"),
        "Stats": lambda: client.stats(),
    }


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_every_rpc_by_token_and_role_over_tls(secure, seed_texts):
    server, roots = secure
    article = seed_article(seed_texts, SEED)
    expected_ok = {
        "Check": grpc.StatusCode.OK,
        "Ingest": grpc.StatusCode.OK,
        "IngestStream": grpc.StatusCode.OK,
        "GetCluster": grpc.StatusCode.NOT_FOUND,
        "GetArticle": grpc.StatusCode.OK,
        "DeleteArticle": grpc.StatusCode.NOT_FOUND,
        "Stats": grpc.StatusCode.OK,
    }
    writes = {"Ingest", "IngestStream", "DeleteArticle"}
    for token in (None, "wrong-token-0123456789abcdef"):
        with SamestoryClient(server.target, root_certificates=roots, token=token, retries=0) as client:
            for name, call in _calls(client, article).items():
                assert _code(call) == grpc.StatusCode.UNAUTHENTICATED, (token, name)
            assert client.health() == "SERVING"  # health stays open
    with SamestoryClient(server.target, root_certificates=roots, token=WRITER) as writer:
        for name, call in _calls(writer, article).items():
            assert _code(call) == expected_ok[name], name
    with SamestoryClient(server.target, root_certificates=roots, token=READER) as reader:
        for name, call in _calls(reader, article).items():
            expected = grpc.StatusCode.PERMISSION_DENIED if name in writes else expected_ok[name]
            assert _code(call) == expected, name


def test_plain_text_clients_cannot_talk_to_a_tls_server(secure):
    server, _ = secure
    with SamestoryClient(server.target, token=WRITER, retries=0, timeout=5) as client:
        assert _code(client.stats) == grpc.StatusCode.UNAVAILABLE


def test_token_configuration_is_checked():
    assert load_tokens(None, f"reader:{READER},writer:{WRITER}") == {READER: "reader", WRITER: "writer"}
    with pytest.raises(ConfigurationError, match="unknown role"):
        load_tokens(None, f"admin:{READER}")
    with pytest.raises(ConfigurationError, match="shorter than 16"):
        load_tokens(None, "reader:short")


def test_tokens_never_reach_the_logs(start_server, caplog, seed_texts):
    caplog.set_level("DEBUG")
    server = start_server(tokens=f"writer:{WRITER}")
    with SamestoryClient(server.target, token=WRITER) as client:
        client.ingest(make_article("a1", seed_texts[SEED]))
    with SamestoryClient(server.target, token="not-a-real-token-0123456789") as client:
        assert _code(client.stats) == grpc.StatusCode.UNAUTHENTICATED
    assert WRITER not in caplog.text and "not-a-real-token" not in caplog.text
    assert WRITER not in repr(server.settings)
