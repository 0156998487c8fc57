"""Types the alert integration tests share with their fixtures (importable by name:
a second `conftest` module in another directory would shadow `from conftest import`)."""

from __future__ import annotations

import json
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Receiver:
    """A webhook endpoint on loopback: /ok answers 204, /fail always 500."""

    url: str
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


@dataclass
class Worker:
    process: subprocess.Popen
    web: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def json_body(request: dict) -> dict:
    return json.loads(request["body"])
