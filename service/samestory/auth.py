"""Token authentication with two roles, as a gRPC server interceptor.

Tokens come from a file (one `ROLE TOKEN` per line, `#` comments) or from
SAMESTORY_TOKENS (`ROLE:TOKEN,ROLE:TOKEN`). A `reader` may check and read; a
`writer` may also ingest and delete. Callers send `authorization: Bearer
TOKEN`. Tokens are compared in constant time and never logged. The health
and reflection services stay open, so orchestrators can probe without one.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from pathlib import Path

import grpc

from .errors import ConfigurationError

__all__ = ["READER", "WRITER", "TokenAuth", "load_tokens"]

LOG = logging.getLogger(__name__)

READER, WRITER = "reader", "writer"
_SERVICE = "/samestory.v1.Samestory/"
_WRITES = frozenset({"Ingest", "IngestStream", "DeleteArticle"})
_READS = frozenset({"Check", "GetCluster", "GetArticle", "Stats"})
_STREAMING = frozenset({"IngestStream"})


def load_tokens(file: Path | None, inline: str | None) -> dict[str, str]:
    """token -> role, from a file and/or the inline form; empty when neither is given."""
    pairs: list[tuple[str, str]] = []
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the tokens file {file}: {exc.strerror}") from exc
        for number, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ConfigurationError(f"{file}:{number}: expected `ROLE TOKEN` (role reader or writer)")
            pairs.append((parts[0], parts[1]))
    for item in (inline or "").split(","):
        if item.strip():
            role, _, token = item.strip().partition(":")
            pairs.append((role, token))
    tokens: dict[str, str] = {}
    for role, token in pairs:
        if role not in (READER, WRITER):
            raise ConfigurationError(f"unknown role {role!r} for a token: use reader or writer")
        if len(token) < 16:
            raise ConfigurationError(f"a {role} token is shorter than 16 characters: use a long random token")
        tokens[token] = role
    return tokens


class TokenAuth(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = [(token.encode("utf-8"), role) for token, role in tokens.items()]

    def _role(self, metadata) -> str | None:
        header = next((value for key, value in metadata or () if key == "authorization"), None)
        if not isinstance(header, str) or not header.startswith("Bearer "):
            return None
        offered = header[len("Bearer ") :].encode("utf-8")
        role = None
        for token, token_role in self._tokens:  # every token compared, in constant time each
            if hmac.compare_digest(token, offered):
                role = token_role
        return role

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        method = details.method
        if not method.startswith(_SERVICE):
            return await continuation(details)  # health, reflection
        name = method[len(_SERVICE) :]
        streaming = name in _STREAMING
        role = self._role(details.invocation_metadata)
        if role is None:
            message = "a valid token is required: send `authorization: Bearer TOKEN`"
            return _deny(grpc.StatusCode.UNAUTHENTICATED, message, streaming)
        if name in _WRITES and role != WRITER:
            message = f"{name} needs a writer token; this token may only read"
            return _deny(grpc.StatusCode.PERMISSION_DENIED, message, streaming)
        if name not in _WRITES | _READS:
            return _deny(grpc.StatusCode.PERMISSION_DENIED, f"{name} is not open to tokens", streaming)
        return await continuation(details)


def _deny(code: grpc.StatusCode, message: str, streaming: bool):
    if streaming:

        async def stream(request_iterator, context):
            await context.abort(code, message)
            yield  # pragma: no cover - abort raises

        return grpc.stream_stream_rpc_method_handler(stream)

    async def unary(request, context):
        await context.abort(code, message)

    return grpc.unary_unary_rpc_method_handler(unary)
