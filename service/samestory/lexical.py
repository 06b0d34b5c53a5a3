"""Word shingles, MinHash signatures and the MinHash-LSH index (lexical candidates)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import pickle
import struct
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.storage import OrderedStorage, UnorderedStorage, ordered_storage

from .errors import ConfigurationError, IncompatibleData

__all__ = [
    "CompactBuckets",
    "Hasher",
    "LexicalIndex",
    "LexicalParams",
    "RedisLexicalIndex",
    "Signature",
    "band_key",
    "band_keys",
    "containment",
    "jaccard",
    "most_shared",
    "shingles",
]

LOG = logging.getLogger(__name__)
_sha1 = hashlib.sha1


@dataclass(frozen=True)
class LexicalParams:
    """Everything that makes two signatures comparable; stored with the data."""

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    shingle_size: int = 5
    lsh_threshold: float = 0.5

    @property
    def hash_bytes(self) -> int:
        """How much of a shingle's SHA-1 its hash value takes: datasketch's sha1_hash64 for affine64, else
        sha1_hash32 (MinHash's own default for the scheme)."""
        return 8 if self.scheme == "affine64" else 4

    def as_dict(self) -> dict[str, str]:
        return {
            "minhash.num_perm": str(self.num_perm),
            "minhash.seed": str(self.seed),
            "minhash.scheme": self.scheme,
            "minhash.hashfunc": f"sha1_hash{8 * self.hash_bytes}",
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
    return set(map(str.encode, map(" ".join, zip(*(words[i:] for i in range(size)), strict=False))))


def _sha1_values(grams: Iterable[bytes], width: int) -> list[int]:
    """datasketch's `sha1_hash32` (width 4) or `sha1_hash64` (8) of each value: the first bytes of its
    SHA-1, little-endian; the digests read at once rather than one `struct.unpack` a value."""
    digests = np.frombuffer(b"".join([_sha1(g).digest() for g in grams]), dtype=np.uint8).reshape(-1, 20)
    return digests[:, :width].copy().view(f"<u{width}").ravel().tolist()


class Hasher:
    """Builds signatures with one MinHash per thread, cleared for each text: a new MinHash draws its
    permutations again, and a copy checks every value it is given. The shingles' hash values are
    datasketch's own SHA-1 functions' (`LexicalParams.as_dict`), worked out for all of a text's
    shingles at once and handed to the MinHash as they are (its `hashfunc` is `int`)."""

    def __init__(self, params: LexicalParams) -> None:
        self.params = params
        self._own = threading.local()

    def signature(self, words: Sequence[str]) -> Signature:
        """The MinHash signature of a text's word shingles."""
        grams = shingles(words, self.params.shingle_size)
        minhash = getattr(self._own, "minhash", None)
        if minhash is None:
            p = self.params
            minhash = self._own.minhash = MinHash(num_perm=p.num_perm, seed=p.seed, scheme=p.scheme, hashfunc=int)
        minhash.clear()
        if grams:
            minhash.update_batch(_sha1_values(grams, self.params.hash_bytes))
        return Signature(minhash.hashvalues.copy(), len(grams))


def most_shared(buckets: Iterable[Iterable[int]]) -> list[int]:
    """The keys of a query's buckets (one a table), those in the most buckets first, the newest first among
    equals: the number of bands two signatures share grows with their Jaccard similarity, so a caller that
    takes the first few takes the closest (the detector's `lexical_candidates`)."""
    return _ranked(Counter(key for members in buckets for key in members))


def _ranked(shared: Mapping[int, int]) -> list[int]:
    """Keys by how many buckets they share (`shared`), most first, the newest first among equals."""
    return sorted(shared, key=lambda key: (-shared[key], -key))


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    if a.shingles == 0 or b.shingles == 0:
        return 0.0
    return float(np.count_nonzero(a.hashvalues == b.hashvalues)) / len(a.hashvalues)


def containment(a: Signature, b: Signature, j: float | None = None) -> float:
    """Estimated share of the smaller set that lies in the other.

    From J = |A∩B| / |A∪B| and the set sizes: |A∩B| = J (|A|+|B|) / (1+J). `j`: their `jaccard`, when
    the caller has it already.
    """
    if j is None:
        j = jaccard(a, b)
    smaller = min(a.shingles, b.shingles)
    if smaller == 0:
        return 0.0
    return min(1.0, j * (a.shingles + b.shingles) / (1.0 + j) / smaller)


# Band keys: datasketch hands `hashfunc` a band's hash values as big-endian bytes.
# Folding them into one 60-bit integer (FNV-1a over 64-bit words, then a final mix) makes
# each bucket key a 36-byte int instead of a 73-byte bytes object, and `band_keys` gives
# the same numbers for a whole array of signatures at once, for bulk loads.
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MIX = 0xFF51AFD7ED558CCD
_MASK64 = (1 << 64) - 1
_MASK60 = (1 << 60) - 1


def band_key(band: bytes, rows: int) -> int:
    """One band's bucket key (the `hashfunc` given to datasketch's MinHashLSH).

    `band` holds `rows` big-endian hash values of 4 or 8 bytes (datasketch keeps
    32-bit schemes' values as uint32): the key depends on the values only.
    """
    h = _FNV_OFFSET
    for value in struct.unpack(f">{rows}{'I' if len(band) == 4 * rows else 'Q'}", band):
        h = ((h ^ value) * _FNV_PRIME) & _MASK64
    h ^= h >> 33
    return ((h * _MIX) & _MASK64) >> 4


def band_keys(signatures: np.ndarray, hashranges: Sequence[tuple[int, int]]) -> np.ndarray:
    """`band_key` of every band of every signature: shape (n, bands), uint64. All bands at once, so that
    one signature (an article's query and insert) costs a few numpy operations, not one call a band; many
    (a bulk load) go in blocks, which bounds the temporary arrays."""
    columns = _band_columns(tuple((int(start), int(end)) for start, end in hashranges))
    out = np.empty((len(signatures), len(hashranges)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for first in range(0, len(signatures), _BAND_BLOCK):
            # Widened a block at a time: a snapshot's signatures come as 32-bit values.
            block = np.asarray(signatures[first : first + _BAND_BLOCK], dtype=np.uint64)
            h = np.full((len(block), len(columns)), _FNV_OFFSET, dtype=np.uint64)
            for column in columns.T:
                h = (h ^ block[:, column]) * np.uint64(_FNV_PRIME)
            h ^= h >> np.uint64(33)
            out[first : first + len(block)] = (h * np.uint64(_MIX)) >> np.uint64(4)
    return out


_BAND_BLOCK = 1 << 16  # signatures hashed at once: temporaries of 13 MB with 25 bands


@functools.lru_cache(maxsize=8)
def _band_columns(hashranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """The signature's columns band by band: shape (bands, rows). datasketch's bands are equally wide."""
    widths = {end - start for start, end in hashranges}
    if len(widths) != 1:
        raise ValueError(f"bands of unequal widths: {sorted(widths)}")
    return np.array([np.arange(start, end) for start, end in hashranges], dtype=np.intp)


class CompactBuckets(UnorderedStorage):
    """One LSH hash table: bucket key -> the article key, or, when several share the bucket, their keys in the
    order they came (a dict of keys to None: keys grow, so the newest are last).

    datasketch's in-memory storage keeps a set per bucket (216 bytes even for one
    member), and nearly every bucket of a news archive has one member: that set
    was most of the index's 9 KB per article. A story syndicated to thousands of
    outlets fills its buckets with every copy; `newest` gives a query the last few.
    """

    def __init__(self) -> None:
        self._dict: dict[int, int | dict[int, None]] = {}

    def keys(self):
        return self._dict.keys()

    def get(self, key):
        members = self._dict.get(key)
        if members is None:
            return ()
        return members if isinstance(members, dict) else (members,)

    def newest(self, key, count: int | None) -> Iterable[int]:
        """The bucket's last `count` keys (None: all), the newest first."""
        members = self._dict.get(key)
        if members is None:
            return ()
        return itertools.islice(reversed(members), count) if isinstance(members, dict) else (members,)

    def insert(self, key, *vals, **kwargs) -> None:
        d = self._dict
        for val in vals:
            members = d.get(key)
            if members is None:
                d[key] = val
            elif isinstance(members, dict):
                members[val] = None
            elif members != val:
                d[key] = {members: None, val: None}

    def merge(self, buckets: dict[int, int | dict[int, None]]) -> None:
        """Bulk insert of whole buckets (the dict is taken over, not copied)."""
        if not self._dict:
            self._dict = buckets
            return
        common = buckets.keys() & self._dict.keys()
        before = {h: self._dict[h] for h in common}
        self._dict.update(buckets)
        for h, members in before.items():
            self._dict[h] = members
            self.insert(h, *(buckets[h] if isinstance(buckets[h], dict) else (buckets[h],)))

    def remove(self, *keys, **kwargs) -> None:
        for key in keys:
            self._dict.pop(key, None)

    def remove_val(self, key, val, **kwargs) -> None:
        members = self._dict.get(key)
        if isinstance(members, dict):
            members.pop(val, None)
            if len(members) == 1:
                self._dict[key] = next(iter(members))
        elif members == val:
            del self._dict[key]

    def size(self) -> int:
        return len(self._dict)

    def itemcounts(self, **kwargs) -> dict:
        return {k: len(v) if isinstance(v, dict) else 1 for k, v in self._dict.items()}

    def has_key(self, key) -> bool:
        return key in self._dict


class CompactKeys(OrderedStorage):
    """Article key -> its bucket keys, packed into one bytes object (a list of ints costs 5 times more)."""

    def __init__(self) -> None:
        self._dict: dict[int, bytes] = {}

    def keys(self):
        return self._dict.keys()

    def get(self, key):
        packed = self._dict.get(key)
        return [] if packed is None else list(struct.unpack(f"{len(packed) // 8}Q", packed))

    def insert(self, key, *vals, **kwargs) -> None:
        if key in self._dict:
            vals = (*self.get(key), *vals)
        self._dict[key] = struct.pack(f"{len(vals)}Q", *vals)

    def insert_packed(self, keys: list[int], packed: np.ndarray) -> None:
        """Bulk insert: row i of `packed` (uint64) holds the bucket keys of keys[i]."""
        rows = np.ascontiguousarray(packed, dtype=np.uint64)
        self._dict.update(zip(keys, (row.tobytes() for row in rows), strict=True))

    def remove(self, *keys, **kwargs) -> None:
        for key in keys:
            del self._dict[key]

    def remove_val(self, key, val, **kwargs) -> None:
        values = self.get(key)
        values.remove(val)
        self._dict[key] = struct.pack(f"{len(values)}Q", *values)

    def size(self) -> int:
        return len(self._dict)

    def itemcounts(self, **kwargs) -> dict:
        return {k: len(v) // 8 for k, v in self._dict.items()}

    def has_key(self, key) -> bool:
        return key in self._dict


class _Index:
    """What both LSH indexes do the same way through datasketch's MinHashLSH, whatever its storage."""

    def __init__(self, params: LexicalParams, lsh: MinHashLSH) -> None:
        self.params = params
        self._lsh = lsh
        self.bands, self.rows = lsh.b, lsh.r

    def _lean(self, sig: Signature) -> LeanMinHash:
        return LeanMinHash(seed=self.params.seed, hashvalues=sig.hashvalues, scheme=self.params.scheme)

    def __contains__(self, key: int) -> bool:
        return key in self._lsh

    def __len__(self) -> int:
        return int(self._lsh.keys.size())


class LexicalIndex(_Index):
    """MinHash-LSH over article keys (store sequence numbers): datasketch's MinHashLSH on compact storage.

    Not safe under concurrent mutation: the detector's writer lock guards it.
    """

    persistent = False  # lives in this process: rebuilt from the snapshot and the store on start

    def __init__(self, params: LexicalParams) -> None:
        lsh = MinHashLSH(threshold=params.lsh_threshold, num_perm=params.num_perm, hashfunc=band_key)
        lsh.hashfunc = functools.partial(band_key, rows=lsh.r)
        lsh.hashtables = [CompactBuckets() for _ in range(lsh.b)]
        lsh.keys = CompactKeys()
        super().__init__(params, lsh)
        self._last: tuple[Signature, list[int]] | None = None  # an article is queried, then added

    def _bucket_keys(self, sig: Signature) -> list[int]:
        """The signature's bucket key in each table, as datasketch's insert and query hash them band by band
        (`band_key`), here all bands at once (`band_keys`) and once for both: 350 -> 112 us an article."""
        last = self._last
        if last is None or last[0] is not sig:
            last = self._last = (sig, band_keys(sig.hashvalues[None, :], self._lsh.hashranges)[0].tolist())
        return last[1]

    def add(self, key: int, sig: Signature) -> None:
        if sig.shingles and key not in self._lsh:
            bucket_keys = self._bucket_keys(sig)
            self._lsh.keys.insert(key, *bucket_keys)
            for bucket, table in zip(bucket_keys, self._lsh.hashtables, strict=True):
                table.insert(bucket, key)

    def query(self, sig: Signature, per_bucket: int | None = None) -> list[int]:
        """The keys that share a bucket with `sig`, those that share the most first (`most_shared`); with
        `per_bucket`, of each bucket only its newest that many, so that a query costs the same however many
        copies of a story its buckets hold."""
        if not sig.shingles:
            return []
        tables = zip(self._bucket_keys(sig), self._lsh.hashtables, strict=True)
        return most_shared(table.newest(bucket, per_bucket) for bucket, table in tables)

    def add_arrays(self, keys: np.ndarray, shingles: np.ndarray, signatures: np.ndarray) -> None:
        """Bulk insert (start-up): the bands of all signatures are hashed at once, in numpy.

        Gives the same index as `add` one by one; skips keys already present and empty texts.
        """
        present = self._lsh.keys.keys()
        pairs = zip(keys.tolist(), shingles.tolist(), strict=True)
        take = [i for i, (k, n) in enumerate(pairs) if n and k not in present]
        if not take:
            return
        if len(take) < len(keys):
            keys, signatures = keys[take], signatures[take]
        members = keys.tolist()  # one int object per article, shared by every bucket that holds it
        bucket_keys = band_keys(signatures, self._lsh.hashranges)
        self._lsh.keys.insert_packed(members, bucket_keys)
        for band, table in enumerate(self._lsh.hashtables):
            column = bucket_keys[:, band]
            buckets: dict[int, int | dict[int, None]] = dict(zip(column.tolist(), members, strict=True))
            if len(buckets) < len(members):  # articles sharing a bucket (near-copies): their keys in order
                values, counts = np.unique(column, return_counts=True)
                shared = values[counts > 1]
                for h in shared.tolist():
                    buckets[h] = {}
                for row in np.flatnonzero(np.isin(column, shared)).tolist():
                    buckets[int(column[row])][members[row]] = None
            table.merge(buckets)

    def remove(self, key: int) -> None:
        if key in self._lsh:
            self._lsh.remove(key)

    def remove_many(self, keys: Iterable[int]) -> None:
        for key in keys:
            self.remove(key)


# Removes a key from one bucket, and the bucket from its table's index of buckets once it is empty.
# KEYS: the bucket's list, the table's hash; ARGV: the pickled key, the bucket's name in the table.
_DROP_FROM_BUCKET = """
redis.call('LREM', KEYS[1], 0, ARGV[1])
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
"""
# How the buckets are kept, recorded with the parameters. An index recorded without it holds datasketch's
# sets (Samestory before 2026-11-23): it is cleared at start and built again from the store.
_REDIS_LAYOUT = {"lsh.buckets": "lists, oldest first"}


class RedisLexicalIndex(_Index):
    """MinHash-LSH on Redis through datasketch's own Redis storage, shared by every replica.

    Its keys live under an explicit `basename`. Next to them, `<basename>:params` records
    the MinHash scheme and LSH parameters (checked on start: a mismatch is refused) and
    `<basename>:seq` the newest change of the store's log it reflects, so a write lost
    between the store and Redis (a crash in between) is replayed by the next replica
    that syncs. Each table's buckets are datasketch's Redis lists (`ordered_storage`, which
    datasketch keeps its keys' entries in), not its sets, so that a query reads each bucket's
    newest keys only: a story syndicated to thousands of outlets fills its buckets with copies.
    Bulk inserts go through `insertion_session`: one round trip per batch. An article's query
    takes one round trip too, its insert two (whether the key is there, then one transaction),
    a batch of deletes two: datasketch's own `query` reads the tables one by one, and its
    `insert` writes each table on its own (about 80 round trips an article, 9 ms here, against
    1.1 ms). They read and write the layout datasketch's storage gives its keys, through that
    storage's own methods.
    """

    persistent = True

    def __init__(self, params: LexicalParams, url: str, basename: str) -> None:
        try:
            import redis
        except ImportError as exc:  # only shared deployments need it
            raise ConfigurationError("a redis:// LSH needs the redis package: pip install 'samestory[shared]'") from exc
        self.basename = basename
        self._redis = redis.Redis.from_url(url)
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise ConfigurationError(f"cannot reach the Redis LSH at {url}: {exc}") from exc
        pool = self._redis.connection_pool.connection_kwargs
        config = {
            "type": "redis",
            "basename": basename.encode("utf-8"),
            "redis": {k: pool[k] for k in ("host", "port", "db", "username", "password") if pool.get(k) is not None},
        }
        lsh = MinHashLSH(threshold=params.lsh_threshold, num_perm=params.num_perm, storage_config=config)
        lsh.hashtables = [ordered_storage(config, name=table._name) for table in lsh.hashtables]
        super().__init__(params, lsh)
        self._drop_from_bucket = self._redis.register_script(_DROP_FROM_BUCKET)
        self._check_parameters()

    def _check_parameters(self) -> None:
        fields = {**self.params.as_dict(), "lsh.bands": self.bands, "lsh.rows": self.rows}
        described = json.dumps({**fields, **_REDIS_LAYOUT}, sort_keys=True)
        name = f"{self.basename}:params"
        while not self._redis.set(name, described, nx=True):
            stored = self._redis.get(name)
            if stored is None:  # another replica cleared it in between
                continue
            stored = stored.decode("utf-8")
            if stored == described:
                return
            if stored == json.dumps(fields, sort_keys=True):
                LOG.warning(
                    "the Redis LSH %r keeps its buckets as sets (an earlier Samestory): clearing it, to be built "
                    "again from the store",
                    self.basename,
                )
                self.clear()
                return
            raise IncompatibleData(
                f"the Redis LSH under basename {self.basename!r} was built with other parameters ({stored}; "
                f"these settings give {described}): use another SAMESTORY_LSH_BASENAME, or the settings "
                "it was built with"
            )

    def _band_hashes(self, sig: Signature) -> list[bytes]:
        """The signature's key in each table, as datasketch's `insert` and `query` make them."""
        values = self._lean(sig).hashvalues
        return [self._lsh._H(values[start:end]) for start, end in self._lsh.hashranges]

    def add(self, key: int, sig: Signature) -> None:
        """datasketch's insert (the key pickled, as its Redis storage keeps keys), in one transaction."""
        if not sig.shingles or key in self._lsh:
            return
        stored, hashes = pickle.dumps(key), self._band_hashes(sig)
        pipe = self._redis.pipeline(transaction=True)
        self._lsh.keys._insert(pipe, stored, *hashes)
        for bucket, table in zip(hashes, self._lsh.hashtables, strict=True):
            table._insert(pipe, bucket, stored)
        pipe.execute()

    def query(self, sig: Signature, per_bucket: int | None = None) -> list[int]:
        """datasketch's query, every table's bucket read in one pipeline (its newest `per_bucket` keys, or
        all), those sharing the most first."""
        if not sig.shingles:
            return []
        pipe = self._redis.pipeline(transaction=False)
        first = 0 if per_bucket is None else -per_bucket
        for bucket, table in zip(self._band_hashes(sig), self._lsh.hashtables, strict=True):
            pipe.lrange(table.redis_key(bucket), first, -1)
        # Pickled keys; a list never holds one twice (`add` checks first), but a set costs nothing here.
        shared = Counter(stored for members in pipe.execute() for stored in set(members))
        return _ranked({pickle.loads(stored): n for stored, n in shared.items()})  # each key unpickled once

    @property
    def seq(self) -> int:
        """The newest change of the store's log this index reflects."""
        return int(self._redis.get(f"{self.basename}:seq") or 0)

    def set_seq(self, seq: int) -> None:
        self._redis.set(f"{self.basename}:seq", seq)

    def add_arrays(self, keys: np.ndarray, shingles: np.ndarray, signatures: np.ndarray) -> None:
        if not len(keys):
            return
        present = set(self._lsh.keys.keys())  # one round trip: the keys as datasketch stores them (pickled)
        with self._lsh.insertion_session(buffer_size=50_000) as session:
            for key, n, sig in zip(keys.tolist(), shingles.tolist(), signatures, strict=True):
                if n and pickle.dumps(key) not in present:
                    session.insert(key, self._lean(Signature(sig, n)), check_duplication=False)

    def remove(self, key: int) -> None:
        self.remove_many([key])

    def remove_many(self, keys: Iterable[int]) -> None:
        """Batched and idempotent: another replica may have removed some already. Two round trips: each key's
        buckets (datasketch's entry for it), then one transaction. datasketch's own removal from list buckets
        calls redis-py's `lrem` without its count."""
        stored = [pickle.dumps(key) for key in keys]
        entries = self._lsh.keys
        pipe = self._redis.pipeline(transaction=False)
        for key in stored:
            entries._get_items(pipe, entries.redis_key(key))
        buckets = pipe.execute()
        pipe = self._redis.pipeline(transaction=True)
        for key, its in zip(stored, buckets, strict=True):
            if not its:
                continue
            for bucket, table in zip(its, self._lsh.hashtables, strict=True):
                self._drop_from_bucket(keys=[table.redis_key(bucket), table._name], args=[key, bucket], client=pipe)
            entries._remove(pipe, key)
        pipe.execute()

    def clear(self) -> None:
        """Remove every key under this basename (the index is rebuilt from the store after)."""
        for pattern in (f"{self.basename}_*", f"{self.basename}:*"):  # datasketch's names, and ours
            for name in self._redis.scan_iter(match=pattern.encode(), count=10_000):
                self._redis.delete(name)
        self._check_parameters()
