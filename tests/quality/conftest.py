from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared (or WIREWATCH_SHARED); quality gates skip only when it is absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared material not found at {path}")
    return path
