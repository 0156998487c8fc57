"""The secured local stack's identities are the production ones: its Kafka ACLs are the
KafkaUsers' and its Elasticsearch roles are roles.yml (pipeline/stack/security.py)."""

from __future__ import annotations

from typing import Any

import yaml
from deploy_support import K8S

from pipeline.stack import security


def _kafka_users() -> dict[str, list[dict[str, Any]]]:
    docs = yaml.safe_load_all((K8S / "base" / "kafka" / "users.yaml").read_text())
    return {
        d["metadata"]["name"]: d["spec"]["authorization"]["acls"]
        for d in docs
        if d and d.get("kind") == "KafkaUser"
    }


def _normalised(acl: dict[str, Any]) -> tuple[str, str, str, tuple[str, ...]]:
    resource = acl["resource"]
    name = resource.get("name", "kafka-cluster")  # a cluster resource has no name
    pattern = resource.get("patternType", "literal")
    return (resource["type"], name, pattern, tuple(acl["operations"]))


def test_kafka_acls_are_the_kafka_users_acls() -> None:
    manifests = {
        user: sorted(_normalised(acl) for acl in acls) for user, acls in _kafka_users().items()
    }
    local = {user: sorted(acls) for user, acls in security.KAFKA_ACLS.items()}
    assert local == manifests


def test_elasticsearch_roles_are_roles_yml() -> None:
    roles = yaml.safe_load((K8S / "base" / "elastic" / "roles.yml").read_text())
    assert roles == security.ES_ROLES
    assert set(security.ES_USERS.values()) <= set(roles)


def test_every_service_identity_exists() -> None:
    for service, identity in security.SERVICES.items():
        assert identity.kafka_user is None or identity.kafka_user in security.KAFKA_ACLS, service
        assert identity.es_user is None or identity.es_user in security.ES_USERS, service
