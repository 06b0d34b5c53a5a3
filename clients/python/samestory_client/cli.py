"""samestory-client: check, ingest and inspect articles from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from google.protobuf.json_format import MessageToDict

from ._proto import samestory_pb2 as pb
from .client import SamestoryClient, make_article
from .formatting import format_cluster, format_decision

__all__ = ["main", "read_articles"]

_TEXT_SUFFIXES = {".txt", ".text", ".md"}


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _from_json(row: dict, where: str) -> pb.Article:
    if not isinstance(row, dict) or "text" not in row:
        raise ValueError(f'{where}: each JSON line needs at least a "text" field')
    return make_article(
        str(row.get("id", "")),
        str(row["text"]),
        title=str(row.get("title") or ""),
        published_at=_date(row.get("published_at") or row.get("date")),
        source=str(row.get("source") or ""),
        url=str(row.get("url") or ""),
    )


def read_articles(paths: Sequence[Path]) -> Iterator[pb.Article]:
    """Articles from text files (id = file name without suffix), folders of them, and JSONL files."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in _TEXT_SUFFIXES | {".jsonl"})
            yield from read_articles(files)
        elif path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for number, line in enumerate(fh, 1):
                    if line.strip():
                        yield _from_json(json.loads(line), f"{path}:{number}")
        elif path.is_file():
            yield make_article(path.stem, path.read_text(encoding="utf-8"))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _print(message, as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), ensure_ascii=False))
    else:
        print(text)


def _check(client: SamestoryClient, args) -> int:
    article = make_article(
        args.id or args.file.stem,
        args.file.read_text(encoding="utf-8"),
        title=args.title or "",
        published_at=_date(args.date),
        source=args.source or "",
        url=args.url or "",
    )
    decision = client.check(article)
    _print(decision, args.json, format_decision(decision))
    return 0


def _ingest(client: SamestoryClient, args) -> int:
    failed = 0
    for response in client.ingest_many(read_articles(args.paths)):
        if response.HasField("error"):
            failed += 1
            code = grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == response.error.code))
            print(f"{response.article_id}: {code.name}: {response.error.message}", file=sys.stderr)
            continue
        _print(
            response.decision,
            args.json,
            format_decision(response.decision)
            if args.verbose
            else (
                f"{response.article_id}\t{pb.Verdict.Name(response.decision.verdict)}\t{response.decision.cluster_id}"
            ),
        )
    return 1 if failed else 0


def _cluster(client: SamestoryClient, args) -> int:
    cluster = client.get_cluster(args.cluster_id, page_size=args.page_size)
    if args.all and cluster.next_page_token:
        del cluster.articles[:]
        cluster.articles.extend(client.cluster_members(args.cluster_id, page_size=args.page_size))
        cluster.next_page_token = ""
    _print(cluster, args.json, format_cluster(cluster))
    return 0


def _article(client: SamestoryClient, args) -> int:
    stored = client.get_article(args.article_id)
    summary = (
        f"{stored.article.id}: {pb.Verdict.Name(stored.verdict)} in cluster {stored.cluster_id}, "
        f"{len(stored.quotes)} quotes"
    )
    _print(stored, args.json, summary)
    return 0


def _delete(client: SamestoryClient, args) -> int:
    reply = client.delete_article(args.article_id)
    _print(reply, args.json, f"deleted {reply.article_id} (cluster {reply.cluster_id})")
    return 0


def _stats(client: SamestoryClient, args) -> int:
    stats = client.stats()
    text = "\n".join(
        [
            f"articles {stats.articles}",
            f"clusters {stats.clusters}",
            f"indexed {stats.lexical_index_size} lexical, {stats.semantic_index_size} semantic",
            f"changes {stats.last_change}, snapshot at {stats.snapshot_change}",
        ]
        + [f"{k} {v}" for k, v in sorted(stats.parameters.items())]
    )
    _print(stats, args.json, text)
    return 0


def _health(client: SamestoryClient, args) -> int:
    status = client.health(args.service)
    print(status)
    return 0 if status == "SERVING" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samestory-client", description=__doc__)
    parser.add_argument(
        "--target",
        default=os.environ.get("SAMESTORY_TARGET", "localhost:50051"),
        help="server address host:port (env SAMESTORY_TARGET; default localhost:50051)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline of each call in seconds")
    parser.add_argument(
        "--tls-ca",
        type=Path,
        default=os.environ.get("SAMESTORY_TLS_CA") or None,
        help="PEM file of the CA that signed the server's certificate: turns TLS on (env SAMESTORY_TLS_CA)",
    )
    parser.add_argument("--json", action="store_true", help="print responses as JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="decide where one article belongs, without storing it")
    check.add_argument("file", type=Path, help="a text file with the article body")
    check.add_argument("--id", help="article id (default: the file name)")
    check.add_argument("--title", help="headline")
    check.add_argument("--date", help="publication date or time, ISO 8601")
    check.add_argument("--source", help="publisher")
    check.add_argument("--url", help="address of the article")
    check.set_defaults(run=_check)

    ingest = sub.add_parser("ingest", help="store articles from text files, folders and JSONL files")
    ingest.add_argument("paths", type=Path, nargs="+", help="files, folders or .jsonl files")
    ingest.add_argument("-v", "--verbose", action="store_true", help="print each decision in full")
    ingest.set_defaults(run=_ingest)

    cluster = sub.add_parser("cluster", help="show a story cluster by any id it was returned under")
    cluster.add_argument("cluster_id")
    cluster.add_argument("--all", action="store_true", help="list every member, not only the first page")
    cluster.add_argument("--page-size", type=int, default=0, help="members a page (0: the server's default, 1000)")
    cluster.set_defaults(run=_cluster)

    article = sub.add_parser("article", help="show a stored article")
    article.add_argument("article_id")
    article.set_defaults(run=_article)

    delete = sub.add_parser("delete", help="remove an article")
    delete.add_argument("article_id")
    delete.set_defaults(run=_delete)

    stats = sub.add_parser("stats", help="counts and the parameters the data was built with")
    stats.set_defaults(run=_stats)

    health = sub.add_parser("health", help="the gRPC health status; exit 0 when SERVING")
    health.add_argument("--service", default="", help="service name (default: the whole server)")
    health.set_defaults(run=_health)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        roots = Path(args.tls_ca).read_bytes() if args.tls_ca else None
        # The token comes from the environment only, so it never shows in a process listing.
        token = os.environ.get("SAMESTORY_TOKEN") or None
        with SamestoryClient(args.target, timeout=args.timeout, token=token, root_certificates=roots) as client:
            return args.run(client, args)
    except grpc.RpcError as exc:
        print(f"samestory-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"samestory-client: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
