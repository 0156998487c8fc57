"""The product on the secured stack, end to end, as each service's own user (issue 13.2).

poll -> worker -> index -> search -> alert through `wirewatch run --once` on the embedded
default; then a wrong password, a missing ACL and an untrusted CA each give one plain line
naming the setting to fix; last, no password or private key appears in any output or log.
Tests run in file order: the secret scan reads what the others printed.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kafka.errors import TopicAuthorizationFailedError
from secured_support import Secured

from pipeline.adapters.elastic import make_client
from pipeline.adapters.kafka import make_producer
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def _as(secured: Secured, service: str) -> Settings:
    stack = secured.stack
    return Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        es_url=stack.es_url,
        **stack.service_settings(service),
    )


def _one_line(done, *settings: str) -> str:
    """The command failed with exactly one plain line naming every one of ``settings``."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stdout
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for name in settings:
        assert name in lines[0], lines[0]
    return lines[0]


def _configured(secured: Secured, service: str, **changes: str) -> dict[str, str]:
    """Servers set explicitly (as on Kubernetes), as ``service``, with ``changes``."""
    env = secured.env(
        WIREWATCH_KAFKA_BOOTSTRAP=secured.stack.kafka_bootstrap,
        WIREWATCH_ES_URL=secured.stack.es_url,
    )
    for key, value in secured.stack.service_settings(service).items():
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"WIREWATCH_{key.upper()}"] = str(raw)
    env.update(changes)
    return env


