"""The secured local stack (`wirewatch stack up --secure`), started once for its tests.

Module-scoped, and every secured test is in one module: one start, and the stack is gone
before the rest of the session goes on (the plain ``stack`` keeps running beside it only
while these tests run, so CI never holds two idle stacks to the end).

Laid out as a WIREWATCH_HOME, like the plain ``stack`` fixture, so commands run against it
as the embedded default: with no server variables set they take the managed stack and the
credentials of their own service. Every command's output is kept (``Secured.outputs``) so
the last test can search all of it, and every log, for the stack's secrets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from secured_support import Secured

from pipeline.index.templates import hunspell_dictionaries
from pipeline.settings import Settings
from pipeline.stack import StackError, scratch_stack

# The root conftest reaps stacks of this prefix whose session died.
_PREFIX = "wirewatch-stack-"


@pytest.fixture(scope="module")
def secured() -> Iterator[Secured]:
    home = Path(tempfile.mkdtemp(prefix=_PREFIX))
    home.chmod(0o755)  # Elasticsearch runs as another user when we are root
    (home / "owner.pid").write_text(f"{os.getpid()}\n")
    local = scratch_stack(home / "stack", Settings(), hunspell=hunspell_dictionaries(), secure=True)
    try:
        local.up()
    except StackError as error:
        local.down()
        (home / "owner.pid").unlink(missing_ok=True)
        pytest.fail(f"secured stack could not start ({error}); state kept in {home}")
    try:
        yield Secured(local, home)
    finally:
        local.down()
        if os.environ.get("WIREWATCH_KEEP_STACK"):
            (home / "owner.pid").unlink(missing_ok=True)
        else:
            shutil.rmtree(home, ignore_errors=True)
