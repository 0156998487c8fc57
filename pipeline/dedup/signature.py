"""MinHash signatures of body shingles (datasketch), and their Jaccard estimate.

Signatures are stored as 32-bit values: datasketch keeps each hash value below 2**32, so
``uint32`` halves the state without losing anything.
"""

from __future__ import annotations

import base64
from functools import cached_property

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

SEED = 1  # fixed: signatures in the changelog must stay comparable across restarts


class MinHasher:
    """Computes signatures with one shared set of permutations (generating them is slow)."""

    def __init__(self, num_perm: int = 128, seed: int = SEED) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations

    def signature(self, shingles: set[bytes]) -> np.ndarray:
        mh = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self._permutations)
        mh.update_batch(shingles)
        return mh.hashvalues.astype(np.uint32)

    @cached_property
    def empty(self) -> np.ndarray:
        return self.signature(set())


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of positions where the minima agree."""
    return float(np.count_nonzero(a == b)) / len(a)


def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) of the LSH for ``threshold``, weighted towards recall.

    A false candidate costs one signature comparison; a missed duplicate is a wrong story
    cluster, so false negatives weigh 0.8 against 0.2 for false positives.
    """
    return _optimal_param(threshold, num_perm, 0.2, 0.8)


def encode(signature: np.ndarray) -> str:
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)
