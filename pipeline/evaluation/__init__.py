"""Evaluation against gold: PolNeAR attributions (brat) and the seed article."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def shared_dir() -> Path:
    """The shared material: WIREWATCH_SHARED, else ``../shared`` beside the checkout."""
    env = os.environ.get("WIREWATCH_SHARED")
    return Path(env) if env else REPO_ROOT.parent / "shared"
