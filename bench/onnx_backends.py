"""ONNX Runtime against torch on the same documents: speed and agreement with torch fp32, in one run.

    .venv/bin/pip install onnxruntime onnx   # not dependencies of the service (yet)
    .venv/bin/python bench/onnx_backends.py [--dataset FILE.jsonl] [--articles N]

The candidate backends for issue 6's goal (≥ 50 articles/s with quality within 0.01 F1 of
torch fp32). The bundled model is exported to ONNX (eager attention, so that ONNX Runtime's
BERT optimizer recognises the attention pattern), fused (attention, skip layer norm, bias
GELU) and quantized to int8 after fusion, per tensor and per output channel. Every variant
embeds the same documents in batches of 8 after sorting by length, mean-pooled and
normalised as sentence-transformers does; torch fp32 is the baseline and the reference
for the cosines.
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

from samestory.semantic import BACKENDS, SentenceTransformerEmbedder  # noqa: E402
from samestory.text import clean, document_text  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 8


def load_documents(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()][:count]
    return [document_text(row.get("title") or "", clean(row["text"])) for row in rows]


def export(embedder: SentenceTransformerEmbedder, folder: Path) -> dict[str, Path]:
    """The model as ONNX files: plain, fused, and fused then quantized to int8 two ways."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    model = embedder._model
    transformer = model[0].auto_model.eval()
    # After its own timing: the torch embedder is not used again once its model is exported.
    transformer.set_attn_implementation("eager")
    sample = model.tokenizer(["an example", "another example"], padding=True, return_tensors="pt")

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask, types):
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    axes = {0: "batch", 1: "tokens"}
    names = ("onnx-fp32", "onnx-fp32-fused", "onnx-int8", "onnx-int8-channel")
    paths = {name: folder / f"{name}.onnx" for name in names}
    torch.onnx.export(
        Hidden(transformer),
        (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
        str(paths["onnx-fp32"]),
        input_names=["ids", "mask", "types"],
        output_names=["hidden"],
        dynamic_axes={"ids": axes, "mask": axes, "types": axes, "hidden": axes},
        opset_version=17,
        dynamo=False,
    )
    config = transformer.config
    fused = optimizer.optimize_model(
        str(paths["onnx-fp32"]),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
    )
    print("fused operators:", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
    fused.save_model_to_file(str(paths["onnx-fp32-fused"]))
    # DefaultTensorType: the fused operators are of another domain, so shape inference cannot type them.
    for name, per_channel in (("onnx-int8", False), ("onnx-int8-channel", True)):
        quantize_dynamic(
            paths["onnx-fp32-fused"],
            paths[name],
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            extra_options={"DefaultTensorType": 1},
        )
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
    embedders = {backend: SentenceTransformerEmbedder(threads=args.threads, backend=backend) for backend in BACKENDS}
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
