"""Java discovery, with fake JDK homes (a shell script and a release file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.stack import java as java_module
from pipeline.stack.errors import JavaNotFoundError
from pipeline.stack.java import find_elasticsearch_java, find_kafka_java


def _fake_home(root: Path, version: str, modules: str = "java.base jdk.jlink jdk.jdi") -> Path:
    home = root / f"jdk-{version}"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\"' >&2\n")
    java.chmod(0o755)
    (home / "release").write_text(f'JAVA_VERSION="{version}"\nMODULES="{modules}"\n')
    return home


@pytest.fixture
def no_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PATH without java, no JAVA_HOME/ES_JAVA_HOME, no /usr/lib/jvm to scan."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for variable in ("JAVA_HOME", "ES_JAVA_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(java_module, "JVM_DIRS", ())
    return tmp_path


def test_kafka_java_missing_says_what_to_do(no_java: Path) -> None:
    with pytest.raises(JavaNotFoundError, match=r"install one .* or set JAVA_HOME") as info:
        find_kafka_java()
    assert "\n" not in str(info.value)


def test_kafka_java_too_old_is_refused(no_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_home(no_java, "11.0.2")))
    with pytest.raises(JavaNotFoundError):
        find_kafka_java()


def test_kafka_java_from_java_home(no_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_home(no_java, "17.0.9")
    monkeypatch.setenv("JAVA_HOME", str(home))
    assert find_kafka_java().home == home


def test_elasticsearch_needs_a_full_jdk(no_java: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trimmed = _fake_home(no_java, "25.0.2", modules="java.base java.logging")
    monkeypatch.setenv("ES_JAVA_HOME", str(trimmed))
    with pytest.raises(JavaNotFoundError, match="WIREWATCH_ES_JAVA_HOME"):
        find_elasticsearch_java()


def test_elasticsearch_prefers_the_newest_discovered_jdk(
    no_java: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jvms = no_java / "jvm"
    _fake_home(jvms, "17.0.9")
    _fake_home(jvms, "21.0.5")
    newest = _fake_home(jvms, "25.0.3")
    monkeypatch.setattr(java_module, "JVM_DIRS", (jvms,))
    assert find_elasticsearch_java().home == newest


def test_configured_elasticsearch_java_must_be_21_or_newer(no_java: Path) -> None:
    with pytest.raises(JavaNotFoundError, match=r"not a Java 21\+ home"):
        find_elasticsearch_java(_fake_home(no_java, "17.0.9"))
