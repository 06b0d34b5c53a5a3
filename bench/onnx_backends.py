"""ONNX Runtime against torch on the same documents: speed and agreement with torch fp32, in one run.

    .venv/bin/python bench/onnx_backends.py [--dataset FILE.jsonl] [--articles N]

How the onnx-int8 backend was chosen, and what it costs against the alternatives. The
bundled model is exported to ONNX with the service's own steps (`samestory.semantic`:
eager attention, so that ONNX Runtime's BERT optimizer recognises the attention pattern),
fused (attention, skip layer norm, bias GELU) and quantized to int8 after fusion, one scale
per matrix and one per output channel (the service's). Every variant embeds the same
documents in batches of 8 after sorting by length, each ONNX file through the service's
own runner (`OnnxEmbedder`); torch fp32 is the baseline and the reference for the cosines.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from samestory.semantic import (  # noqa: E402
    BACKENDS,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    export_onnx,
    fuse_onnx,
    quantize_onnx,
)
from samestory.text import clean, document_text  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 8


def load_documents(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()][:count]
    return [document_text(row.get("title") or "", clean(row["text"])) for row in rows]


def export(embedder: SentenceTransformerEmbedder, folder: Path) -> dict[str, Path]:
    """The model as ONNX files: plain, fused, and fused then quantized to int8 two ways (the service's: per channel)."""
    paths = {
        name: folder / f"{name}.onnx" for name in ("onnx-fp32", "onnx-fp32-fused", "onnx-int8", "onnx-int8-channel")
    }
    export_onnx(embedder._model, paths["onnx-fp32"])
    fused = fuse_onnx(paths["onnx-fp32"], paths["onnx-fp32-fused"], embedder._model[0].auto_model.config)
    print("fused operators:", fused)
    quantize_onnx(paths["onnx-fp32-fused"], paths["onnx-int8"], per_channel=False)
    quantize_onnx(paths["onnx-fp32-fused"], paths["onnx-int8-channel"], per_channel=True)
    return paths


def timed(encode, docs: list[str]) -> tuple[float, np.ndarray]:
    """Documents per second over batches of 8 in length order (the second of two passes)."""
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    batches = [order[k : k + BATCH] for k in range(0, len(order), BATCH)]
    for _ in range(2):
        start = time.perf_counter()
        parts = [encode([docs[i] for i in rows]) for rows in batches]
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
    print(f"dataset {args.dataset.name}, {len(docs)} documents, batch {BATCH}, {args.threads} threads")
    results: dict[str, tuple[float, np.ndarray]] = {}
    embedders = {
        backend: SentenceTransformerEmbedder(threads=args.threads, backend=backend)
        for backend in BACKENDS
        if backend.startswith("torch-")
    }
    for backend, embedder in embedders.items():
        results[backend] = timed(lambda batch, e=embedder: e.raw_encode(batch, batch_size=BATCH), docs)
    embedder = embedders["torch-fp32"]
    with tempfile.TemporaryDirectory(prefix="samestory-onnx-") as folder:
        started = time.perf_counter()
        paths = export(embedder, Path(folder))
        print(f"export, fusion and quantization: {time.perf_counter() - started:.1f} s")
        for name, path in paths.items():
            # The service's own runner on each file: its tokenisation, its pooling.
            runner = OnnxEmbedder(threads=args.threads, onnx_file=path)
            results[name] = timed(lambda batch, r=runner: r.raw_encode(batch, batch_size=BATCH), docs)

    reference = results["torch-fp32"][1]
    baseline = results["torch-fp32"][0]
    print(f"{'backend':<20} {'docs/s':>8} {'× fp32':>7} {'cosine to fp32: min':>20} {'mean':>7}")
    for name, (speed, vectors) in results.items():
        cosines = np.sum(vectors * reference, axis=1)
        print(f"{name:<20} {speed:8.1f} {speed / baseline:7.2f} {cosines.min():20.4f} {cosines.mean():7.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
