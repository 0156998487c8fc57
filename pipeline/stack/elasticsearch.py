"""One Elasticsearch 9 node on loopback, from the integ-test-zip distribution.

The unpacked distribution lives in the shared cache and is never written to; each node
gets its own ``config/`` (ES_PATH_CONF), ``data/``, ``logs/`` and ``tmp/`` under its
directory. Elasticsearch refuses to run as root, so as root the node runs as the system
user ``wirewatch`` (created on first use), which owns the node's directory.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import yaml

from pipeline.stack import process
from pipeline.stack.artifacts import ensure_directory, unzip
from pipeline.stack.errors import ServerStartError
from pipeline.stack.java import Java
from pipeline.stack.pins import ELASTICSEARCH_VERSION

CLUSTER_NAME = "wirewatch-local"
# `-XX:+PrintFlagsFinal` rows, e.g. "bool UseG1GC = true {product} {ergonomic}"
_JVM_FLAG_LINE = re.compile(r"\{[^}]*\}\s*\{[^}]*\}\s*$")


def install(zip_path: Path, cache_root: Path) -> Path:
    """The unpacked distribution in the cache (unpacked once, atomically)."""
    dest = cache_root / f"elasticsearch-{ELASTICSEARCH_VERSION}"
    return ensure_directory(
        dest, lambda staging: unzip(zip_path, staging, f"elasticsearch-{ELASTICSEARCH_VERSION}")
    )


@dataclass(frozen=True)
class EsSecurity:
    """A secured node: TLS on HTTP and transport, and file-realm users with their roles.

    ``users`` maps each user to (password, role); ``roles`` is roles.yml's content. The
    admin (role ``superuser``) is the stack's own identity for health checks.
    """

    admin_user: str
    admin_password: str = field(repr=False)
    ca_cert: Path
    cert: Path
    key: Path
    users: Mapping[str, tuple[str, str]] = field(repr=False)
    roles: Mapping[str, Any]

    def http_options(self) -> dict[str, Any]:
        """httpx options: verify against our CA, basic auth as the admin."""
        return {
            "verify": ssl.create_default_context(cafile=str(self.ca_cert)),
            "auth": (self.admin_user, self.admin_password),
        }


def _bcrypt(password: str) -> str:
    # Elasticsearch's file realm reads bcrypt hashes with the $2a$ prefix.
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10, prefix=b"2a")).decode()


def health_ok(url: str, timeout_s: float = 5.0, security: EsSecurity | None = None) -> bool:
    """True if the node reports cluster health yellow or green."""
    options = security.http_options() if security is not None else {}
    try:
        response = httpx.get(
            f"{url}/_cluster/health",
            params={"wait_for_status": "yellow", "timeout": f"{max(1, int(timeout_s))}s"},
            timeout=timeout_s + 2,
            **options,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json().get("status") in ("yellow", "green")


class ElasticsearchNode:
    name = "elasticsearch"

    def __init__(
        self,
        directory: Path,
        port: int,
        transport_port: int,
        heap: str = "512m",
        hunspell: Mapping[str, Path] | None = None,
        security: EsSecurity | None = None,
    ):
        self.security = security
        self.directory = directory
        self.port = port
        self.transport_port = transport_port
        self.heap = heap
        # locale -> directory with <locale>.aff/.dic, installed as config/hunspell/<locale>/
        self.hunspell = dict(hunspell or {})

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        scheme = "https" if self.security is not None else "http"
        return f"{scheme}://{self.address}"

    @property
    def config_dir(self) -> Path:
        return self.directory / "config"

    @property
    def logs_dir(self) -> Path:
        return self.directory / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / f"{CLUSTER_NAME}.log"

    @property
    def pid_file(self) -> process.PidFile:
        return process.PidFile(self.directory / "elasticsearch.pid", marker=str(self.directory))

    def ports(self) -> tuple[int, ...]:
        return (self.port, self.transport_port)

    def running_pid(self) -> int | None:
        return self.pid_file.running_pid()

    def elasticsearch_yml(self) -> str:
        return self._base_yml() + (
            self._secured_yml() if self.security is not None else "xpack.security.enabled: false\n"
        )

    @staticmethod
    def _secured_yml() -> str:
        tls = (
            "    key: tls/node-key.pem\n"
            "    certificate: tls/node.pem\n"
            "    certificate_authorities: [tls/ca.pem]\n"
        )
        return (
            "xpack.security.enabled: true\n"
            "xpack.security.enrollment.enabled: false\n"
            "xpack.security.http.ssl:\n"
            "    enabled: true\n" + tls + "xpack.security.transport.ssl:\n"
            "    enabled: true\n"
            "    verification_mode: certificate\n" + tls +
            # Users come from the file realm only, as in production (no .security index).
            "xpack.security.authc.realms.file.file1.order: 0\n"
            "xpack.security.authc.realms.native.native1.enabled: false\n"
        )

    def _base_yml(self) -> str:
        return (
            f"cluster.name: {CLUSTER_NAME}\n"
            f"node.name: {CLUSTER_NAME}\n"
            "discovery.type: single-node\n"
            "network.host: 127.0.0.1\n"
            f"http.port: {self.port}\n"
            f"transport.port: {self.transport_port}\n"
            f"path.data: {self.directory / 'data'}\n"
            f"path.logs: {self.logs_dir}\n"
            # A nearly full developer disk must not turn every index read-only.
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
        )

    def write_config(self, home: Path) -> None:
        for name in ("data", "logs", "tmp", "config/jvm.options.d"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)
        stock = home / "config"
        shutil.copyfile(stock / "log4j2.properties", self.config_dir / "log4j2.properties")
        jvm_options = (stock / "jvm.options").read_text()
        # The stock GC log keeps 32 files of 64 MB; a local node needs far less.
        jvm_options = re.sub(r"filecount=\d+,filesize=\d+m", "filecount=2,filesize=8m", jvm_options)
        (self.config_dir / "jvm.options").write_text(jvm_options)
        (self.config_dir / "jvm.options.d" / "wirewatch.options").write_text(
            f"-Xms{self.heap}\n-Xmx{self.heap}\n"
        )
        (self.config_dir / "elasticsearch.yml").write_text(self.elasticsearch_yml())
        for locale, source in self.hunspell.items():
            target = self.config_dir / "hunspell" / locale
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        if self.security is not None:
            self._write_security(self.security)

    def _write_security(self, security: EsSecurity) -> None:
        """TLS files (ES 9 reads them only from its config dir) and the file realm."""
        tls = self.config_dir / "tls"
        tls.mkdir(exist_ok=True)
        tls.chmod(0o700)
        for source, name in ((security.ca_cert, "ca.pem"), (security.cert, "node.pem")):
            shutil.copyfile(source, tls / name)
        _private(tls / "node-key.pem", security.key.read_text())
        users = {security.admin_user: (security.admin_password, "superuser"), **security.users}
        _private(
            self.config_dir / "users",
            "".join(f"{user}:{_bcrypt(password)}\n" for user, (password, _) in users.items()),
        )
        by_role: dict[str, list[str]] = {}
        for user, (_, role) in users.items():
            by_role.setdefault(role, []).append(user)
        _private(
            self.config_dir / "users_roles",
            "".join(f"{role}:{','.join(names)}\n" for role, names in by_role.items()),
        )
        _private(
            self.config_dir / "roles.yml", yaml.safe_dump(dict(security.roles), sort_keys=False)
        )

    # Generous: eight test sessions sharing two cores took ES past 180 s (18:50 UTC).
    def start(self, home: Path, java: Java, timeout_s: float = 300.0) -> int:
        """Start the node in the background; return its pid once health is yellow or green."""
        self.write_config(home)
        prefix: list[str] = []
        if process.running_as_root():
            uid, gid = process.ensure_service_user()
            for path in (home, java.home, self.directory):
                process.grant_traverse(path)
            process.chown_tree(self.directory, uid, gid)
            prefix = process.as_user_prefix(uid, gid)
        env = {
            **os.environ,
            "ES_PATH_CONF": str(self.config_dir),
            "ES_JAVA_HOME": str(java.home),
            "ES_TMPDIR": str(self.directory / "tmp"),
            "HOME": str(self.directory),
        }
        for variable in ("ES_JAVA_OPTS", "JAVA_HOME", "JAVA_TOOL_OPTIONS"):
            env.pop(variable, None)
        launcher = str(home / "bin" / "elasticsearch")
        command = [*prefix, launcher, "-d", "-p", str(self.pid_file.path)]
        started = time.monotonic()
        # With -d the launcher returns once the node has started (or failed to).
        with (self.logs_dir / "launcher.log").open("wb") as out:
            try:
                result = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.directory,
                    env=env,
                    timeout=timeout_s,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired:
                self.stop()
                raise ServerStartError(
                    f"Elasticsearch did not start within {timeout_s:.0f}s; see {self.log_file}"
                ) from None
        if result.returncode != 0:
            self.stop()
            raise ServerStartError(
                f"Elasticsearch exited with code {result.returncode} while starting: "
                f"{self._failure_line()}; see {self.logs_dir}"
            )
        pid = self.pid_file.read()
        if pid is None:
            raise ServerStartError(f"Elasticsearch wrote no pid file; see {self.log_file}")
        remaining = timeout_s - (time.monotonic() - started)
        deadline = time.monotonic() + max(remaining, 30.0)
        while time.monotonic() < deadline:
            if not process.is_alive(pid):
                self.pid_file.clear()
                raise ServerStartError(f"Elasticsearch stopped while starting; see {self.log_file}")
            if health_ok(self.url, timeout_s=2.0, security=self.security):
                return pid
        self.stop()
        raise ServerStartError(
            f"Elasticsearch at {self.url} never reported yellow health; see {self.log_file}"
        )

    def _failure_line(self) -> str:
        """The most telling line of the launcher's output (it also dumps JVM flags)."""
        text = process.tail(self.logs_dir / "launcher.log", 400)
        noise = ("\tat ", "output:", "error:", "starting java failed", "[Global flags]")
        lines = [
            line.strip()
            for line in text.splitlines()
            if line.strip()
            and not any(marker in line for marker in noise)
            and not _JVM_FLAG_LINE.search(line)
        ]
        return lines[0][:300] if lines else "no output"

    def stop(self, timeout_s: float = 60.0, kill: bool = False) -> bool:
        """Stop the node if it runs; clear its pid file either way. True if it was running.

        ``kill`` sends SIGKILL at once: a crash, not a shutdown (for fault tests).
        """
        pid = self.running_pid()
        if pid is not None:
            process.stop(pid, 0.0 if kill else timeout_s)
        self.pid_file.clear()
        return pid is not None


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)
