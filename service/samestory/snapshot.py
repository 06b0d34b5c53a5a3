"""Index snapshots: the indexes' contents as of one point in the store's change log.

A snapshot holds, for every indexed article, its key, MinHash signature,
vector, inverted list and time, and the vector index's centroids and the
time window's horizon, as of change `seq`. Start-up loads it and replays the store's
changes after `seq`, instead of reading every article back from the store.
The store stays the truth: a snapshot that is missing, truncated, corrupted,
from other parameters or from the future is ignored and the indexes are
rebuilt from the store.

File layout: a 16-byte magic, a little-endian u32 header length, a JSON
header (format version, seq, parameters, count, dimensions, number of
centroids, horizon, and the SHA-256 of the body), then the body: keys
(int64), shingle counts (int64), signatures (count x num_perm, little-endian
unsigned integers of `signature_bytes` each: 4 where every value fits, as
datasketch's 32-bit schemes give, else 8; a header without it means 8),
vectors (float32, count x dim), inverted lists (int64, -1 for none),
times (float64) and centroids (float32, centroids x dim; none while the
vector index is exact).
It is written to a temporary file, fsynced, and renamed over the old one,
so a crash mid-write leaves the previous snapshot in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MAGIC", "Snapshot", "SnapshotError", "read_snapshot", "write_snapshot"]

MAGIC = b"SAMESTORY-INDEX\x00"
FORMAT_VERSION = 2
_HEADER_LENGTH = struct.Struct("<I")
_MAX_HEADER = 1 << 20


class SnapshotError(Exception):
    """A snapshot file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    seq: int
    parameters: dict[str, str]
    keys: np.ndarray  # int64 (n,)
    shingles: np.ndarray  # int64 (n,)
    signatures: np.ndarray  # (n, num_perm), uint32 or uint64 (`signature_bytes`)
    vectors: np.ndarray  # float32 (n, dim)
    lists: np.ndarray  # int64 (n,): each vector's inverted list, -1 where none
    times: np.ndarray  # float64 (n,): when each article was ingested (POSIX seconds)
    centroids: np.ndarray  # float32 (k, dim); k = 0 while the vector index is exact
    horizon: float = 0.0  # articles ingested before this had left the indexes (0: no window)

    def __len__(self) -> int:
        return len(self.keys)


def _signature_bytes(signatures: np.ndarray) -> int:
    """4 where every value fits in 32 bits (datasketch's affine32 scheme, the default), else 8."""
    return 4 if signatures.dtype.itemsize <= 4 or not signatures.size or int(signatures.max()) >> 32 == 0 else 8


def _sections(snapshot: Snapshot, width: int) -> list[bytes]:
    return [
        np.ascontiguousarray(snapshot.keys, dtype="<i8").tobytes(),
        np.ascontiguousarray(snapshot.shingles, dtype="<i8").tobytes(),
        np.ascontiguousarray(snapshot.signatures, dtype=f"<u{width}").tobytes(),
        np.ascontiguousarray(snapshot.vectors, dtype="<f4").tobytes(),
        np.ascontiguousarray(snapshot.lists, dtype="<i8").tobytes(),
        np.ascontiguousarray(snapshot.times, dtype="<f8").tobytes(),
        np.ascontiguousarray(snapshot.centroids, dtype="<f4").tobytes(),
    ]


def write_snapshot(path: Path, snapshot: Snapshot) -> int:
    """Write atomically (temporary file, fsync, rename, fsync of the folder); returns the bytes written."""
    width = _signature_bytes(snapshot.signatures)
    sections = _sections(snapshot, width)
    digest = hashlib.sha256()
    for section in sections:
        digest.update(section)
    count = len(snapshot)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "seq": int(snapshot.seq),
            "parameters": snapshot.parameters,
            "count": count,
            "num_perm": int(snapshot.signatures.shape[1]),
            "signature_bytes": width,
            "dim": int(snapshot.vectors.shape[1]),
            "centroids": int(len(snapshot.centroids)),
            "horizon": float(snapshot.horizon),
            "sha256": digest.hexdigest(),
        },
        sort_keys=True,
    ).encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(MAGIC)
        fh.write(_HEADER_LENGTH.pack(len(header)))
        fh.write(header)
        for section in sections:
            fh.write(section)
        fh.flush()
        os.fsync(fh.fileno())
        size = fh.tell()
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return size


def read_snapshot(path: Path) -> Snapshot:
    """Read and verify a snapshot; raises SnapshotError naming what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from exc
    prefix = len(MAGIC) + _HEADER_LENGTH.size
    if len(data) < prefix or not data.startswith(MAGIC):
        raise SnapshotError(f"{path} is not a Samestory index snapshot (bad magic)")
    (header_length,) = _HEADER_LENGTH.unpack_from(data, len(MAGIC))
    if header_length > _MAX_HEADER or prefix + header_length > len(data):
        raise SnapshotError(f"{path} is truncated in its header")
    try:
        header = json.loads(data[prefix : prefix + header_length])
        count, num_perm, dim = int(header["count"]), int(header["num_perm"]), int(header["dim"])
        centroids, horizon = int(header["centroids"]), float(header["horizon"])
        seq, version, expected = int(header["seq"]), header["format"], header["sha256"]
        parameters = {str(k): str(v) for k, v in header["parameters"].items()}
        width = int(header.get("signature_bytes", 8))  # snapshots written before it was a choice: 8
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SnapshotError(f"{path} has an unreadable header: {exc}") from exc
    if version != FORMAT_VERSION:
        raise SnapshotError(f"{path} has format {version!r}; this build reads {FORMAT_VERSION}")
    if width not in (4, 8):
        raise SnapshotError(f"{path} has signatures of {width} bytes a value; this build reads 4 or 8")
    body = memoryview(data)[prefix + header_length :]
    sizes = [8 * count, 8 * count, width * count * num_perm, 4 * count * dim, 8 * count, 8 * count, 4 * centroids * dim]
    if min(count, num_perm, dim, centroids) < 0 or len(body) != sum(sizes):
        raise SnapshotError(f"{path} holds {len(body)} bytes of index data where its header promises {sum(sizes)}")
    if hashlib.sha256(body).hexdigest() != expected:
        raise SnapshotError(f"{path} fails its checksum: the file is corrupted")
    offsets = np.cumsum([0, *sizes])
    section = [body[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]
    return Snapshot(
        seq=seq,
        parameters=parameters,
        keys=np.frombuffer(section[0], dtype="<i8").astype(np.int64, copy=False),
        shingles=np.frombuffer(section[1], dtype="<i8").astype(np.int64, copy=False),
        signatures=np.frombuffer(section[2], f"<u{width}").reshape(count, num_perm).astype(f"u{width}", copy=False),
        vectors=np.frombuffer(section[3], dtype="<f4").reshape(count, dim).astype(np.float32, copy=False),
        lists=np.frombuffer(section[4], dtype="<i8").astype(np.int64, copy=False),
        times=np.frombuffer(section[5], dtype="<f8").astype(np.float64, copy=False),
        centroids=np.frombuffer(section[6], dtype="<f4").reshape(centroids, dim).astype(np.float32, copy=False),
        horizon=horizon,
    )
