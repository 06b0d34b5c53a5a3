"""A forward pass of the torch model beside other work: the modules one by one against the traced graph.

    .venv/bin/python bench/model_contention.py [--dataset FILE.jsonl] [--batch 4] [--passes 8]
        [--backend torch-fp32|torch-bf16]

In the service the model's calls share the cores with request threads that run
Python (text cleaning, the decision, the store). Run module by module, a forward
pass needs Python's lock between its operators, so a thread running Python
stalls it; the traced graph runs its operators without it. This times one
pass over a batch of real documents on one thread, as the service's calls run
side by side: alone, beside a thread of this process that runs Python, and
beside another process that runs Python (it takes the other core, not the
lock). The baseline, in the same run, is the modules alone; both paths give
the same vectors, which is checked first.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from model_options import REPO, load_documents
from samestory.semantic import SentenceTransformerEmbedder


@contextlib.contextmanager
def python_thread() -> Iterator[None]:
    stop = threading.Event()

    def spin() -> None:
        total = 0
        while not stop.is_set():
            for n in range(1000):
                total += n

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def python_process() -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-c", "n = 0\nwhile True: n += 1"])
    time.sleep(0.3)  # let it start
    try:
        yield
    finally:
        process.kill()
        process.wait()


def median_ms(run: Callable[[], object], passes: int) -> float:
    run()  # warm-up: the graph's first calls are profiled
    times = []
    for _ in range(passes):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO / "tests/data/labelled_small.jsonl")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--passes", type=int, default=8)
    parser.add_argument("--backend", choices=("torch-fp32", "torch-bf16"), default="torch-fp32")
    args = parser.parse_args()

    embedder = SentenceTransformerEmbedder(threads=2, backend=args.backend)
    if not embedder.traced:
        print("this model could not be traced; nothing to compare")
        return 1
    docs = load_documents(args.dataset, args.batch)
    with embedder.modules_only():
        expected = embedder.encode_now(docs)  # encode_now: one thread, as a call beside another runs
    same = bool((embedder.encode_now(docs) == expected).all())
    python = sys.version.split()[0]
    print(f"{args.backend}, {len(docs)} documents of {args.dataset.name} a pass, one thread, python {python}")
    print(f"the graph's vectors equal the modules': {same}")
    print(f"{'beside':<30} {'modules ms':>11} {'graph ms':>9} {'modules/alone':>14} {'graph/alone':>12}")
    alone = None
    for name, beside in (
        ("nothing", contextlib.nullcontext),
        ("a thread running Python", python_thread),
        ("a process running Python", python_process),
    ):
        with beside():
            with embedder.modules_only():
                by_modules = median_ms(lambda: embedder.encode_now(docs), args.passes)
            by_graph = median_ms(lambda: embedder.encode_now(docs), args.passes)
        alone = alone or by_modules  # the baseline: the modules alone
        print(f"{name:<30} {by_modules:11.1f} {by_graph:9.1f} {by_modules / alone:14.2f} {by_graph / alone:12.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
