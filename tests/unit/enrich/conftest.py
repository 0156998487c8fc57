from __future__ import annotations

import pytest

from pipeline.enrich.actors import ActorRegistry
from pipeline.enrich.annotate import Annotator


@pytest.fixture(scope="session")
def annotator() -> Annotator:
    """One model load for the whole session (about a second)."""
    return Annotator(ActorRegistry.load())
