"""Pid files, graceful/forced stop and port checks, with plain subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_until

from pipeline.stack import process
from pipeline.stack.errors import StackError


def _sleeper(marker: str, ignore_term: bool = False) -> subprocess.Popen[bytes]:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    child = subprocess.Popen([sys.executable, "-c", code, marker], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    return child


def test_pid_file_counts_only_processes_with_its_marker(tmp_path: Path) -> None:
    child = _sleeper(str(tmp_path / "server"))
    try:
        ours = process.PidFile(tmp_path / "a.pid", marker=str(tmp_path / "server"))
        ours.write(child.pid)
        assert ours.running_pid() == child.pid
        # Same pid, other marker: e.g. the number was reused after a reboot.
        foreign = process.PidFile(tmp_path / "b.pid", marker=str(tmp_path / "elsewhere"))
        foreign.write(child.pid)
        assert foreign.running_pid() is None
        assert foreign.is_stale()
    finally:
        child.kill()
        child.wait()
    assert ours.running_pid() is None and ours.is_stale()


def test_stop_is_graceful_when_the_process_obeys_sigterm(tmp_path: Path) -> None:
    child = _sleeper("x")
    assert process.stop(child.pid, timeout_s=10) is True  # exited on SIGTERM, no SIGKILL
    assert not process.is_alive(child.pid)


def test_stop_kills_a_process_that_ignores_sigterm() -> None:
    child = _sleeper("x", ignore_term=True)
    assert process.stop(child.pid, timeout_s=0.5) is False  # needed SIGKILL
    assert not process.is_alive(child.pid)


def test_port_is_free_sees_listeners() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not process.port_is_free(port)
    assert process.port_is_free(port)


def test_rss_of_this_process() -> None:
    rss = process.rss_bytes(os.getpid())
    assert rss is not None and rss > 1024 * 1024


def test_stop_with_no_grace_kills_at_once() -> None:
    child = _sleeper("x")  # would obey SIGTERM, but a crash is wanted
    assert process.stop(child.pid, timeout_s=0) is False
    assert not process.is_alive(child.pid)


def test_service_user_that_cannot_be_created_is_a_stack_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(process, "SERVICE_USER", "wirewatch-no-such-user")
    monkeypatch.setenv("PATH", str(tmp_path))  # no useradd to run
    with pytest.raises(StackError, match=r"useradd --system wirewatch-no-such-user"):
        process.ensure_service_user()


def test_a_zombie_main_thread_with_live_threads_is_alive() -> None:
    """Like a JVM being killed: the leader is a zombie while other threads still run."""
    code = (
        "import ctypes, threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "print('ready', flush=True)\n"
        "ctypes.CDLL(None).pthread_exit(None)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        stat = Path(f"/proc/{child.pid}/stat")
        wait_until(
            lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", 10, "zombie leader"
        )
        assert process.is_alive(child.pid)
    finally:
        child.kill()
    assert process.stop(child.pid, timeout_s=0) is False
    assert not process.is_alive(child.pid)
