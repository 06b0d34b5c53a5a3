"""What the benches that run the service share: the model's options, its server settings, and the
raw model baseline that a stream could at best reach.

    from model_options import articles_parser, arrival_order_baseline, client_process, open_model, server_settings
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from samestory import detector as detector_module  # noqa: E402
from samestory.config import Settings  # noqa: E402
from samestory.lexical import Hasher  # noqa: E402
from samestory.semantic import BACKENDS, BatchingEmbedder, LocalEmbedder, open_embedder  # noqa: E402
from samestory.store.sql import SQLStore  # noqa: E402
from samestory.text import clean, document_text  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--calls", type=int, default=Settings.model_calls, help="torch: model calls at once, sharing the threads"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="torch-fp32")
    parser.add_argument("--max-tokens", type=int, default=256, help="how much of an article the model reads")
    parser.add_argument(
        "--idle-calls",
        type=int,
        default=Settings.idle_model_calls,
        help="the server's model calls run at idle CPU priority (onnx-int8; SAMESTORY_IDLE_MODEL_CALLS)",
    )


def clocked(call: Callable, totals: Counter, label: str, clock: Callable[[], float] = time.process_time) -> Callable:
    """`call`, adding the seconds `clock` counts while it runs (the process's CPU unless told) to `totals[label]`."""

    @functools.wraps(call)
    def run(*args, **kwargs):
        started = clock()
        try:
            return call(*args, **kwargs)
        finally:
            totals[label] += clock() - started

    return run


_UNSET = object()


@contextlib.contextmanager
def clocked_stages(
    stages: Iterable[tuple[str, Any, str]], totals: Counter, clock: Callable[[], float] = time.process_time
) -> Iterator[None]:
    """Each (label, owner, attribute) of `stages` `clocked` into `totals[label]` while the block runs: an
    instance's method, a class's or a module's function. Each is put back as it was when the block ends."""
    stages = list(stages)
    saved = [(owner, name, vars(owner).get(name, _UNSET)) for _, owner, name in stages]
    for label, owner, name in stages:
        setattr(owner, name, clocked(getattr(owner, name), totals, label, clock))
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _UNSET:
                delattr(owner, name)  # an instance's method: its class's again
            else:
                setattr(owner, name, original)


@contextlib.contextmanager
def model_calls_through(model: LocalEmbedder, wrap: Callable[[Callable], Callable]) -> Iterator[None]:
    """The model's `encode` and `encode_now` (what its batcher and the quote units' vectors call) through
    `wrap` while the block runs, its class's own methods again after. Enter before the detector is built."""
    calls = [name for name in ("encode", "encode_now") if hasattr(model, name)]
    for name in calls:
        setattr(model, name, wrap(getattr(model, name)))
    try:
        yield
    finally:
        for name in calls:
            delattr(model, name)


def keeping(call: Callable, kept: dict) -> Callable:
    """A model call whose vectors are kept in `kept`, by its method, texts and prefixes, for `replaying`."""

    @functools.wraps(call)
    def run(texts, *args):
        vectors = call(texts, *args)
        kept[_call_key(call, texts, args)] = vectors.copy()
        return vectors

    return run


def replaying(call: Callable, kept: dict) -> Callable:
    """A model call answered from what `keeping` kept: the same vectors, without the model."""

    @functools.wraps(call)
    def run(texts, *args):
        return kept[_call_key(call, texts, args)].copy()

    return run


def _call_key(call: Callable, texts, args: tuple) -> tuple:
    """A model call's method, texts and prefixes, hashable."""
    return (call.__name__, tuple(texts), *(tuple(a) for a in args))


# (stage, depth, owner, attribute): the stages of an ingest that `--stages` times, in the order they print; a
# stage's figure includes the stages below it, and "text: words" also the words `exact_key` reads. The detector
# reaches text and quotes through its module's references; the quote units' vectors are made on the model,
# inside the commit's quote alignment.
STAGES = (
    ("preparation", 0, detector_module.Detector, "_prepare"),
    ("text: clean", 1, detector_module.text_mod, "clean"),
    ("text: words", 1, detector_module.text_mod, "tokens"),
    ("text: exact key", 1, detector_module.text_mod, "exact_key"),
    ("text: names and figures", 1, detector_module.text_mod, "article_entities"),
    ("quotes", 1, detector_module.quotes_mod, "extract"),
    ("MinHash", 1, Hasher, "signature"),
    ("commit", 0, detector_module.Detector, "_commit_once"),
    ("candidates", 1, detector_module.Detector, "_candidates"),
    ("cluster evidence", 2, detector_module.Detector, "_cluster_evidence"),
    ("names' frequencies", 3, SQLStore, "entity_frequencies"),
    ("decision", 1, detector_module, "decide"),
    ("quote alignment", 1, detector_module.Detector, "_align"),
    ("quote units' vectors", 2, BatchingEmbedder, "encode_now"),
    ("store write", 1, SQLStore, "add"),
)


@contextlib.contextmanager
def timed_stages(totals: Counter) -> Iterator[None]:
    """Each of `STAGES` timed by the thread CPU of the calls into `totals` while the block runs. Start the
    block before the detector is built and end it once its threads have stopped."""
    with clocked_stages(((stage, owner, name) for stage, _, owner, name in STAGES), totals, time.thread_time):
        yield


def stage_lines(totals: Counter, count: int) -> list[str]:
    """`timed_stages`' figures in µs per one of `count` articles, a line a stage, indented by depth."""
    return [
        f"  {'  ' * depth}{stage:{28 - 2 * depth}s} {totals[stage] / count * 1e6:7.0f}" for stage, depth, _, _ in STAGES
    ]


@contextlib.contextmanager
def machine_shares() -> Iterator[list[str]]:
    """The whole machine's idle and stolen shares of CPU time over the block, from /proc/stat (Linux): the
    list it gives holds, once the block ends, "idle N %, steal M %" (empty where there is no /proc/stat).
    Idle time on a machine that has work queued is time the work's structure left the cores unused."""
    out: list[str] = []
    before = _cpu_times()
    yield out
    after = _cpu_times()
    if before and after:
        spent = [b - a for a, b in zip(before, after, strict=True)]  # user nice system idle iowait irq softirq steal
        total = sum(spent) or 1
        out.append(f"idle {100 * (spent[3] + spent[4]) / total:.0f} %, steal {100 * spent[7] / total:.0f} %")


def _cpu_times() -> list[int]:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return []


# What each of the server's threads does, by its Python name; a thread without one is a C library's own.
_THREAD_ROLES = (
    ("samestory-embedder", "model workers"),
    ("samestory-model", "model workers"),
    ("samestory-server", "event loop"),
    ("samestory", "request threads"),
)


def thread_cpu() -> dict[int, float]:
    """CPU seconds (user and system) of each of this process's threads, by native id, from /proc (Linux;
    empty elsewhere). A thread's figure is lost once it ends: read it while the threads run."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError, ValueError), open(f"/proc/self/task/{tid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
                out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_by_role(before: dict[int, float], after: dict[int, float], count: int) -> str:
    """The CPU this process's threads spent between two `thread_cpu` readings, in ms per one of `count`
    items, by what the threads do (`_THREAD_ROLES`; "other" for unnamed ones: a library's own pool)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    spent: Counter = Counter()
    for tid, seconds in after.items():
        name = names.get(tid, "")
        role = next((r for prefix, r in _THREAD_ROLES if name.startswith(prefix)), "other")
        spent[role] += seconds - before.get(tid, 0.0)
    return ", ".join(f"{role} {seconds * 1000 / count:.2f}" for role, seconds in spent.most_common())


def articles_parser(description: str) -> argparse.ArgumentParser:
    """A bench's options for streaming --articles of a --dataset through the model's options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", type=Path, default=REPO / "tests/data/labelled_small.jsonl")
    parser.add_argument("--articles", type=int, default=100)
    add_model_arguments(parser)
    return parser


def open_model(args: argparse.Namespace) -> LocalEmbedder:
    return open_embedder(threads=args.threads, backend=args.backend, max_tokens=args.max_tokens, calls=args.calls)


@contextlib.contextmanager
def client_process() -> Iterator[ProcessPoolExecutor]:
    """A process for a bench's clients, started and with its imports done before the first run. A service's
    callers run apart from it, so their Python takes neither the server's interpreter lock nor its CPU."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(int).result()
        yield pool


def model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The server's settings for running the model as `args` say."""
    return {
        "threads": args.threads,
        "model_calls": args.calls,
        "backend": args.backend,
        "max_tokens": args.max_tokens,
        "idle_model_calls": args.idle_calls,
    }


def server_settings(args: argparse.Namespace, data_dir: Path) -> Settings:
    """A loopback server on a free port over `data_dir`, running the model as `args` say."""
    return Settings.load(env={}, data_dir=data_dir, host="127.0.0.1", port=0, **model_settings(args))


def describe(args: argparse.Namespace) -> str:
    return (
        f"backend {args.backend}, {args.max_tokens} tokens, {args.threads} threads, {args.calls} call(s) at once, "
        f"{args.idle_calls} at idle priority"
    )


def load_documents(path: Path, count: int) -> list[str]:
    """The first `count` articles of a JSONL file as the model reads them: headline and cleaned text."""
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()][:count]
    return [document_text(row.get("title") or "", clean(row["text"])) for row in rows]


def arrival_order_baseline(embedder: LocalEmbedder, docs: Sequence[str]) -> float:
    """Documents a second through the raw model in batches of 8 in arrival order (a stream cannot
    see ahead), as many batches side by side as the backend runs calls."""
    started = time.perf_counter()
    with ThreadPoolExecutor(embedder.raw_calls) as pool:
        list(pool.map(lambda i: embedder.raw_encode(docs[i : i + 8], batch_size=8), range(0, len(docs), 8)))
    return len(docs) / (time.perf_counter() - started)
