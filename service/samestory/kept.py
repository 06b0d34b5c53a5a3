"""Values kept by key between calls, the least recently used dropped past a bound."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING: Any = object()


class Kept(Generic[K, V]):
    """Up to `size` values by key, the least recently used dropped past it. Thread-safe: look up with
    `found`, make what is missing outside the lock, then `keep` it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def found(self, keys: Iterable[K]) -> dict[K, V]:
        """The values kept under `keys`, each now the most recently used."""
        out: dict[K, V] = {}
        with self._lock:
            # One lookup a key and the methods bound once: a decision asks for a few hundred names.
            get, move = self._kept.get, self._kept.move_to_end
            for key in keys:
                value = get(key, _MISSING)
                if value is not _MISSING:
                    move(key)
                    out[key] = value
        return out

    def keep(self, values: Mapping[K, V]) -> None:
        with self._lock:
            self._kept.update(values)
            move = self._kept.move_to_end
            for key in values:
                move(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
