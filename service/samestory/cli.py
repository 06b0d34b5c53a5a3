"""The `samestory` command: serve, and a demo on the seed articles."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .config import Settings
from .errors import ConfigurationError
from .semantic import BACKENDS

__all__ = ["main"]

LOG = logging.getLogger("samestory")


def _seeds_default() -> Path:
    """seeds/ of the source tree (editable installs, the Docker image), else ./seeds."""
    for candidate in (Path(__file__).resolve().parents[2] / "seeds", Path.cwd() / "seeds"):
        if candidate.is_dir():
            return candidate
    return Path("seeds")


def _settings(args: argparse.Namespace, **fixed) -> Settings:
    flags = {
        name: getattr(args, name, None)
        for name in (
            "data_dir",
            "store",
            "lsh",
            "host",
            "port",
            "model_path",
            "threads",
            "backend",
            "max_tokens",
            "log_level",
        )
    }
    return Settings.load(decide=_decide(getattr(args, "decide", None) or []), **{**flags, **fixed})


def _decide(pairs: Sequence[str]) -> dict[str, str]:
    """`--decide NAME=VALUE` flags as name to value (the last one given for a name wins)."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(f"--decide {pair!r} is not NAME=VALUE (say --decide window_days=7)")
        out[name.strip()] = value.strip()
    return out


