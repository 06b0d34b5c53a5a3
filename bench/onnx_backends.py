"""ONNX Runtime against torch on the same documents: speed and agreement with torch fp32, in one run.

    .venv/bin/python bench/onnx_backends.py [--dataset FILE.jsonl] [--articles N]

How the onnx-int8 backend was chosen, and what it costs against the alternatives. The
bundled model is exported to ONNX with the service's own steps (`samestory.semantic`:
eager attention, so that ONNX Runtime's BERT optimizer recognises the attention pattern),
fused (attention, skip layer norm, bias GELU) and quantized to int8 after fusion, one scale
per matrix and one per output channel (the service's). Every variant embeds the same
documents in batches of 8 after sorting by length, mean-pooled and normalised as
sentence-transformers does; torch fp32 is the baseline and the reference for the cosines.
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


def onnx_encoder(path: Path, tokenizer, max_tokens: int, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(batch: list[str]) -> np.ndarray:
        tokens = tokenizer(batch, padding=True, truncation=True, max_length=max_tokens, return_tensors="np")
        feed = {"ids": tokens["input_ids"], "mask": tokens["attention_mask"], "types": tokens["token_type_ids"]}
        hidden = session.run(None, feed)[0]
        mask = tokens["attention_mask"][..., None].astype(np.float32)
        vectors = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return encode


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
            encode = onnx_encoder(path, embedder._model.tokenizer, embedder.max_tokens, args.threads)
            results[name] = timed(encode, docs)

    reference = results["torch-fp32"][1]
    baseline = results["torch-fp32"][0]
    print(f"{'backend':<20} {'docs/s':>8} {'× fp32':>7} {'cosine to fp32: min':>20} {'mean':>7}")
    for name, (speed, vectors) in results.items():
        cosines = np.sum(vectors * reference, axis=1)
        print(f"{name:<20} {speed:8.1f} {speed / baseline:7.2f} {cosines.min():20.4f} {cosines.mean():7.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
