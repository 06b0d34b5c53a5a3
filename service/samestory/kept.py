"""Values kept by key between calls, the least recently used dropped past a bound."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["Kept"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


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
        with self._lock:
            out = {key: self._kept[key] for key in keys if key in self._kept}
            for key in out:
                self._kept.move_to_end(key)
        return out

    def keep(self, values: Mapping[K, V]) -> None:
        with self._lock:
            self._kept.update(values)
            for key in values:
                self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
