"""The supervisor's restart policy, with a fake clock and fake processes (no servers)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from pipeline.supervisor import ChildKeepsFailing, Supervisor


class FakeProc:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode or 0


class World:
    """A clock and a process table the supervisor drives."""

    def __init__(self) -> None:
        self.now = 0.0
        self.procs: list[FakeProc] = []
        self.lines: list[str] = []

    def clock(self) -> float:
        return self.now

    def popen(self, args: list[str], **kwargs: object) -> FakeProc:
        assert kwargs["start_new_session"] is True  # Ctrl-C reaches run alone
        proc = FakeProc(1000 + len(self.procs))
        self.procs.append(proc)
        return proc

    def supervisor(self, tmp_path: Path, **kwargs: object) -> Supervisor:
        sup = Supervisor(
            env={}, say=self.lines.append, clock=self.clock, popen=self.popen, **kwargs
        )
        sup.add("worker", ["worker"], tmp_path / "worker.log")
        return sup


def test_a_crashed_child_is_restarted_after_a_doubling_backoff_with_one_line(
    tmp_path: Path,
) -> None:
    world = World()
    sup = world.supervisor(tmp_path)
    sup.start_all()
    world.procs[-1].returncode = -signal.SIGKILL
    sup.check()
    assert world.lines == [
        "worker was killed by SIGKILL; restarting in 1s (failure 1 of 5 allowed in a row;"
        f" see {tmp_path / 'worker.log'})"
    ]
    assert len(world.procs) == 1 and not sup.running("worker")
    world.now = 0.5
    sup.check()
    assert len(world.procs) == 1  # still backing off
    world.now = 1.0
    sup.check()
    assert len(world.procs) == 2 and sup.running("worker")
    assert world.lines[-1] == "worker restarted (restart 1)"
    world.procs[-1].returncode = 1  # fails again at once: twice the wait
    sup.check()
    assert "exited with status 1; restarting in 2s" in world.lines[-1]
    assert [sup.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_child_that_keeps_failing_ends_the_run(tmp_path: Path) -> None:
    world = World()
    sup = world.supervisor(tmp_path, max_restarts=2)
    sup.start_all()
    with pytest.raises(ChildKeepsFailing, match="worker exited with status 3 3 times in a row"):
        for _ in range(10):
            world.procs[-1].returncode = 3
            sup.check()
            world.now += 60
            sup.check()  # restarts it; "stable" needs it to *run* that long, not wait


def test_a_child_that_ran_a_while_before_failing_gets_a_fresh_count(tmp_path: Path) -> None:
    world = World()
    sup = world.supervisor(tmp_path, max_restarts=1, stable_after_s=60)
    sup.start_all()
    for _ in range(5):  # each crash after 2 minutes of work: never "keeps failing"
        world.now += 120
        world.procs[-1].returncode = -9
        sup.check()
        world.now += 1
        sup.check()
    assert len(world.procs) == 6


def test_a_child_allowed_to_finish_is_done_on_exit_0_and_restarted_on_a_crash(
    tmp_path: Path,
) -> None:
    world = World()
    sup = world.supervisor(tmp_path)
    sup.add("poller", ["poll", "--once"], tmp_path / "poller.log", may_finish=True)
    sup.start_all()
    worker, poller = world.procs
    poller.returncode = -9
    sup.check()
    world.now = 1
    sup.check()
    assert len(world.procs) == 3  # the poller crashed: restarted
    world.procs[-1].returncode = 0
    sup.check()
    assert sup.finished("poller") and not sup.finished("worker")
    worker.returncode = 0  # the worker may not finish: exit 0 is a failure too
    sup.check()
    assert "worker exited with status 0; restarting" in world.lines[-1]


def test_sigterm_unwinds_through_code_that_tolerates_errors() -> None:
    """A SIGTERM arriving inside ``except Exception`` (run's progress read while a server
    is down) must still stop run, as Ctrl-C does."""
    import os

    from pipeline.supervisor import StopRequested, stop_on_signals

    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    stop_on_signals()
    try:
        with pytest.raises(StopRequested):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                signal.sigtimedwait([], 0.5)  # let the handler run here, inside the try
            except Exception:
                pass
        # a second signal while stopping is ignored, not a second interruption
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGHUP, previous[1])
