"""The gRPC servicer: translates between protobuf messages and the detector.

It decides nothing. Blocking detector calls run in a thread pool, so the event
loop keeps answering health checks while the model works; domain errors turn
into status codes here and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from samestory_client._proto import samestory_pb2 as pb
from samestory_client._proto import samestory_pb2_grpc as pb_grpc

from .detector import CLUSTER_PAGE, MAX_CLUSTER_PAGE, Detector, Pending
from .errors import (
    AlreadyExists,
    DeadlineExceeded,
    InvalidArticle,
    LimitExceeded,
    NotFound,
    SamestoryError,
    StaleDecision,
)
from .quotes import Quote
from .records import ArticleIn, Decision
from .store import ArticleRecord

__all__ = ["SamestoryServicer", "add_to_server"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")
# Articles of one stream prepared ahead of the one being committed: the model batches them.
STREAM_WINDOW = 16

_STATUS = {
    InvalidArticle: grpc.StatusCode.INVALID_ARGUMENT,
    LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    StaleDecision: grpc.StatusCode.ABORTED,
}


def _status(exc: SamestoryError) -> grpc.StatusCode:
    for kind, code in _STATUS.items():
        if isinstance(exc, kind):
            return code
    return grpc.StatusCode.FAILED_PRECONDITION


# ----------------------------------------------------------------- messages


def _timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(dt.UTC))
    return stamp


def article_in(message: pb.Article) -> ArticleIn:
    published = None
    if message.HasField("published_at"):
        try:
            published = message.published_at.ToDatetime(tzinfo=dt.UTC)
        except (ValueError, OverflowError) as exc:
            raise InvalidArticle(f"article.published_at is out of range: {exc}") from exc
    return ArticleIn(
        article_id=message.id,
        text=message.text,
        title=message.title,
        published=published,
        source=message.source,
        url=message.url,
    )


def quote_message(quote: Quote) -> pb.Quote:
    message = pb.Quote(
        text=quote.text,
        speaker=quote.speaker,
        speaker_mention=quote.speaker_mention,
        cue=quote.cue,
        span=pb.Span(start=quote.start, end=quote.end),
        parts=[pb.Span(start=s, end=e) for s, e in quote.parts] if len(quote.parts) > 1 else [],
        continues=quote.continues,
    )
    if quote.speaker_span:
        message.speaker_span.CopyFrom(pb.Span(start=quote.speaker_span[0], end=quote.speaker_span[1]))
    return message


def decision_message(decision: Decision) -> pb.Decision:
    message = pb.Decision(
        article_id=decision.article_id,
        verdict=decision.verdict.value,
        cluster_id=decision.cluster_id,
        new_cluster=decision.new_cluster,
        stored=decision.stored,
        reason=decision.reason,
        merged_cluster_ids=list(decision.merged),
        quotes=[quote_message(q) for q in decision.quotes],
    )
    for m in decision.matches:
        match = message.matches.add(
            article_id=m.article_id,
            cluster_id=m.cluster_id,
            lexical_score=m.lexical,
            semantic_score=m.semantic,
            combined_score=m.combined,
            relation=m.relation.value,
            containment=m.containment,
            entity_overlap=m.entity_overlap,
            cluster_entity_similarity=m.cluster_entity,
            cluster_lead_similarity=m.cluster_lead,
            cluster_year_conflict=m.cluster_year_conflict,
            cluster_year_mismatch=m.cluster_year_mismatch,
        )
        if m.days_apart is not None:
            match.days_apart = m.days_apart
        if m.cluster_days_spanned is not None:
            match.cluster_days_spanned = m.cluster_days_spanned
    for a in decision.alignments:
        message.aligned_quotes.add(
            quote=quote_message(a.quote),
            other_article_id=a.other_article,
            other_quote=quote_message(a.other),
            span=pb.Span(start=a.span[0], end=a.span[1]),
            other_span=pb.Span(start=a.other_span[0], end=a.other_span[1]),
            similarity=a.similarity,
            kind=a.kind.value,
        )
    if decision.published:
        message.published_at.CopyFrom(_timestamp(decision.published))
    return message


def _article_message(record: ArticleRecord) -> pb.Article:
    message = pb.Article(
        id=record.article_id, title=record.title, text=record.text, source=record.source, url=record.url
    )
    if record.published:
        message.published_at.CopyFrom(_timestamp(record.published))
    return message


# ------------------------------------------------------------ registration


class Undecodable:
    """A request that is not a valid message (invalid UTF-8 in a string field, truncated bytes).

    gRPC's own deserialiser would answer UNKNOWN before any code of ours ran;
    the servicer answers INVALID_ARGUMENT with what was wrong instead.
    """

    def __init__(self, message: str, error: Exception) -> None:
        self.reason = (
            f"the request is not a valid {message}: {error}. "
            "Text fields must be valid UTF-8; send bytes of unknown encoding decoded with replacement characters"
        )


def _lenient(cls):
    def parse(data: bytes):
        try:
            return cls.FromString(data)
        except DecodeError as exc:
            return Undecodable(cls.DESCRIPTOR.full_name, exc)

    return parse


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    """The call's deadline on the time.monotonic() clock, or None."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


