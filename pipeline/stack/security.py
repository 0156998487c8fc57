"""Who may do what on the secured local stack: the production identities, here.

One Kafka user per service with the ACLs of its KafkaUser in ``k8s/base/kafka/users.yaml``
and one Elasticsearch file-realm user per role of ``k8s/base/elastic/roles.yml``;
``tests/deploy`` fails when these tables and the manifests disagree. Passwords are made
once per state dir and kept in ``secrets/credentials.json`` (mode 0600); they are handed
to clients as Settings and never logged.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The broker's own identity (inter-broker listener; creates the ACLs). A super user.
KAFKA_ADMIN = "wirewatch-admin"
#: The stack's own Elasticsearch identity (health checks). Role "superuser".
ES_ADMIN = "wirewatch-admin"

# (resource type, name, pattern type, operations): the KafkaUsers' spec.authorization.acls.
Acl = tuple[str, str, str, tuple[str, ...]]

KAFKA_ACLS: dict[str, tuple[Acl, ...]] = {
    "wirewatch-poller": (
        ("topic", "wirewatch.articles.raw", "literal", ("Write", "Describe")),
        ("topic", "wirewatch.dead-letter", "literal", ("Write", "Describe")),
        ("topic", "wirewatch.", "prefix", ("Describe",)),
    ),
    "wirewatch-worker": (
        ("topic", "wirewatch.articles.raw", "literal", ("Read", "Describe")),
        ("topic", "wirewatch.articles.deduped", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.articles.annotated", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.articles.enriched", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.alert-matches", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.alerts", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.alert-rules", "literal", ("Read", "Describe")),
        ("topic", "wirewatch.dead-letter", "literal", ("Write", "Describe")),
        ("topic", "wirewatch.claim-statements", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.claim-changes", "literal", ("Read", "Write", "Describe")),
        (
            "topic",
            "wirewatch-worker-",
            "prefix",
            ("Create", "Read", "Write", "Describe", "DescribeConfigs"),
        ),
        ("group", "wirewatch-worker", "literal", ("Read", "Describe")),
        ("cluster", "kafka-cluster", "literal", ("Describe",)),
    ),
    "wirewatch-setup": (
        ("topic", "wirewatch.", "prefix", ("Create", "Describe", "DescribeConfigs")),
        ("cluster", "kafka-cluster", "literal", ("Describe",)),
    ),
    "wirewatch-ops": (
        ("topic", "wirewatch.articles.raw", "literal", ("Read", "Describe")),
        ("topic", "wirewatch.articles.deduped", "literal", ("Read", "Describe")),
        ("topic", "wirewatch.articles.enriched", "literal", ("Read", "Describe")),
        ("topic", "wirewatch.alert-rules", "literal", ("Read", "Write", "Describe")),
        ("topic", "wirewatch.dead-letter", "literal", ("Read", "Write", "Describe")),
        ("group", "wirewatch-worker", "literal", ("Describe",)),
    ),
}

#: Elasticsearch file-realm users and their roles (the manifests' file-realm Secrets).
ES_USERS: dict[str, str] = {
    "wirewatch-worker": "wirewatch_writer",
    "wirewatch-ops": "wirewatch_ops",
    "wirewatch-setup": "wirewatch_setup",
}

ES_ROLES: dict[str, dict[str, Any]] = {
    "wirewatch_writer": {
        "cluster": ["monitor"],
        "indices": [
            {
                "names": ["wirewatch-*"],
                "privileges": ["read", "write", "create_index", "view_index_metadata"],
            }
        ],
    },
    "wirewatch_ops": {
        "cluster": ["monitor"],
        "indices": [
            {
                "names": ["wirewatch-*"],
                "privileges": [
                    "read",
                    "write",
                    "create_index",
                    "view_index_metadata",
                    "maintenance",
                ],
            }
        ],
    },
    "wirewatch_setup": {
        "cluster": ["monitor", "manage_index_templates", "manage_ilm", "manage_pipeline"],
        "indices": [{"names": ["wirewatch-*"], "privileges": ["all"]}],
        "applications": [
            {
                "application": "kibana-.kibana",
                "privileges": ["all"],
                "resources": ["space:default"],
            }
        ],
    },
}


@dataclass(frozen=True)
class Identity:
    """The Kafka and Elasticsearch users one service logs in as (None: not needed)."""

    kafka_user: str | None
    es_user: str | None


#: Services as the manifests run them: the poller, the worker, the setup Job and operators'
#: Jobs and commands (replay, audit, alert rules, search).
SERVICES: dict[str, Identity] = {
    "poller": Identity("wirewatch-poller", None),
    "worker": Identity("wirewatch-worker", "wirewatch-worker"),
    "setup": Identity("wirewatch-setup", "wirewatch-setup"),
    "ops": Identity("wirewatch-ops", "wirewatch-ops"),
}


_KEYSTORE = "tls:keystore"


class Credentials:
    """Passwords of every user of one secured stack, made once and kept 0600."""

    def __init__(self, path: Path):
        self.path = path
        self._passwords: dict[str, str] | None = None

    def ensure(self) -> None:
        """Make the file, or add passwords for users a newer release introduced."""
        names = (
            {f"kafka:{name}" for name in (KAFKA_ADMIN, *KAFKA_ACLS)}
            | {f"es:{name}" for name in (ES_ADMIN, *ES_USERS)}
            | {_KEYSTORE}
        )
        passwords: dict[str, str] = {}
        if self.path.is_file():
            passwords = json.loads(self.path.read_text())
            if names <= passwords.keys():
                return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.parent.chmod(0o700)
        for name in sorted(names - passwords.keys()):
            passwords[name] = secrets.token_urlsafe(24)
        self._passwords = None
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(passwords, out, indent=1)
        os.replace(tmp, self.path)

    def _all(self) -> dict[str, str]:
        if self._passwords is None:
            self._passwords = json.loads(self.path.read_text())
        return self._passwords

    def kafka(self, user: str) -> str:
        return self._all()[f"kafka:{user}"]

    def es(self, user: str) -> str:
        return self._all()[f"es:{user}"]

    def keystore_password(self) -> str:
        """The password of the broker's PKCS#12 key store."""
        return self._all()[_KEYSTORE]

    def kafka_users(self) -> dict[str, str]:
        return {k.split(":", 1)[1]: v for k, v in self._all().items() if k.startswith("kafka:")}

    def es_users(self) -> dict[str, str]:
        return {k.split(":", 1)[1]: v for k, v in self._all().items() if k.startswith("es:")}

    def __repr__(self) -> str:  # never the passwords
        return f"Credentials({self.path})"