def _serve(args: argparse.Namespace) -> int:
    from .server import serve

    settings = _settings(args)
    logging.getLogger().setLevel(settings.log_level.upper())
    serve(settings)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from samestory_client import SamestoryClient, format_cluster, format_decision
    from samestory_client.cli import read_articles

    from .server import BackgroundServer

    seeds = sorted(p for p in args.seeds.glob("*.txt")) if args.seeds.is_dir() else []
    if not seeds:
        raise ConfigurationError(f"no seed articles (*.txt) in {args.seeds}: pass --seeds DIR")
    with tempfile.TemporaryDirectory(prefix="samestory-demo-") as data_dir:
        settings = _settings(args, data_dir=Path(data_dir), host="127.0.0.1", port=0)
        print(f"Starting Samestory on a fresh data directory ({data_dir}); loading the model...", flush=True)
        with BackgroundServer(settings) as server, SamestoryClient(server.target) as client:
            print(f"Serving on {server.target}; sending {len(seeds)} seed articles from {args.seeds}\n", flush=True)
            cluster_id = ""
            for article in read_articles(seeds):
                decision = client.ingest(article)
                cluster_id = decision.cluster_id
                print(format_decision(decision), end="\n\n", flush=True)
            print(format_cluster(client.get_cluster(cluster_id)))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from . import evaluate
    from .server import load_embedder

    try:
        rows = evaluate.read_dataset(args.dataset, args.labels)
        if args.by_date:
            evaluate.need_dates(rows)  # before the model loads
    except (OSError, ValueError) as exc:
        print(f"samestory eval: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args, data_dir=Path(tempfile.gettempdir()))
    embedder = load_embedder(settings)
    if args.embedding_cache:
        embedder = evaluate.CachingEmbedder(embedder, args.embedding_cache)
    results = evaluate.evaluate(rows, settings, embedder, shuffles=args.shuffles, seed=args.seed, by_date=args.by_date)
    print(evaluate.report(results, args.dataset.name, rows), flush=True)
    if args.near_duplicates:
        nd = evaluate.near_duplicate_recall(rows, settings, embedder, seed=args.seed)
        print(
            f"near-duplicates: {nd.near_duplicate}/{nd.copies} edited copies called NEAR_DUPLICATE of their "
            f"original (recall {nd.recall:.3f}); {nd.exact_duplicate} called EXACT_DUPLICATE"
        )
        for article_id, edits, verdict in nd.misses:
            print(f"  missed {article_id} ({', '.join(edits)}): {verdict}")
        rewrites = sum(len(run.false_near_duplicates) for _, runs in results for run in runs[:1])
        print(f"same-event rewrites called near-duplicates: {rewrites} (over {len(results)} runs)")
    if args.embedding_cache:
        embedder.save()
    return 0


def _eval_quotes(args: argparse.Namespace) -> int:
    from . import quotes_eval

    docs = quotes_eval.read_polnear(args.dataset)
    scores = [quotes_eval.score_quotes(docs, threshold) for threshold in (0.8, 0.5)]
    print(quotes_eval.report(scores, len(docs), args.dataset.name))
    return 0


def _eval_align(args: argparse.Namespace) -> int:
    from . import alignment_eval
    from .server import load_embedder

    corpora = {name: path for name, path in (("polnear", args.polnear), ("ecbplus", args.ecbplus)) if path}
    pairs, skipped = alignment_eval.read_alignment_set(args.dataset, args.seeds, corpora)
    embedder = load_embedder(_settings(args, data_dir=Path(tempfile.gettempdir())))
    scores = alignment_eval.score_alignments(pairs, embedder)
    scores.skipped = skipped
    print(alignment_eval.report(scores, args.dataset.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samestory", description="Samestory: has this news story been seen?")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING... (env SAMESTORY_LOG_LEVEL)")
    parser.add_argument("--model-path", type=Path, help="sentence-transformers model folder (env SAMESTORY_MODEL_PATH)")
    parser.add_argument("--threads", type=int, help="CPU threads for the model (env SAMESTORY_THREADS)")
    parser.add_argument(
        "--backend", choices=BACKENDS, help="how the model runs (env SAMESTORY_BACKEND; default torch-fp32)"
    )
    parser.add_argument(
        "--max-tokens", type=int, help="how many tokens of an article the model reads (env SAMESTORY_MAX_TOKENS; 256)"
    )
    parser.add_argument(
        "--decide",
        action="append",
        metavar="NAME=VALUE",
        help="one of the decision's settings, such as window_days=7 or same_event=0.5 "
        "(env SAMESTORY_DECIDE_<NAME>; README, Configuration)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gRPC server until SIGTERM")
    serve.add_argument(
        "--data-dir", type=Path, help="the SQLite store and the index snapshot live here (env SAMESTORY_DATA_DIR)"
    )
    serve.add_argument(
        "--store",
        help="postgresql://... for a store shared by several replicas (env SAMESTORY_STORE; default: SQLite)",
    )
    serve.add_argument(
        "--lsh", help="redis://host:port/db for one LSH shared by the replicas (env SAMESTORY_LSH; default: in memory)"
    )
    serve.add_argument("--host", help="address to listen on (env SAMESTORY_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (env SAMESTORY_PORT; default 50051)")
    serve.set_defaults(run=_serve)

    demo = sub.add_parser("demo", help="start on a fresh data directory and send the seed articles through")
    demo.add_argument("--seeds", type=Path, default=_seeds_default(), help="folder of seed .txt articles")
    demo.set_defaults(run=_demo)

    evaluation = sub.add_parser("eval", help="cluster quality on a labelled JSONL file, against naive baselines")
    evaluation.add_argument("dataset", type=Path, help="JSONL with id, title, text, date and label (the gold event)")
    evaluation.add_argument("--shuffles", type=int, default=0, help="N seeded shuffles instead of file order")
    evaluation.add_argument("--seed", type=int, default=0, help="seed of the first shuffle")
    evaluation.add_argument(
        "--labels",
        type=Path,
        help="JSONL of id and label (and optionally sha1 of the text): every article is streamed, the labelled scored",
    )
    evaluation.add_argument(
        "--by-date", action="store_true", help="stream in publication order (a shuffle breaks only the ties)"
    )
    evaluation.add_argument(
        "--near-duplicates", action="store_true", help="also measure near-duplicate recall on edited copies"
    )
    evaluation.add_argument("--embedding-cache", type=Path, help="an .npz file that keeps embeddings between runs")
    evaluation.set_defaults(run=_eval)

    quotes = sub.add_parser("eval-quotes", help="quote extraction and speakers against annotated attributions")
    quotes.add_argument("dataset", type=Path, help="JSONL in PolNeAR's format: text and quotes[] with spans")
    quotes.set_defaults(run=_eval_quotes)

    aligned = sub.add_parser("eval-align", help="quote alignment against a hand-labelled set of article pairs")
    aligned.add_argument("dataset", type=Path, help="the labelled set (bench/data/quote_alignments.jsonl)")
    aligned.add_argument("--seeds", type=Path, default=_seeds_default(), help="folder of the seed articles")
    aligned.add_argument("--polnear", type=Path, help="PolNeAR's JSONL, for the pairs labelled on it")
    aligned.add_argument("--ecbplus", type=Path, help="ECB+'s JSONL, for the pairs labelled on it")
    aligned.set_defaults(run=_eval_align)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=(args.log_level or ("WARNING" if args.command in ("demo", "eval") else "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.run(args)
    except ConfigurationError as exc:
        print(f"samestory: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