def _decoded(request):
    if isinstance(request, Undecodable):
        raise InvalidArticle(request.reason)
    return request


def _page_token(cluster_id: str, after: int) -> str:
    """Where the next page of a cluster read starts: after the member with key `after`."""
    return base64.urlsafe_b64encode(f"{after}:{cluster_id}".encode()).decode("ascii")


def _page_after(token: str, cluster_id: str) -> int:
    """The member key a page token continues after (0 for no token); INVALID_ARGUMENT for a token
    this server did not issue for `cluster_id`."""
    if not token:
        return 0
    try:
        after, _, issued_for = base64.urlsafe_b64decode(token.encode("ascii")).decode().partition(":")
        if issued_for == cluster_id and after.isdigit():
            return int(after)
    except (ValueError, UnicodeError):
        pass
    raise InvalidArticle(
        f"page_token {token[:40]!r} is not a next_page_token issued for cluster {cluster_id!r}: "
        "send it with the cluster_id of the read it came from, or leave it empty for the first page"
    )


def add_to_server(servicer: SamestoryServicer, server: grpc.aio.Server) -> None:
    """Register the service, as the generated code would, but with a deserialiser that never raises."""
    service = pb.DESCRIPTOR.services_by_name["Samestory"]
    handlers = {}
    for method in service.methods:
        request_cls = getattr(pb, method.input_type.name)
        response_cls = getattr(pb, method.output_type.name)
        make = grpc.stream_stream_rpc_method_handler if method.client_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=_lenient(request_cls),
            response_serializer=response_cls.SerializeToString,
        )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


# ----------------------------------------------------------------- servicer


