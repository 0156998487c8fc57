"""Files the manifests, the guides and the code's comments point readers to exist.

A comment naming a moved module sends an operator to a file that is not there (the
PrometheusRule named pipeline/alerts/agent.py after the agents moved to pipeline/worker/).
docs/decisions.md is history and may name files that are gone; it is not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATH = re.compile(
    r"\b(?:pipeline|tests|scripts|kibana|bench|docker|k8s|schemas)/[A-Za-z0-9_./-]+"
    r"\.(?:py|yaml|yml|sh|json|md)\b"
)
SOURCES = ("k8s", "docker", "docs", "pipeline", "scripts", "kibana")
SKIP = {REPO / "docs" / "decisions.md"}
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".sh", ".toml", ""}


def _texts() -> list[Path]:
    found = [REPO / "README.md"]
    for top in SOURCES:
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and path not in SKIP and path.suffix in SUFFIXES:
                found.append(path)
    return found


def test_every_repository_path_named_exists() -> None:
    missing = []
    for path in _texts():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for named in sorted(set(PATH.findall(text))):
            if not (REPO / named).exists():
                missing.append(f"{path.relative_to(REPO)} names {named}")
    assert not missing, "\n".join(missing)


def test_the_check_sees_a_stale_name() -> None:
    assert PATH.findall("# (pipeline/alerts/agent.py); see k8s/base/app/poller.yaml") == [
        "pipeline/alerts/agent.py",
        "k8s/base/app/poller.yaml",
    ]
