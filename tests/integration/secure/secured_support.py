"""The secured stack as the tests drive it: its home, the commands run and what they said."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.stack import LocalStack
from pipeline.stack.process import free_port

SERVER_VARIABLES = (
    "WIREWATCH_KAFKA_BOOTSTRAP",
    "WIREWATCH_ES_URL",
    "WIREWATCH_KAFKA_SECURITY_PROTOCOL",
    "WIREWATCH_KAFKA_SASL_MECHANISM",
    "WIREWATCH_KAFKA_USERNAME",
    "WIREWATCH_KAFKA_PASSWORD",
    "WIREWATCH_KAFKA_SSL_CAFILE",
    "WIREWATCH_ES_USERNAME",
    "WIREWATCH_ES_PASSWORD",
    "WIREWATCH_ES_API_KEY",
    "WIREWATCH_ES_CA_CERTS",
    "WIREWATCH_TOPIC_PREFIX",
)


@dataclass
class Secured:
    stack: LocalStack
    home: Path
    outputs: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """The embedded default on this stack: no servers configured, its home."""
        env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
        env.update(
            WIREWATCH_HOME=str(self.home),
            WIREWATCH_WORKER_WEB_PORT=str(free_port()),
            WIREWATCH_POLLER_PORT=str(free_port()),
        )
        env.update(extra)
        return env

    def wirewatch(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            env=env if env is not None else self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.outputs += [done.stdout, done.stderr]
        return done
