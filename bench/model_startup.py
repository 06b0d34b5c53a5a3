"""What opening the model costs, per backend: seconds to a first vector, peak memory, whether torch is loaded.

    .venv/bin/python bench/model_startup.py [--max-tokens 256] [--threads 2] [--cache-dir DIR]

Each start runs in a fresh process, as a server start does: it imports the embedder, opens
the model and embeds one document. onnx-int8 starts twice over one cache folder (a new
temporary one unless `--cache-dir` names one): the first start converts the model, the
second finds it converted. The baseline is torch-fp32, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from model_options import REPO

# Runs in the child: import, open, one document; prints one JSON line.
CHILD = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from samestory.semantic import open_embedder
backend, threads, max_tokens, cache_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
model = open_embedder(backend=backend, threads=threads, max_tokens=max_tokens, cache_dir=cache_dir)
opened = time.perf_counter()
model.encode([sys.stdin.read()])
print(json.dumps({
    "open_s": opened - started,
    "first_vector_s": time.perf_counter() - started,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "torch": "torch" in sys.modules,
}))
"""


def start(backend: str, args: argparse.Namespace, cache_dir: Path, document: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, backend, str(args.threads), str(args.max_tokens), str(cache_dir)],
        input=document,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{backend} did not start:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--cache-dir", type=Path, help="the converted models' folder (default: a new one)")
    args = parser.parse_args()
    document = min((p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))), key=len)
    with tempfile.TemporaryDirectory(prefix="samestory-model-cache-") as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        runs = [
            ("torch-fp32 (baseline)", start("torch-fp32", args, cache_dir, document)),
            ("onnx-int8, first start", start("onnx-int8", args, cache_dir, document)),
            ("onnx-int8, converted", start("onnx-int8", args, cache_dir, document)),
        ]
    print(f"model start-up, {args.max_tokens} tokens, {args.threads} threads, python {sys.version.split()[0]}")
    print(f"{'start':<24} {'open s':>7} {'first vector s':>15} {'peak RSS MB':>12}  torch loaded")
    for name, run in runs:
        print(
            f"{name:<24} {run['open_s']:7.2f} {run['first_vector_s']:15.2f} {run['peak_rss_mb']:12.0f}  "
            f"{'yes' if run['torch'] else 'no'}"
        )
    baseline, converted = runs[0][1], runs[2][1]
    print(
        f"onnx-int8 converted against the baseline: {converted['first_vector_s'] / baseline['first_vector_s']:.2f} "
        f"of the time, {converted['peak_rss_mb'] / baseline['peak_rss_mb']:.2f} of the memory"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
