"""Background server processes: pid files, liveness, ports, memory, graceful stop.

A pid file alone is not trusted: after a crash or reboot the number may belong to an
unrelated process, so a pid counts as ours only while its command line mentions the
server's own directory under the state dir.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.stack.errors import StackError

# Elasticsearch refuses to run as root; as root we run it as this system user.
SERVICE_USER = "wirewatch"


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _state(stat_file: Path) -> str | None:
    try:
        return stat_file.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def is_alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs (reaping it if it is our child).

    The main thread of a killed JVM turns zombie while its other threads are still being
    torn down, and the process's sockets close only when the last one exits: so every
    thread must be gone before its ports count as released.
    """
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    states = [_state(stat) for stat in Path(f"/proc/{pid}/task").glob("*/stat")]
    if not states:
        states = [_state(Path(f"/proc/{pid}/stat"))]
    return any(state not in (None, "Z", "X") for state in states)


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class PidFile:
    """A server's pid file, and the marker its command line must contain to be ours."""

    path: Path
    marker: str

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def running_pid(self) -> int | None:
        """The pid if the recorded process is alive and is ours, else None."""
        pid = self.read()
        if pid is None or not is_alive(pid) or self.marker not in cmdline(pid):
            return None
        return pid

    def is_stale(self) -> bool:
        return self.path.exists() and self.running_pid() is None

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def stop(pid: int, timeout_s: float = 30.0) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if it stopped gracefully.

    A ``timeout_s`` of 0 skips SIGTERM: the process is killed outright.
    """
    if timeout_s > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now (for tests and internal listeners)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- running Elasticsearch without root -------------------------------------------------


def running_as_root() -> bool:
    return os.geteuid() == 0


def ensure_service_user() -> tuple[int, int]:
    """Create the unprivileged system user (once) and return its uid and gid."""
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        try:
            result = subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVICE_USER,
                ],
                check=False,
                capture_output=True,
                text=True,
            )
            detail = result.stderr.strip() or f"exit code {result.returncode}"
        except OSError as exc:
            detail = str(exc)
        try:  # a concurrent `stack up` may have created it meanwhile
            entry = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise StackError(
                f"Elasticsearch refuses to run as root and the system user {SERVICE_USER!r} "
                f"could not be created ({detail}): create it (useradd --system "
                f"{SERVICE_USER}) or run as an unprivileged user"
            ) from None
    return entry.pw_uid, entry.pw_gid


def as_user_prefix(uid: int, gid: int) -> list[str]:
    """Command prefix that drops root to ``uid``/``gid`` with no supplementary groups."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def grant_traverse(path: Path) -> None:
    """Let other users traverse every directory down to ``path`` (o+x, not o+r).

    Home directories like /root are often 0700; the Elasticsearch user must reach its
    files beneath them. Only the search bit is added, so listing stays denied.
    """
    for directory in [path, *path.parents]:
        try:
            mode = directory.stat().st_mode
        except OSError:
            continue
        if not mode & 0o001:
            directory.chmod(mode | 0o001)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