def test_the_flow_runs_end_to_end_as_each_service(secured: Secured) -> None:
    # As on Kubernetes: the setup Job creates the topics; the operators' user may not.
    setup = secured.wirewatch("setup")
    assert setup.returncode == 0, setup.stderr
    added = secured.wirewatch("alerts", "add", "Kursk watch", "Kursk")
    assert added.returncode == 0, added.stderr

    run = secured.wirewatch("run", "--once", "--timeout", "600", timeout=700)
    logs = "".join(p.read_text() for p in (secured.home / "logs").glob("*.log"))
    assert run.returncode == 0, f"run failed:\n{run.stderr}\n{logs[-4000:]}"
    assert "done:" in run.stdout and "0 dead-lettered" in run.stdout, run.stdout
    assert "https://" in run.stderr  # the managed node was reached over TLS

    found = secured.wirewatch("search", "Kursk")
    assert found.returncode == 0, found.stderr
    assert "Putin" in found.stdout and "Kursk" in found.stdout, found.stdout

    # The operators' accounting runs as the operators' user: it reads every stage topic,
    # the dead letters and the worker group's offsets (ACLs the manifests grant it).
    audit = secured.wirewatch("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    assert report["articles"] > 0 and report["lost"] == 0 and report["duplicated"] == 0, report
    assert report["indexed"] + report["story_duplicates"] > 0, report

    # The alert agent fired for the rule and indexed the alert (read as the worker's user,
    # which may not refresh: the index refreshes itself within a second).
    es = make_client(_as(secured, "worker"))
    try:
        deadline = time.monotonic() + 120
        alerts: list[dict] = []
        while time.monotonic() < deadline and not alerts:
            hits = es.search(index="wirewatch-alerts", query={"term": {"rule_id": "kursk-watch"}})
            alerts = [h["_source"] for h in hits["hits"]["hits"]]
            if not alerts:
                time.sleep(1)  # polling the index for a condition, bounded by the deadline
    finally:
        es.close()
    assert len(alerts) == 1, alerts  # once per story cluster: three copies, one alert

    # ACLs are per service: the worker's user reads the alert rules but may not write them
    # (the operators' user does, as `alerts add` just did).
    producer = make_producer(_as(secured, "worker"), max_block_ms=20_000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send("wirewatch.alert-rules", key=b"x", value=b"{}").get(timeout=30)
    finally:
        producer.close(timeout=5)


def test_a_wrong_kafka_password_is_one_line(secured: Secured) -> None:
    env = _configured(secured, "poller", WIREWATCH_KAFKA_PASSWORD="not-the-password")
    done = secured.wirewatch("poll", "--once", "--quiet", env=env)
    _one_line(done, "WIREWATCH_KAFKA_PASSWORD", "'wirewatch-poller'")
    assert done.returncode == 2


def test_a_wrong_elasticsearch_password_is_one_line(secured: Secured) -> None:
    env = _configured(secured, "ops", WIREWATCH_ES_PASSWORD="not-the-password")
    done = secured.wirewatch("search", "Kursk", env=env)
    _one_line(done, "WIREWATCH_ES_PASSWORD", "'wirewatch-ops'")
    assert done.returncode == 2


def test_a_missing_acl_is_one_line(secured: Secured) -> None:
    # The operators' user may read enriched articles and write rules, not create topics.
    env = _configured(secured, "ops")
    done = secured.wirewatch("setup", "--no-elasticsearch", env=env)
    line = _one_line(done, "WIREWATCH_KAFKA_USERNAME", "'wirewatch-ops'")
    assert "TopicAuthorizationFailedError" in line


def _other_ca(directory: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Some other CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / "other-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_an_untrusted_ca_is_one_line(secured: Secured, tmp_path: Path) -> None:
    other = str(_other_ca(tmp_path))
    kafka = secured.wirewatch(
        "setup", env=_configured(secured, "setup", WIREWATCH_KAFKA_SSL_CAFILE=other)
    )
    _one_line(kafka, "WIREWATCH_KAFKA_SSL_CAFILE")
    es = secured.wirewatch(
        "search", "Kursk", env=_configured(secured, "ops", WIREWATCH_ES_CA_CERTS=other)
    )
    _one_line(es, "WIREWATCH_ES_CA_CERTS")


def _worker_read_on_raw(secured: Secured, *, remove: bool) -> None:
    """Take away (or give back) the worker user's Read on the raw topic, as an admin would."""
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePatternFilter,
        ResourceType,
    )
    from kafka.errors import NoError

    kafka = secured.stack.kafka
    if not remove:
        kafka.provision()  # idempotent: adds back exactly the ACLs of pipeline.stack.security
        return
    assert kafka.security is not None
    options = kafka.security.client_options()
    admin = KafkaAdminClient(bootstrap_servers=kafka.address, request_timeout_ms=30_000, **options)
    try:
        pattern = ResourcePatternFilter(
            ResourceType.TOPIC, "wirewatch.articles.raw", ACLResourcePatternType.LITERAL
        )
        acl = ACLFilter(
            "User:wirewatch-worker", "*", ACLOperation.READ, ACLPermissionType.ALLOW, pattern
        )
        ((_, deleted, error),) = admin.delete_acls([acl])
        assert error in (None, NoError) and len(deleted) == 1, (deleted, error)
    finally:
        admin.close()


def test_a_worker_that_loses_an_acl_while_running_exits_with_one_line(secured: Secured) -> None:
    """The ACL refusal of a running worker reads like the startup probe's: one line naming
    the user and what it lacks, no traceback, and a non-zero exit for the supervisor."""
    import subprocess
    import sys

    import httpx

    setup = secured.wirewatch("setup")  # idempotent; the first test ran it too
    assert setup.returncode == 0, setup.stderr
    env = secured.env()
    port = env["WIREWATCH_WORKER_WEB_PORT"]
    log_path = secured.home / "logs" / "worker-acl.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "worker", "--no-setup"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready() -> bool:
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    from helpers import wait_until

    try:
        wait_until(ready, timeout=300, message="worker ready on the secured stack")
        _worker_read_on_raw(secured, remove=True)
        try:
            status = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "worker still running 180 s after losing Read on the raw topic:\n"
                + log_path.read_text(errors="replace")[-3000:]
            ) from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        _worker_read_on_raw(secured, remove=False)
    log = log_path.read_text(errors="replace")
    assert status != 0, log[-3000:]
    assert "Traceback" not in log, log[-4000:]
    refusals = [line for line in log.splitlines() if "is not allowed" in line]
    assert len(refusals) == 1, "\n".join(refusals) or log[-3000:]
    assert "'wirewatch-worker'" in refusals[0] and "wirewatch.articles.raw" in refusals[0]
    assert "Read" in refusals[0] and "WIREWATCH_KAFKA_USERNAME" in refusals[0], refusals[0]


def test_no_secret_in_any_output_or_log(secured: Secured) -> None:
    stack = secured.stack
    secrets = set(json.loads(stack.credentials.path.read_text()).values())
    tls = stack.secrets_dir / "tls"
    for key_file in ("ca-key.pem", "server-key.pem"):
        body = [
            line
            for line in (tls / key_file).read_text().splitlines()
            if line and not line.startswith("-----")
        ]
        secrets.update(body)
    assert len(secrets) >= 9
    texts = {f"output {i}": text for i, text in enumerate(secured.outputs)}
    log_dirs = [secured.home / "logs", stack.kafka.logs_dir, stack.elasticsearch.logs_dir]
    for directory in log_dirs:
        for path in directory.rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_text(errors="replace")
    assert len(secured.outputs) >= 12 and any("worker.log" in name for name in texts)
    leaks = [(name, s[:4] + "...") for name, text in texts.items() for s in secrets if s in text]
    assert not leaks, leaks
