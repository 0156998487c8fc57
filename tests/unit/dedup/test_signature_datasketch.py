"""pipeline.dedup.signature computes what datasketch computes (signatures already in a
changelog must stay comparable), without importing it or scipy in the worker."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from pipeline.dedup import signature


@pytest.mark.parametrize(("num_perm", "seed"), [(128, signature.SEED), (16, 7), (256, 3)])
def test_permutations_and_signatures_are_datasketch_s(num_perm: int, seed: int) -> None:
    hasher = signature.MinHasher(num_perm, seed)
    reference = MinHash(num_perm=num_perm, seed=seed)
    assert np.array_equal(hasher._permutations, reference.permutations)
    rng = random.Random(num_perm * 1000 + seed)
    for size in (0, 1, 2, 17, 300):
        shingles = {rng.randbytes(rng.randint(1, 40)) for _ in range(size)}
        mh = MinHash(num_perm=num_perm, seed=seed, permutations=reference.permutations)
        mh.update_batch(shingles)
        got = hasher.signature(shingles)
        assert got.dtype == np.uint32
        assert np.array_equal(got, mh.hashvalues.astype(np.uint32))


@pytest.mark.parametrize("num_perm", [16, 32, 64, 128])
def test_band_choice_is_datasketch_s(num_perm: int) -> None:
    for threshold in [i / 20 for i in range(1, 20)] + [0.33, 0.62, 0.85]:
        expected = _optimal_param(threshold, num_perm, 0.2, 0.8)
        assert signature.band_params(threshold, num_perm) == expected, threshold


def test_the_dedup_stage_imports_neither_datasketch_nor_scipy() -> None:
    code = (
        "import sys, pipeline.worker.dedup_agent;"
        " print(sorted({'datasketch', 'scipy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
