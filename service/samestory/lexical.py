"""Word shingles, MinHash signatures and the MinHash-LSH index (lexical candidates)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

__all__ = ["Hasher", "LexicalIndex", "LexicalParams", "Signature", "containment", "jaccard", "shingles"]

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LexicalParams:
    """Everything that makes two signatures comparable; stored with the data."""

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    shingle_size: int = 5
    lsh_threshold: float = 0.5

    def as_dict(self) -> dict[str, str]:
        return {
            "minhash.num_perm": str(self.num_perm),
            "minhash.seed": str(self.seed),
            "minhash.scheme": self.scheme,
            "minhash.hashfunc": "sha1_hash32" if self.scheme != "affine64" else "sha1_hash64",
            "shingle.words": str(self.shingle_size),
            "lsh.threshold": str(self.lsh_threshold),
        }


@dataclass(frozen=True)
class Signature:
    """A MinHash signature and the number of distinct shingles behind it."""

    hashvalues: np.ndarray
    shingles: int

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, shingles: int) -> Signature:
        return cls(np.frombuffer(data, dtype="<u8").astype(np.uint64), shingles)


def shingles(words: Sequence[str], size: int) -> set[bytes]:
    """Distinct word n-grams; a text shorter than `size` words is one shingle."""
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


class Hasher:
    """Builds signatures from a template MinHash (copying it is cheaper than a new one)."""

    def __init__(self, params: LexicalParams) -> None:
        self.params = params
        self._template = MinHash(num_perm=params.num_perm, seed=params.seed, scheme=params.scheme)

    def signature(self, words: Sequence[str]) -> Signature:
        """The MinHash signature of a text's word shingles."""
        grams = shingles(words, self.params.shingle_size)
        minhash = self._template.copy()
        if grams:
            minhash.update_batch(list(grams))
        return Signature(minhash.hashvalues.copy(), len(grams))


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    if a.shingles == 0 or b.shingles == 0:
        return 0.0
    return float(np.count_nonzero(a.hashvalues == b.hashvalues)) / len(a.hashvalues)


def containment(a: Signature, b: Signature) -> float:
    """Estimated share of the smaller set that lies in the other.

    From J = |A∩B| / |A∪B| and the set sizes: |A∩B| = J (|A|+|B|) / (1+J).
    """
    j = jaccard(a, b)
    smaller = min(a.shingles, b.shingles)
    if smaller == 0:
        return 0.0
    return min(1.0, j * (a.shingles + b.shingles) / (1.0 + j) / smaller)


class LexicalIndex:
    """MinHash-LSH over article keys (store sequence numbers).

    Not safe under concurrent mutation: the detector's writer lock guards it.
    """

    def __init__(self, params: LexicalParams) -> None:
        self.params = params
        self._lsh = MinHashLSH(threshold=params.lsh_threshold, num_perm=params.num_perm)
        self.bands, self.rows = self._lsh.b, self._lsh.r

    def _lean(self, sig: Signature) -> LeanMinHash:
        return LeanMinHash(seed=self.params.seed, hashvalues=sig.hashvalues, scheme=self.params.scheme)

    def add(self, key: int, sig: Signature) -> None:
        if sig.shingles and key not in self._lsh:
            self._lsh.insert(key, self._lean(sig), check_duplication=False)

    def add_many(self, items: Iterable[tuple[int, Signature]]) -> None:
        with self._lsh.insertion_session() as session:
            for key, sig in items:
                if sig.shingles:
                    session.insert(key, self._lean(sig), check_duplication=False)

    def remove(self, key: int) -> None:
        if key in self._lsh:
            self._lsh.remove(key)

    def query(self, sig: Signature) -> list[int]:
        if not sig.shingles:
            return []
        return list(self._lsh.query(self._lean(sig)))

    def __contains__(self, key: int) -> bool:
        return key in self._lsh

    def __len__(self) -> int:
        return len(self._lsh.keys.keys())
