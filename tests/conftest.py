"""Session fixtures: the real local stack (Kafka broker + Elasticsearch node).

Integration tests take the ``stack`` fixture: a LocalStack on random free ports in a
temporary state dir, started once per session (both servers concurrently) and stopped
after. It fails, never skips, when the servers cannot start. Artifacts come from the
shared cache (WIREWATCH_CACHE_DIR), so only the first session ever downloads them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.index.templates import hunspell_dictionaries
from pipeline.settings import Settings
from pipeline.stack import LocalStack, StackError, scratch_stack
from pipeline.stack.process import is_alive

_PREFIX = "wirewatch-stack-"


def _reap_orphaned_stacks() -> None:
    """Stop stacks whose pytest session died without tearing down (e.g. SIGKILL)."""
    for home in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int((home / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # kept on purpose (WIREWATCH_KEEP_STACK) or not ours
        if is_alive(owner):
            continue
        LocalStack(home / "stack", cache_dir=home).down()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The running local stack: ``.kafka_bootstrap``, ``.es_url``, stop/start per server."""
    settings = Settings()
    _reap_orphaned_stacks()
    # Not pytest's tmp dir: that one is 0700 and Elasticsearch runs as another user.
    # Laid out as a WIREWATCH_HOME (state in <home>/stack) so the CLI can be pointed at it.
    home = Path(tempfile.mkdtemp(prefix=_PREFIX))
    home.chmod(0o755)
    (home / "owner.pid").write_text(f"{os.getpid()}\n")
    state_dir = home / "stack"
    local = scratch_stack(state_dir, settings, hunspell=hunspell_dictionaries())
    try:
        local.up()
    except StackError as error:
        local.down()
        (home / "owner.pid").unlink(missing_ok=True)  # keep the logs for a look
        pytest.fail(f"local stack could not start ({error}); state kept in {state_dir}")
    try:
        yield local
    finally:
        local.down()
        if os.environ.get("WIREWATCH_KEEP_STACK"):
            (home / "owner.pid").unlink(missing_ok=True)  # keep: no reaping
        else:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(autouse=True)
def _restart_stopped_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """A fault test that stopped a server and then failed must not break the next test."""
    yield
    if "stack" not in request.fixturenames:
        return
    local: LocalStack = request.getfixturevalue("stack")
    if local.kafka.running_pid() is None:
        local.start_kafka()
    if local.elasticsearch.running_pid() is None:
        local.start_elasticsearch()
