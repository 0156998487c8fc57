"""Child processes of ``wirewatch run``: start, watch, restart with backoff, stop.

A child that exits unexpectedly (crash, kill -9, OOM) is restarted after a backoff that
doubles from ``backoff_initial_s`` up to ``backoff_max_s``; one line says so. A child that
ran for ``stable_after_s`` before failing starts a fresh count, so only a child that *keeps*
failing (more than ``max_restarts`` times in a row) ends the run: :class:`ChildKeepsFailing`.
A child may be allowed to finish (the poller under ``--once``): exit 0 is then "done".

Each child runs in its own session (process group), so a Ctrl-C in the terminal reaches
``run`` alone and ``run`` stops the children in order; ``stop`` signals the whole group,
so a worker's enrichment subprocess goes with it. The process clock and ``Popen`` are
injectable for tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Say = Callable[[str], None]


class ChildKeepsFailing(RuntimeError):
    """A child failed more than ``max_restarts`` times in a row."""


@dataclass
class Child:
    name: str
    args: list[str]  # ``wirewatch`` subcommand and options
    log: Path
    may_finish: bool = False  # exit 0 means done (not restarted)
    env: dict[str, str] = field(default_factory=dict)  # over the supervisor's (its identity)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0  # consecutive
    restart_at: float | None = None
    restarts: int = 0  # total, for reporting
    finished: bool = False


@dataclass
class Supervisor:
    env: dict[str, str]
    say: Say
    max_restarts: int = 5
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    stable_after_s: float = 60.0
    stop_timeout_s: float = 15.0
    clock: Callable[[], float] = time.monotonic
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen
    children: dict[str, Child] = field(default_factory=dict)

    def add(
        self,
        name: str,
        args: list[str],
        log: Path,
        *,
        may_finish: bool = False,
        env: dict[str, str] | None = None,
    ) -> Child:
        child = Child(name, args, log, may_finish=may_finish, env=dict(env or {}))
        self.children[name] = child
        return child

    def start_all(self) -> None:
        for child in self.children.values():
            self._start(child)

    def _start(self, child: Child) -> None:
        child.log.parent.mkdir(parents=True, exist_ok=True)
        with child.log.open("ab") as out:
            child.proc = self.popen(
                [sys.executable, "-m", "pipeline", *child.args],
                env={**self.env, **child.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child.started_at = self.clock()
        child.restart_at = None

    def backoff(self, failures: int) -> float:
        """Seconds before restart number ``failures`` (1, 2, 4, ... capped)."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, failures - 1))

    def check(self) -> None:
        """Notice exits, restart children whose backoff is over; call it every second or so.

        Raises :class:`ChildKeepsFailing` when a child failed too often in a row.
        """
        now = self.clock()
        for child in self.children.values():
            if child.finished:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                    child.restarts += 1
                    self.say(f"{child.name} restarted (restart {child.restarts})")
                continue
            assert child.proc is not None
            code = child.proc.poll()
            if code is None:
                if child.failures and now - child.started_at >= self.stable_after_s:
                    child.failures = 0  # it has been running fine since: a fresh count
                continue
            if code == 0 and child.may_finish:
                child.finished = True
                continue
            if now - child.started_at >= self.stable_after_s:
                child.failures = 0
            child.failures += 1
            how = _describe(code)
            if child.failures > self.max_restarts:
                raise ChildKeepsFailing(
                    f"{child.name} {how} {child.failures} times in a row; giving up"
                    f" (see {child.log})"
                )
            delay = self.backoff(child.failures)
            child.restart_at = now + delay
            self.say(
                f"{child.name} {how}; restarting in {delay:.0f}s"
                f" (failure {child.failures} of {self.max_restarts} allowed in a row;"
                f" see {child.log})"
            )

    def finished(self, name: str) -> bool:
        return self.children[name].finished

    def running(self, name: str) -> bool:
        child = self.children[name]
        return child.proc is not None and child.restart_at is None and child.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM every child's process group, wait, then SIGKILL what is left."""
        live = [c for c in self.children.values() if c.proc is not None and c.proc.poll() is None]
        for child in live:
            _signal_group(child, signal.SIGTERM)
        deadline = self.clock() + self.stop_timeout_s
        for child in live:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                self.say(
                    f"{child.name} did not stop within {self.stop_timeout_s:.0f}s of SIGTERM;"
                    " killing it"
                )
                _signal_group(child, signal.SIGKILL)
                child.proc.wait()
        # Whatever a child left in its group (an enrichment subprocess) goes too.
        for child in self.children.values():
            if child.proc is not None:
                _signal_group(child, signal.SIGKILL)


def _signal_group(child: Child, signum: int) -> None:
    assert child.proc is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(child.proc.pid, signum)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class StopRequested(BaseException):
    """SIGTERM or SIGHUP reached ``run``: stop like Ctrl-C.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way
    (a progress read that tolerates a server being down) can swallow it."""


def stop_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise :class:`StopRequested` in the main thread, so ``run``
    unwinds through its ``finally`` and stops its children (issue 14 item 5)."""

    def handler(signum: int, _frame: object) -> None:
        # Once: a second signal must not interrupt the stopping it started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        raise StopRequested(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