class SamestoryServicer(pb_grpc.SamestoryServicer):
    def __init__(self, detector: Detector, executor: ThreadPoolExecutor) -> None:
        self._detector = detector
        self._executor = executor

    async def _run(self, context: grpc.aio.ServicerContext, fn: Callable[..., T], *args) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except SamestoryError as exc:
            await context.abort(_status(exc), str(exc))
        except Exception:
            LOG.exception("internal error in %s", getattr(fn, "__name__", fn))
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    def _article(self, request, context) -> ArticleIn:
        request = _decoded(request)
        if not request.HasField("article"):
            raise InvalidArticle("the request has no article")
        return article_in(request.article)

    async def Check(self, request: pb.CheckRequest, context) -> pb.Decision:
        def run() -> pb.Decision:
            return decision_message(self._detector.check(self._article(request, context)))

        return await self._run(context, run)

    async def Ingest(self, request: pb.IngestRequest, context) -> pb.Decision:
        deadline = _deadline(context)

        def run() -> pb.Decision:
            return decision_message(self._detector.ingest(self._article(request, context), deadline))

        return await self._run(context, run)

    async def IngestStream(
        self, request_iterator: AsyncIterator[pb.IngestRequest], context
    ) -> AsyncIterator[pb.IngestStreamResponse]:
        """Articles are prepared (model, text) up to STREAM_WINDOW ahead, so the model batches them,
        and committed one at a time in the order they came, so the stream decides as if sent one by one."""
        loop = asyncio.get_running_loop()
        limit = self._detector.settings.max_batch
        window: collections.deque[tuple[str, asyncio.Future]] = collections.deque()
        count = 0
        async for request in request_iterator:
            count += 1
            if count > limit:
                while window:  # every article before this one gets its answer
                    yield await self._stream_commit(*window.popleft(), context)
                # This one and later ones are not read.
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"one IngestStream carries at most {limit} articles (SAMESTORY_MAX_BATCH); "
                    f"the first {limit} were answered: send the rest on a new stream",
                )
            article_id = "" if isinstance(request, Undecodable) else request.article.id

            def prepare(request=request) -> Pending:
                return self._detector.prepare(self._article(request, context))

            window.append((article_id, loop.run_in_executor(self._executor, prepare)))
            if len(window) >= STREAM_WINDOW:
                yield await self._stream_commit(*window.popleft(), context)
        while window:
            yield await self._stream_commit(*window.popleft(), context)

    async def _stream_commit(self, article_id: str, prepared: asyncio.Future, context) -> pb.IngestStreamResponse:
        deadline = _deadline(context)

        try:
            pending: Pending = await prepared

            def commit() -> pb.Decision:
                return decision_message(self._detector.commit(pending, deadline))

            decision = await asyncio.get_running_loop().run_in_executor(self._executor, commit)
        except SamestoryError as exc:
            error = pb.Error(code=_status(exc).value[0], message=str(exc))
            return pb.IngestStreamResponse(article_id=article_id, error=error)
        except Exception:
            LOG.exception("internal error ingesting %s", article_id)
            error = pb.Error(code=grpc.StatusCode.INTERNAL.value[0], message="internal error; see the server log")
            return pb.IngestStreamResponse(article_id=article_id, error=error)
        return pb.IngestStreamResponse(article_id=article_id, decision=decision)

    async def GetCluster(self, request: pb.GetClusterRequest, context) -> pb.Cluster:
        def run() -> pb.Cluster:
            req = _decoded(request)
            if req.page_size < 0:
                raise InvalidArticle(f"page_size is {req.page_size}; give 0 for the default or a positive number")
            count = min(req.page_size or CLUSTER_PAGE, MAX_CLUSTER_PAGE)
            after = _page_after(req.page_token, req.cluster_id)
            # One member more than the page holds says whether another page follows.
            page = self._detector.get_cluster(req.cluster_id, after, count + 1)
            members = page.members[:count]
            message = pb.Cluster(cluster_id=page.cluster_id, aliases=list(page.aliases), size=page.size)
            message.created_at.CopyFrom(_timestamp(page.created_at))
            for member in members:
                entry = message.articles.add(
                    article_id=member.article_id, title=member.title, verdict=member.verdict, source=member.source
                )
                if member.published:
                    entry.published_at.CopyFrom(_timestamp(member.published))
            if len(page.members) > count:
                message.next_page_token = _page_token(req.cluster_id, members[-1].key)
            if req.page_token:
                return message
            for statement in self._detector.quote_groups(page.cluster_id):
                group = message.quote_groups.add()
                for w in statement:
                    group.wordings.add(
                        article_id=w.article_id,
                        quote=quote_message(w.quote),
                        span=pb.Span(start=w.span[0], end=w.span[1]),
                        kind=w.kind.value if w.kind else 0,
                        similarity=w.similarity,
                    )
            return message

        return await self._run(context, run)

    async def GetArticle(self, request: pb.GetArticleRequest, context) -> pb.StoredArticle:
        def run() -> pb.StoredArticle:
            record, quotes = self._detector.get_article(_decoded(request).article_id)
            message = pb.StoredArticle(
                article=_article_message(record),
                cluster_id=record.cluster_id,
                verdict=record.verdict,
                quotes=[quote_message(q.quote) for q in quotes],
            )
            message.ingested_at.CopyFrom(_timestamp(record.ingested_at))
            return message

        return await self._run(context, run)

    async def DeleteArticle(self, request: pb.DeleteArticleRequest, context) -> pb.DeleteArticleResponse:
        def run() -> pb.DeleteArticleResponse:
            record = self._detector.delete(_decoded(request).article_id)
            return pb.DeleteArticleResponse(article_id=record.article_id, cluster_id=record.cluster_id)

        return await self._run(context, run)

    async def Stats(self, request: pb.StatsRequest, context) -> pb.StatsResponse:
        def run() -> pb.StatsResponse:
            return pb.StatsResponse(**self._detector.stats(), parameters=self._detector.parameters)

        return await self._run(context, run)
