"""ONNX Runtime against torch on the same documents: speed and agreement with torch fp32, in one run.

    .venv/bin/python bench/onnx_backends.py [--dataset FILE.jsonl] [--articles N]

How the onnx-int8 backend was chosen, and what it costs against the alternatives. The
bundled model is exported to ONNX with the service's own steps (`samestory.semantic`,
eager attention), then either quantized to int8 as it is, one scale per output channel
(the service's), or first fused by ONNX Runtime's BERT optimizer (attention, skip layer
norm, bias GELU) and quantized with one scale per matrix or per output channel.

Every variant embeds the same documents as the service would run it: torch in batches of 8
after sorting by length, on all the threads; ONNX through the service's own runner
(`OnnxEmbedder`), one document a call, as many one-thread calls side by side as threads.
Torch fp32 is the baseline and the reference for the cosines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model_options import load_documents  # noqa: E402
from samestory.semantic import (  # noqa: E402
    BACKENDS,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    export_onnx,
    fuse_onnx,
    quantize_onnx,
)

REPO = Path(__file__).resolve().parents[1]
BATCH = 8


def export(embedder: SentenceTransformerEmbedder, folder: Path) -> dict[str, Path]:
    """The model as ONNX files: plain and fused fp32, and int8 three ways (the service's: plain, per channel)."""
    names = ("onnx-fp32", "onnx-fp32-fused", "onnx-int8-fused", "onnx-int8-fused-channel", "onnx-int8-channel")
    paths = {name: folder / f"{name}.onnx" for name in names}
    export_onnx(embedder._model, paths["onnx-fp32"])
    fused = fuse_onnx(paths["onnx-fp32"], paths["onnx-fp32-fused"], embedder._model[0].auto_model.config)
    print("fused operators:", fused)
    quantize_onnx(paths["onnx-fp32-fused"], paths["onnx-int8-fused"], per_channel=False)
    quantize_onnx(paths["onnx-fp32-fused"], paths["onnx-int8-fused-channel"], per_channel=True)
    quantize_onnx(paths["onnx-fp32"], paths["onnx-int8-channel"], per_channel=True)
    return paths


def timed(encode, docs: list[str], size: int, calls: int) -> tuple[float, np.ndarray]:
    """Documents per second in batches of `size` in length order, `calls` at once (the second of two passes)."""
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    batches = [order[k : k + size] for k in range(0, len(order), size)]
    with ThreadPoolExecutor(calls) as pool:
        for _ in range(2):
            start = time.perf_counter()
            parts = list(pool.map(lambda rows: encode([docs[i] for i in rows]), batches))
            elapsed = time.perf_counter() - start
    out = np.empty((len(docs), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return len(docs) / elapsed, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=REPO / "tests/data/labelled_small.jsonl")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    docs = load_documents(args.dataset, args.articles)
    print(
        f"dataset {args.dataset.name}, {len(docs)} documents, {args.threads} threads: torch in batches of {BATCH}, "
        f"ONNX one document a call, {args.threads} calls at once"
    )
    results: dict[str, tuple[float, np.ndarray]] = {}
    embedders = {
        backend: SentenceTransformerEmbedder(threads=args.threads, backend=backend)
        for backend in BACKENDS
        if backend.startswith("torch-")
    }
    for backend, embedder in embedders.items():
        results[backend] = timed(lambda batch, e=embedder: e.raw_encode(batch, batch_size=BATCH), docs, BATCH, 1)
    embedder = embedders["torch-fp32"]
    with tempfile.TemporaryDirectory(prefix="samestory-onnx-") as folder:
        started = time.perf_counter()
        paths = export(embedder, Path(folder))
        print(f"export, fusion and quantization: {time.perf_counter() - started:.1f} s")
        for name, path in paths.items():
            # The service's own runner on each file: its tokenisation, its pooling, its calls.
            runner = OnnxEmbedder(threads=args.threads, onnx_file=path)
            results[name] = timed(runner.encode, docs, 1, runner.parallel_calls)

    reference = results["torch-fp32"][1]
    baseline = results["torch-fp32"][0]
    print(f"{'backend':<24} {'docs/s':>8} {'× fp32':>7} {'cosine to fp32: min':>20} {'mean':>7}")
    for name, (speed, vectors) in results.items():
        cosines = np.sum(vectors * reference, axis=1)
        print(f"{name:<24} {speed:8.1f} {speed / baseline:7.2f} {cosines.min():20.4f} {cosines.mean():7.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
