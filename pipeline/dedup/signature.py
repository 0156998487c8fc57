"""MinHash signatures of body shingles, and their Jaccard estimate.

The algorithm and its numbers are datasketch's (1.6.5) ``MinHash`` with its default SHA-1
hash and its ``MinHashLSH`` band choice, written out here with numpy alone: importing
datasketch imports scipy (for the band choice's integrals), which cost every worker start
0.8 s or more of CPU (issue 11.7). tests/unit/dedup/test_signature_datasketch.py checks,
against datasketch itself, that permutations, signatures and band choices are identical, so
signatures already in a changelog stay comparable.

Signatures are stored as 32-bit values: every hash value is kept below 2**32, so ``uint32``
halves the state without losing anything.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache, cached_property

import numpy as np

SEED = 1  # fixed: signatures in the changelog must stay comparable across restarts
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)


def permutations(num_perm: int, seed: int = SEED) -> np.ndarray:
    """The (a, b) parameters of ``num_perm`` universal hash permutations, shape (2, n),
    drawn as datasketch draws them for ``seed``."""
    gen = np.random.RandomState(seed)
    pairs = [
        (
            gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
            gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64),
        )
        for _ in range(num_perm)
    ]
    return np.array(pairs, dtype=np.uint64).T


def _sha1_32(data: bytes) -> int:
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


class MinHasher:
    """Computes signatures with one shared set of permutations (generating them is slow)."""

    def __init__(self, num_perm: int = 128, seed: int = SEED) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self._permutations = permutations(num_perm, seed)

    def signature(self, shingles: set[bytes]) -> np.ndarray:
        """The minimum of each permutation over the shingles' 32-bit SHA-1 values; all
        ``2**32 - 1`` for no shingles."""
        values = np.full(self.num_perm, _MAX_HASH, dtype=np.uint64)
        if shingles:
            hv = np.array([_sha1_32(s) for s in shingles], dtype=np.uint64, ndmin=2).T
            a, b = self._permutations
            phv = (hv * a + b) % _MERSENNE_PRIME & _MAX_HASH
            values = np.vstack([phv, values]).min(axis=0)
        return values.astype(np.uint32)

    @cached_property
    def empty(self) -> np.ndarray:
        return self.signature(set())


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of positions where the minima agree."""
    return float(np.count_nonzero(a == b)) / len(a)


@cache
def band_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) of the LSH for ``threshold``, weighted towards recall.

    A false candidate costs one signature comparison; a missed duplicate is a wrong story
    cluster, so false negatives weigh 0.8 against 0.2 for false positives. The pair that
    minimises the weighted false positive and false negative areas under the LSH's
    S-curve ``1 - (1 - s**r)**b``, as datasketch's ``_optimal_param`` chooses it; the
    areas are integrated exactly (Gauss-Legendre with enough nodes for a polynomial of
    degree ``b * r <= num_perm``) where datasketch uses scipy's adaptive ``quad``.
    """
    false_positive_weight, false_negative_weight = 0.2, 0.8
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    # [0, threshold] and [threshold, 1] mapped onto [-1, 1]
    low = (nodes + 1) * (threshold / 2)
    high = threshold + (nodes + 1) * ((1 - threshold) / 2)
    rows = np.arange(1, num_perm + 1)[:, None]
    low_r, high_r = low[None, :] ** rows, high[None, :] ** rows  # [r - 1, node]
    best, choice = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        n = num_perm // b  # r = 1..n
        fp = (1 - (1 - low_r[:n]) ** b) @ weights * (threshold / 2)
        fn = (1 - high_r[:n]) ** b @ weights * ((1 - threshold) / 2)
        error = fp * false_positive_weight + fn * false_negative_weight
        r = int(np.argmin(error))  # the first of equals, as datasketch's loop keeps it
        if error[r] < best:
            best, choice = float(error[r]), (b, r + 1)
    return choice


def encode(signature: np.ndarray) -> str:
    return base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)
