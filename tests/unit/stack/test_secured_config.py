"""What a secured stack writes (certificates, broker and node config), without starting one."""

from __future__ import annotations

import ipaddress
import json
import stat
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pipeline.stack import LocalStack, StackError, security
from pipeline.stack.tls import SERVER_SUBJECT, ensure_certificates


def _fake_es_home(root: Path) -> Path:
    config = root / "es-home" / "config"
    config.mkdir(parents=True)
    (config / "log4j2.properties").write_text("status = error\n")
    (config / "jvm.options").write_text("-XX:+UseG1GC\n")
    return root / "es-home"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_certificates_are_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls", "store-pw")
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificates(files.server_cert.read_bytes())[0]
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert server.subject.rfc4514_string() == SERVER_SUBJECT
    for private in (files.ca_key, files.server_key, files.server_keystore):
        assert _mode(private) == 0o600, private
    assert _mode(files.directory) == 0o700
    # Made once: a second call keeps the same CA (clients keep trusting it).
    again = ensure_certificates(tmp_path / "tls", "store-pw")
    assert again.ca_cert.read_bytes() == files.ca_cert.read_bytes()


def _secured(tmp_path: Path) -> LocalStack:
    return LocalStack(
        tmp_path / "stack",
        kafka_port=19092,
        es_port=19200,
        kafka_controller_port=19093,
        cache_dir=tmp_path / "cache",
        secure=True,
    )


def test_secured_broker_config(tmp_path: Path) -> None:
    stack = _secured(tmp_path)
    stack.kafka.write_config()
    path = stack.kafka.config_dir / "server.properties"
    props = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == f"User:{security.KAFKA_ADMIN};User:{SERVER_SUBJECT}"
    assert "StandardAuthorizer" in props["authorizer.class.name"]
    assert _mode(path) == 0o600  # it holds the admin's and the key store's passwords
    # Every other user gets exactly the manifests' ACLs, and a password of its own.
    assert stack.kafka.security is not None
    assert stack.kafka.security.acls == security.KAFKA_ACLS
    assert set(stack.kafka.security.users) == set(security.KAFKA_ACLS)
    assert stack.kafka_bootstrap == "127.0.0.1:19092"


def test_secured_node_config(tmp_path: Path) -> None:
    stack = _secured(tmp_path)
    node = stack.elasticsearch
    node.write_config(_fake_es_home(tmp_path))
    yml = (node.config_dir / "elasticsearch.yml").read_text()
    assert "xpack.security.enabled: true" in yml.splitlines()
    assert "xpack.security.enabled: false" not in yml
    assert "    certificate_authorities: [tls/ca.pem]" in yml.splitlines()
    assert node.url == "https://127.0.0.1:19200"
    users = dict(
        line.split(":", 1) for line in (node.config_dir / "users").read_text().splitlines()
    )
    passwords = stack.credentials.es_users()
    assert set(users) == {security.ES_ADMIN, *security.ES_USERS}
    for user, hashed in users.items():
        assert hashed.startswith("$2a$")
        assert bcrypt.checkpw(passwords[user].encode(), hashed.encode()), user
    roles = (node.config_dir / "users_roles").read_text().splitlines()
    assert "superuser:wirewatch-admin" in roles
    assert "wirewatch_writer:wirewatch-worker" in roles
    for name in ("users", "users_roles", "roles.yml", "tls/node-key.pem"):
        assert _mode(node.config_dir / name) == 0o600, name


def test_service_settings_hand_each_service_its_own_user(tmp_path: Path) -> None:
    stack = _secured(tmp_path)
    poller = stack.service_settings("poller")
    assert poller["kafka_username"] == "wirewatch-poller"
    assert poller["kafka_security_protocol"] == "SASL_SSL"
    assert "es_username" not in poller  # the poller never talks to Elasticsearch
    worker = stack.service_settings("worker")
    assert worker["es_username"] == "wirewatch-worker"
    assert worker["es_ca_certs"] == stack.ca_file
    secret = worker["kafka_password"]
    assert secret.get_secret_value() == stack.credentials.kafka("wirewatch-worker")
    assert secret.get_secret_value() not in repr(worker)
    stored = json.loads(stack.credentials.path.read_text())
    assert _mode(stack.credentials.path) == 0o600
    assert len(set(stored.values())) == len(stored)  # no password shared between users


def test_a_state_dir_keeps_its_security(tmp_path: Path) -> None:
    plain = LocalStack(tmp_path / "stack", 1, 2, kafka_controller_port=3, cache_dir=tmp_path)
    plain._save_state()
    assert LocalStack(tmp_path / "stack", cache_dir=tmp_path).secure is False
    with pytest.raises(StackError, match=r"made plain, not secured.*down --purge"):
        LocalStack(tmp_path / "stack", cache_dir=tmp_path, secure=True).check_same_security()
    assert plain.service_settings("worker") == {}


def test_credentials_gain_the_users_a_newer_release_adds(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "credentials.json"
    credentials = security.Credentials(path)
    credentials.ensure()
    kept = json.loads(path.read_text())
    older = {k: v for k, v in kept.items() if k != "es:wirewatch-ops"}
    path.write_text(json.dumps(older))

    upgraded = security.Credentials(path)
    upgraded.ensure()
    now = json.loads(path.read_text())
    assert now.keys() == kept.keys()
    assert {k: now[k] for k in older} == older  # existing passwords unchanged
    assert upgraded.es("wirewatch-ops") == now["es:wirewatch-ops"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
