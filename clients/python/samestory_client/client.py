"""A typed, blocking client for the Samestory gRPC API."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from ._proto import samestory_pb2 as pb
from ._proto import samestory_pb2_grpc as pb_grpc

__all__ = ["SamestoryClient", "make_article"]

_SERVICE = "samestory.v1.Samestory"
# Unary calls are retried on UNAVAILABLE by gRPC itself; Ingest is idempotent by id, so this is safe.
_RETRIED = ("Check", "Ingest", "GetCluster", "GetArticle", "DeleteArticle", "Stats")
_HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def _service_config(retries: int) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": _SERVICE, "method": m} for m in _RETRIED],
                    "retryPolicy": {
                        "maxAttempts": max(2, min(retries + 1, 5)),
                        "initialBackoff": "0.2s",
                        "maxBackoff": "3s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def make_article(
    id: str = "",
    text: str = "",
    *,
    title: str = "",
    published_at: dt.datetime | dt.date | None = None,
    source: str = "",
    url: str = "",
) -> pb.Article:
    """An Article message; a date means midnight UTC of that day, a naive datetime is taken as UTC."""
    article = pb.Article(id=id, title=title, text=text, source=source, url=url)
    if published_at is not None:
        if not isinstance(published_at, dt.datetime):
            published_at = dt.datetime.combine(published_at, dt.time())
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=dt.UTC)
        article.published_at.FromDatetime(published_at.astimezone(dt.UTC))
    return article


def _encode_health_request(service: str) -> bytes:
    data = service.encode("utf-8")
    length = len(data)
    header = bytearray(b"\x0a")
    while True:
        byte = length & 0x7F
        length >>= 7
        header.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes(header) + data if data else b""


def _decode_health_response(data: bytes) -> str:
    # HealthCheckResponse { ServingStatus status = 1; }: tag 0x08, then a one-byte varint.
    if len(data) >= 2 and data[0] == 0x08:
        return _HEALTH_STATUS.get(data[1], "UNKNOWN")
    return "UNKNOWN"


class SamestoryClient:
    """Talks to one Samestory server.

    Every call has a deadline (`timeout` seconds unless the call gives its
    own); unary calls are retried on UNAVAILABLE. Errors surface as
    grpc.RpcError with the server's status code and message. Use it as a
    context manager, or call close().
    """

    def __init__(
        self,
        target: str = "localhost:50051",
        *,
        timeout: float = 30.0,
        retries: int = 3,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        root_certificates: bytes | None = None,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        """`root_certificates` (PEM) turns TLS on with that trust root; `credentials` gives full control.
        `token` is sent as `authorization: Bearer TOKEN` on every call."""
        options: list[tuple[str, Any]] = [
            ("grpc.service_config", _service_config(retries)),
            ("grpc.enable_retries", 1 if retries > 0 else 0),
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        if credentials is None and root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._stub = pb_grpc.SamestoryStub(self._channel)
        self._health = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None
        )
        self.target = target
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None

    def _deadline(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    def check(self, article: pb.Article, *, timeout: float | None = None) -> pb.Decision:
        """Where the article belongs; nothing is stored."""
        return self._stub.Check(
            pb.CheckRequest(article=article), timeout=self._deadline(timeout), metadata=self._metadata
        )

    def ingest(self, article: pb.Article, *, timeout: float | None = None) -> pb.Decision:
        """Decide and store; the same id and content may be sent again safely."""
        return self._stub.Ingest(
            pb.IngestRequest(article=article), timeout=self._deadline(timeout), metadata=self._metadata
        )

    def ingest_many(
        self, articles: Iterable[pb.Article], *, timeout: float | None = None, batch: int = 1000
    ) -> Iterator[pb.IngestStreamResponse]:
        """Stream articles in; yields one response per article, in order (`error` set on a bad one).

        Articles go in consecutive streams of at most `batch` each (the server refuses a
        stream longer than its SAMESTORY_MAX_BATCH); `timeout` applies to each stream.
        """
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        pending = iter(articles)
        while chunk := list(itertools.islice(pending, batch)):
            requests = (pb.IngestRequest(article=a) for a in chunk)
            yield from self._stub.IngestStream(requests, timeout=timeout, metadata=self._metadata)

    def get_cluster(
        self, cluster_id: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> pb.Cluster:
        """One page of a cluster's members (the server's default size for 0), its size and, on the
        first page, its quote groups; `next_page_token` is set when more members follow."""
        request = pb.GetClusterRequest(cluster_id=cluster_id, page_size=page_size, page_token=page_token)
        return self._stub.GetCluster(request, timeout=self._deadline(timeout), metadata=self._metadata)

    def cluster_members(
        self, cluster_id: str, *, page_size: int = 0, timeout: float | None = None
    ) -> Iterator[pb.ClusterMember]:
        """Every member of a cluster, in order of ingestion, a page at a time; `timeout` applies to each page."""
        token = ""
        while True:
            page = self.get_cluster(cluster_id, page_size=page_size, page_token=token, timeout=timeout)
            yield from page.articles
            token = page.next_page_token
            if not token:
                return

    def get_article(self, article_id: str, *, timeout: float | None = None) -> pb.StoredArticle:
        return self._stub.GetArticle(
            pb.GetArticleRequest(article_id=article_id), timeout=self._deadline(timeout), metadata=self._metadata
        )

    def delete_article(self, article_id: str, *, timeout: float | None = None) -> pb.DeleteArticleResponse:
        return self._stub.DeleteArticle(
            pb.DeleteArticleRequest(article_id=article_id), timeout=self._deadline(timeout), metadata=self._metadata
        )

    def stats(self, *, timeout: float | None = None) -> pb.StatsResponse:
        return self._stub.Stats(pb.StatsRequest(), timeout=self._deadline(timeout), metadata=self._metadata)

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard grpc.health.v1 status: SERVING, NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN."""
        reply = self._health(_encode_health_request(service), timeout=self._deadline(timeout), metadata=self._metadata)
        return _decode_health_response(reply)

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        """Block until the channel connects; raises grpc.FutureTimeoutError."""
        grpc.channel_ready_future(self._channel).result(timeout=timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> SamestoryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
