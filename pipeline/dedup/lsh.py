"""Locality-sensitive hashing over MinHash bands, in memory.

datasketch's ``MinHashLSH`` keeps every band as a byte string per key (about 8 KB per
article at 128 permutations); this index keeps one integer per band and recomputes the
band keys from the stored signature on removal, so it costs a few hundred bytes per
article. It is derived state: rebuilt from the dedup table after a restart.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class BandIndex:
    def __init__(self, bands: int, rows: int) -> None:
        self.bands = bands
        self.rows = rows
        # band key -> one article id, or a list of ids when several share the bucket
        self._buckets: dict[int, str | list[str]] = {}

    def _keys(self, signature: np.ndarray) -> Iterator[int]:
        r = self.rows
        for band in range(self.bands):
            yield hash((band, signature[band * r : (band + 1) * r].tobytes()))

    def add(self, key: str, signature: np.ndarray) -> None:
        buckets = self._buckets
        for band_key in self._keys(signature):
            held = buckets.get(band_key)
            if held is None:
                buckets[band_key] = key
            elif isinstance(held, str):
                if held != key:
                    buckets[band_key] = [held, key]
            elif key not in held:
                held.append(key)

    def remove(self, key: str, signature: np.ndarray) -> None:
        buckets = self._buckets
        for band_key in self._keys(signature):
            held = buckets.get(band_key)
            if held == key:
                del buckets[band_key]
            elif isinstance(held, list) and key in held:
                held.remove(key)
                if len(held) == 1:
                    buckets[band_key] = held[0]

    def candidates(self, signature: np.ndarray) -> set[str]:
        found: set[str] = set()
        buckets = self._buckets
        for band_key in self._keys(signature):
            held = buckets.get(band_key)
            if held is None:
                continue
            if isinstance(held, str):
                found.add(held)
            else:
                found.update(held)
        return found

    def clear(self) -> None:
        self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)
