"""Driving ``wirewatch run`` as an operator does, on the test stack: start it, find its
children, kill them, signal it, read what it printed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from elasticsearch import Elasticsearch
from helpers import wait_until

from pipeline.adapters.audit_reader import collect
from pipeline.audit import AuditReport, reconcile
from pipeline.settings import Settings
from pipeline.stack.process import free_port, is_alive
from pipeline.worker.app import app_id


def audit(settings: Settings, es: Elasticsearch) -> AuditReport:
    """What ``wirewatch audit`` reports now (the same code, in-process)."""
    return reconcile(collect(settings, es, app_id(settings)))


def run_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREWATCH_")}
    for name in (
        "kafka_bootstrap",
        "es_url",
        "topic_prefix",
        "index_alias",
        "stories_index",
        "events_index",
        "alerts_index",
        "home",
        "worker_web_port",
    ):
        env[f"WIREWATCH_{name.upper()}"] = str(getattr(settings, name))
    env["WIREWATCH_POLLER_PORT"] = str(free_port())
    env["WIREWATCH_ENRICH_PROCESSES"] = "1"
    env.update(extra)
    return env


class Run:
    """One ``wirewatch run`` process; its stderr goes to a file we read as it grows."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        self.out = out
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "run", *args],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float, count: int = 1) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None and self.text().count(needle) < count:
                raise AssertionError(f"run exited {self.proc.returncode}:\n{self.text()[-3000:]}")
            return self.text().count(needle) >= count

        wait_until(seen, timeout=timeout, message=f"run printed {needle!r} x{count}")

    def children(self) -> dict[str, int]:
        """'worker' / 'poller' -> pid of run's live child running that subcommand."""
        found: dict[str, int] = {}
        task_dir = Path(f"/proc/{self.proc.pid}/task")
        for task in task_dir.iterdir() if task_dir.exists() else ():
            for pid in (task / "children").read_text().split():
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                for name, sub in (("worker", b"worker"), ("poller", b"poll")):
                    if sub in argv[3:4]:  # python -m pipeline <sub>
                        found[name] = int(pid)
        return found

    def kill_child(self, name: str) -> int:
        pid = wait_until(lambda: self.children().get(name), timeout=60, message=f"{name} runs")
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        children = self.children() if self.proc.poll() is None else {}
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            for pid in children.values():  # leave nothing behind for the next test
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            raise AssertionError(f"run ignored {signum!r} for {timeout}s") from None


def group_gone(pgid: int) -> bool:
    """No process is left in process group ``pgid`` (each child of run leads its own)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z" and is_alive(int(entry.name)):
            return False
    return True
