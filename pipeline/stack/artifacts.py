"""Pinned downloads from a Maven repository into a cache shared by every stack and test run.

Each file is downloaded to a temporary name in its final directory, its SHA-256 checked
against the pin, then renamed into place, all under an exclusive file lock: a crash leaves
at most a stray temporary file, and concurrent sessions wait for each other instead of
writing the same file twice. A file already in the cache is re-verified and never fetched
again, so a warm start downloads nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from pipeline.stack.errors import ChecksumError, DownloadError
from pipeline.stack.pins import Artifact

log = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
_CHUNK = 1024 * 1024

# Called with (bytes done, bytes total) for a whole batch of downloads.
ProgressFn = Callable[[int, int], None]


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactCache:
    """Fetches pinned artifacts into ``root/maven/<standard layout>``."""

    def __init__(self, root: Path, base_url: str = MAVEN_CENTRAL, timeout_s: float = 60.0):
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def path_for(self, artifact: Artifact) -> Path:
        return self.root / "maven" / artifact.repo_path

    def url_for(self, artifact: Artifact) -> str:
        return f"{self.base_url}/{artifact.repo_path}"

    def missing(self, artifacts: Sequence[Artifact]) -> list[Artifact]:
        """Artifacts not yet in the cache (a cheap size check; fetch() verifies digests)."""
        return [a for a in artifacts if not self._looks_cached(a)]

    def fetch(
        self,
        artifacts: Sequence[Artifact],
        progress: ProgressFn | None = None,
        workers: int = 4,
    ) -> list[Path]:
        """Return the verified cached path of every artifact, downloading what is missing."""
        total = sum(a.size for a in self.missing(artifacts))
        done = 0
        lock = threading.Lock()

        def advance(n: int) -> None:
            nonlocal done
            with lock:
                done += n
                if progress is not None and total:
                    progress(done, total)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(lambda a: self._fetch_one(a, advance), artifacts))

    def _looks_cached(self, artifact: Artifact) -> bool:
        path = self.path_for(artifact)
        return path.is_file() and path.stat().st_size == artifact.size

    def _fetch_one(self, artifact: Artifact, advance: Callable[[int], None]) -> Path:
        path = self.path_for(artifact)
        with file_lock(path.with_name(path.name + ".lock")):
            if path.is_file():
                if sha256_of(path) == artifact.sha256:
                    return path
                log.warning("cached %s is corrupt; downloading it again", path)
                path.unlink()
            self._download(artifact, path, advance)
        return path

    def _download(self, artifact: Artifact, path: Path, advance: Callable[[int], None]) -> None:
        url = self.url_for(artifact)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with httpx.stream(
                        "GET", url, follow_redirects=True, timeout=self.timeout_s
                    ) as response:
                        if response.status_code != 200:
                            raise DownloadError(
                                f"could not download {artifact.filename}: HTTP "
                                f"{response.status_code} from {url}; check the repository "
                                "URL (WIREWATCH_MAVEN_URL) and retry"
                            )
                        for chunk in response.iter_bytes(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            advance(len(chunk))
                except httpx.HTTPError as exc:
                    raise DownloadError(
                        f"could not download {artifact.filename} from {url} ({exc}); check "
                        "network access to the repository (WIREWATCH_MAVEN_URL) and retry"
                    ) from exc
            actual = digest.hexdigest()
            if actual != artifact.sha256:
                raise ChecksumError(
                    f"checksum mismatch for {artifact.filename} from {url}: expected sha256 "
                    f"{artifact.sha256}, got {actual}; the repository served a different "
                    "file, so point WIREWATCH_MAVEN_URL at Maven Central and retry"
                )
            tmp.chmod(0o644)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def ensure_directory(dest: Path, build: Callable[[Path], None]) -> Path:
    """Create ``dest`` once by running ``build`` on an empty staging directory.

    The staging directory is renamed to ``dest`` only after ``build`` succeeds, under a
    lock, so concurrent callers see either nothing or the complete directory.
    """
    with file_lock(dest.with_name(dest.name + ".lock")):
        if dest.is_dir():
            return dest
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            build(staging)
            staging.chmod(0o755)
            os.replace(staging, dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def unzip(archive: Path, into: Path, top_level: str) -> None:
    """Unpack the ``top_level`` folder of ``archive`` so its contents land in ``into``.

    zipfile drops Unix modes, so executables are restored from each entry; everything is
    made world-readable because the Elasticsearch node may run as another user.
    """
    prefix = top_level.rstrip("/") + "/"
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(prefix) or info.filename == prefix:
                continue
            target = into / info.filename[len(prefix) :]
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                target.chmod(0o755)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
            executable = (info.external_attr >> 16) & stat.S_IXUSR
            target.chmod(0o755 if executable else 0o644)
    # Parents made implicitly follow the umask; the node's user must traverse them all.
    for path in into.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
