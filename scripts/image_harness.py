"""Helpers for scripts/test-image.sh: what the manifests say a container gets, the sample
feeds on loopback, and the end-to-end check through the containers.

    image_harness.py podman-options ROLE     podman run options from the dev overlay
    image_harness.py env ROLE [--set K=V] [--unset K]   the container's environment
    image_harness.py serve-feeds DIR         serve the sample feeds; DIR/feeds.yaml names them
    image_harness.py wait-ready URL --container NAME --deadline S
    image_harness.py check-pipeline --deadline S

ROLE is poller, worker or setup. The options and environment come from the rendered
Kustomize dev overlay (one poller, one worker, replication factor 1), so the containers run
as the pods would: same user, read-only root, dropped capabilities, emptyDir mounts as
tmpfs, memory limit, and the ConfigMaps' variables.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import yaml

REPO = Path(__file__).resolve().parents[1]
OVERLAY = REPO / "k8s" / "overlays" / "dev"
WORKLOADS = {
    "poller": ("StatefulSet", "wirewatch-poller"),
    "worker": ("StatefulSet", "wirewatch-worker"),
    "setup": ("Job", "wirewatch-setup"),
}
Manifest = dict[str, Any]


def rendered() -> list[Manifest]:
    kubectl = Path(sys.executable).parent / "kubectl"
    out = subprocess.run(
        [str(kubectl), "kustomize", str(OVERLAY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_and_container(docs: list[Manifest], role: str) -> tuple[Manifest, Manifest]:
    kind, name = WORKLOADS[role]
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    pod = doc["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def quantity_bytes(text: str) -> int:
    """Kubernetes memory quantity ("512Mi", "2Gi", "1G") -> bytes."""
    match = re.fullmatch(r"(\d+)([KMGT]i?)?", str(text))
    if not match:
        raise click.ClickException(f"unsupported quantity {text!r}")
    number, unit = int(match.group(1)), match.group(2) or ""
    powers = {"K": 1, "M": 2, "G": 3, "T": 4}
    base = 1024 if unit.endswith("i") else 1000
    return number * base ** powers[unit[0]] if unit else number


@click.group()
def cli() -> None:
    """Harness of the image test (scripts/test-image.sh)."""


@cli.command("podman-options")
@click.argument("role", type=click.Choice(sorted(WORKLOADS)))
def podman_options(role: str) -> None:
    """One `podman run` option per line, from the pod's and container's specs."""
    pod, container = pod_and_container(rendered(), role)
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    options: list[str] = []
    if "runAsUser" in security:
        options.append(f"--user={security['runAsUser']}:{security.get('runAsGroup', 0)}")
    if security.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    for capability in security.get("capabilities", {}).get("drop", []):
        options.append(f"--cap-drop={capability}")
    if security.get("allowPrivilegeEscalation") is False:
        options.append("--security-opt=no-new-privileges")
    if container.get("workingDir"):
        options.append(f"--workdir={container['workingDir']}")
    memory = container.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        options.append(f"--memory={quantity_bytes(memory)}")
    # emptyDir volumes become tmpfs of the same size. podman copies the image directory's
    # owner and mode onto a tmpfs mounted over it (root, 0750 for /var/lib/wirewatch, so
    # mode= is ignored and uid 10001 could not write); "U" chowns the tmpfs to the
    # container's user and group, which is what fsGroup does to an emptyDir.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            size = volume["emptyDir"].get("sizeLimit")
            size_option = f",size={quantity_bytes(size)}" if size else ""
            options.append(f"--tmpfs={mount['mountPath']}:rw,U{size_option}")
    click.echo("\n".join(options))


@cli.command("env")
@click.argument("role", type=click.Choice(sorted(WORKLOADS)))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--unset", "removals", multiple=True, metavar="KEY")
def env(role: str, overrides: tuple[str, ...], removals: tuple[str, ...]) -> None:
    """KEY=VALUE lines (podman --env-file): the ConfigMaps, then the container's own values.

    Values from Secrets and the downward API are left out (the script sets what it needs).
    """
    docs = rendered()
    _pod, container = pod_and_container(docs, role)
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values.update(maps[source["configMapRef"]["name"]])
    for var in container.get("env", []):
        if "value" in var:
            values[var["name"]] = str(var["value"])
    for key in removals:
        values.pop(key, None)
    for item in overrides:
        key, _, value = item.partition("=")
        values[key] = value
    click.echo("\n".join(f"{k}={v}" for k, v in sorted(values.items())))


@cli.command("serve-feeds")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def serve_feeds(directory: Path) -> None:
    """Serve the bundled sample feeds on loopback until killed; write DIR/feeds.yaml."""
    from pipeline.demo import sample_feeds, serve_directory

    _server, base = serve_directory(REPO / "pipeline" / "data" / "sample")
    feeds = [spec.model_dump(mode="json", exclude_none=True) for spec in sample_feeds(base)]
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / "feeds.yaml.part"
    partial.write_text(yaml.safe_dump({"feeds": feeds}, sort_keys=False))
    partial.chmod(0o644)
    partial.rename(directory / "feeds.yaml")
    click.echo(f"sample feeds at {base}", err=True)
    threading.Event().wait()


def container_state(name: str) -> str:
    proc = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.State.Status}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "missing"


@cli.command("wait-ready")
@click.argument("url")
@click.option("--container", required=True, help="Fail at once if this container stops.")
@click.option("--deadline", default=300.0, show_default=True, help="Seconds.")
def wait_ready(url: str, container: str, deadline: float) -> None:
    """Poll URL until it answers 200; print the seconds it took."""
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < deadline:
        state = container_state(container)
        if state not in ("running", "created", "configured"):
            raise click.ClickException(f"container {container} is {state} (last: {last})")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    click.echo(f"{time.monotonic() - started:.1f}")
                    return
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except OSError as error:
            last = str(error)
        time.sleep(0.5)  # polling interval of a deadline loop
    raise click.ClickException(f"{url} not ready after {deadline:.0f}s (last: {last})")


@cli.command("check-pipeline")
@click.option("--deadline", default=300.0, show_default=True, help="Seconds.")
@click.option("--expect-copies", default=3, show_default=True)
def check_pipeline(deadline: float, expect_copies: int) -> None:
    """Wait until everything polled is indexed, then check the Kursk story's copies.

    Reads the servers from WIREWATCH_KAFKA_BOOTSTRAP / WIREWATCH_ES_URL.
    """
    from pipeline.adapters.elastic import make_client
    from pipeline.adapters.kafka_progress import distinct_keys
    from pipeline.settings import get_settings
    from pipeline.topics import ARTICLES_RAW, DEAD_LETTER, qualified

    settings = get_settings()
    es = make_client(settings)
    raw = qualified(ARTICLES_RAW, settings.topic_prefix)
    dead_letter = qualified(DEAD_LETTER, settings.topic_prefix)
    started = time.monotonic()
    seen = "nothing yet"
    try:
        while True:
            if time.monotonic() - started > deadline:
                raise click.ClickException(f"pipeline not done after {deadline:.0f}s: {seen}")
            try:
                polled = len(distinct_keys(settings, raw))
                dead = len(distinct_keys(settings, dead_letter))
                es.indices.refresh(index=settings.index_alias)
                indexed = es.count(index=settings.index_alias)["count"]
                hits = es.search(
                    index=settings.index_alias, query={"match": {"text": "Kursk"}}, size=20
                )["hits"]["hits"]
            except Exception as exc:  # index or topic not there yet: look again
                seen = f"not readable yet ({type(exc).__name__}: {exc})"[:300]
                time.sleep(1)  # polling interval of a deadline loop
                continue
            seen = f"{polled} polled, {indexed} indexed, {dead} dead-lettered, {len(hits)} Kursk"
            if polled and indexed + dead >= polled and len(hits) >= expect_copies:
                break
            time.sleep(1)  # polling interval of a deadline loop
    finally:
        es.close()
    copies = [hit["_source"] for hit in hits]
    clusters = {doc["story"]["cluster_id"] for doc in copies}
    outlets = sorted({doc.get("outlet", "?") for doc in copies})
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "polled": polled,
        "indexed": indexed,
        "dead_lettered": dead,
        "kursk_copies": len(copies),
        "kursk_clusters": len(clusters),
        "outlets": outlets,
    }
    click.echo(json.dumps(summary))
    problems = []
    if dead:
        problems.append(f"{dead} articles dead-lettered")
    if indexed != polled:
        problems.append(f"{polled} polled but {indexed} indexed")
    if len(copies) != expect_copies or len(clusters) != 1:
        problems.append(f"Kursk: {len(copies)} copies in {len(clusters)} clusters")
    if problems:
        raise click.ClickException("; ".join(problems))


if __name__ == "__main__":
    cli()
