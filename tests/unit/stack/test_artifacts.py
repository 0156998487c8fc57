"""Pinned downloads against a tiny fake Maven repository on loopback (no real servers)."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_maven import FakeRepo, serve

from pipeline.stack.artifacts import ArtifactCache, unzip
from pipeline.stack.errors import ChecksumError, DownloadError
from pipeline.stack.pins import Artifact
from pipeline.stack.process import free_port

PAYLOAD = b"not really a jar, but pinned like one\n" * 100


def _artifact(payload: bytes = PAYLOAD, sha256: str | None = None) -> Artifact:
    digest = sha256 or hashlib.sha256(payload).hexdigest()
    return Artifact("org.example", "demo", "1.0", len(payload), digest)


@pytest.fixture
def repo() -> Iterator[tuple[FakeRepo, str]]:
    fake = FakeRepo()
    with serve(fake) as url:
        yield fake, url


def test_fetch_verifies_and_second_fetch_downloads_nothing(
    repo: tuple[FakeRepo, str], tmp_path: Path
) -> None:
    fake, url = repo
    artifact = _artifact()
    fake.files[artifact.repo_path] = PAYLOAD
    cache = ArtifactCache(tmp_path, url)
    progress: list[tuple[int, int]] = []

    [path] = cache.fetch([artifact], progress=lambda done, total: progress.append((done, total)))

    assert path.read_bytes() == PAYLOAD
    assert path == tmp_path / "maven" / "org/example/demo/1.0/demo-1.0.jar"
    assert progress[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert cache.fetch([artifact]) == [path]
    assert len(fake.requests) == 1


def test_checksum_mismatch_is_refused_and_leaves_nothing(
    repo: tuple[FakeRepo, str], tmp_path: Path
) -> None:
    fake, url = repo
    artifact = _artifact(sha256="0" * 64)
    fake.files[artifact.repo_path] = PAYLOAD
    cache = ArtifactCache(tmp_path, url)

    with pytest.raises(ChecksumError, match=r"checksum mismatch for demo-1\.0\.jar") as info:
        cache.fetch([artifact])

    assert "\n" not in str(info.value)
    assert "WIREWATCH_MAVEN_URL" in str(info.value)
    leftovers = [p.name for p in cache.path_for(artifact).parent.iterdir()]
    assert leftovers == ["demo-1.0.jar.lock"]  # no file, no partial download


def test_missing_artifact_is_a_download_error(repo: tuple[FakeRepo, str], tmp_path: Path) -> None:
    _, url = repo
    with pytest.raises(DownloadError, match="HTTP 404"):
        ArtifactCache(tmp_path, url).fetch([_artifact()])


def test_unreachable_repository_is_a_download_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/maven2"  # nothing listens there
    with pytest.raises(DownloadError, match=r"could not download demo-1\.0\.jar"):
        ArtifactCache(tmp_path, url, timeout_s=5).fetch([_artifact()])


def test_corrupt_cached_file_is_downloaded_again(
    repo: tuple[FakeRepo, str], tmp_path: Path
) -> None:
    fake, url = repo
    artifact = _artifact()
    fake.files[artifact.repo_path] = PAYLOAD
    cache = ArtifactCache(tmp_path, url)
    [path] = cache.fetch([artifact])
    path.write_bytes(b"x" * len(PAYLOAD))  # same size, wrong bytes

    cache.fetch([artifact])

    assert path.read_bytes() == PAYLOAD
    assert len(fake.requests) == 2


def test_concurrent_fetches_download_once(repo: tuple[FakeRepo, str], tmp_path: Path) -> None:
    fake, url = repo
    artifact = _artifact()
    fake.files[artifact.repo_path] = PAYLOAD
    results: list[Path] = []

    def fetch() -> None:
        results.extend(ArtifactCache(tmp_path, url).fetch([artifact]))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert len(set(results)) == 1
    assert len(fake.requests) == 1


def test_unzip_restores_executable_bits(tmp_path: Path) -> None:
    archive = tmp_path / "dist.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        script = zipfile.ZipInfo("dist-1/bin/run")
        script.external_attr = 0o755 << 16
        zf.writestr(script, "#!/bin/sh\n")
        zf.writestr("dist-1/lib/a.jar", "jar")
        zf.writestr("other/ignored.txt", "x")
    into = tmp_path / "out"
    into.mkdir()

    unzip(archive, into, "dist-1")

    assert (into / "bin" / "run").stat().st_mode & 0o111 == 0o111
    assert (into / "lib" / "a.jar").stat().st_mode & 0o777 == 0o644
    assert not (into / "other").exists()
