"""One Apache Kafka node in KRaft mode (broker and controller in one JVM) on loopback.

Layout under its directory: ``config/`` (server.properties, log4j2.properties),
``data/`` (the log dirs, formatted once with a cluster id), ``logs/`` and ``kafka.pid``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka.admin import (
    ACL,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourceType,
)
from kafka.admin._users import UserScramCredentialUpsertion
from kafka.errors import KafkaError

from pipeline.stack import process
from pipeline.stack.errors import ServerStartError
from pipeline.stack.java import Java

log = logging.getLogger(__name__)

NODE_ID = 1

_LOG4J2 = """\
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 16MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""


#: SCRAM iterations for the stack's users (Kafka's minimum for SHA-512 is 4096).
SCRAM_ITERATIONS = 8192
SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaSecurity:
    """What a secured broker needs: its SASL_SSL admin, key store and trust store.

    The listener for clients and brokers is SASL_SSL (SCRAM-SHA-512); the CONTROLLER listener
    is mutual TLS, the broker showing its own certificate (subject ``controller_principal``).
    Both principals are super users; everyone else gets only the ACLs created for them.
    """

    admin_user: str
    admin_password: str = field(repr=False)
    keystore: Path
    keystore_password: str = field(repr=False)
    ca_file: Path
    controller_principal: str
    #: every other user's password, and the ACLs per user (pipeline.stack.security)
    users: Mapping[str, str] = field(repr=False, default_factory=dict)
    acls: Mapping[str, Sequence[tuple[str, str, str, Sequence[str]]]] = field(default_factory=dict)

    def client_options(self) -> dict[str, Any]:
        """kafka-python options to connect as the admin (health checks, provisioning)."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": self.admin_user,
            "sasl_plain_password": self.admin_password,
            "ssl_cafile": str(self.ca_file),
        }


def _jaas(user: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


def new_cluster_id() -> str:
    """Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own Uuid.randomUuid, never one starting with "-": the storage tool would
    read it as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@contextlib.contextmanager
def _quiet_kafka_client() -> Iterator[None]:
    # kafka-python logs every refused connection while the broker boots.
    logger = logging.getLogger("kafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def metadata_ok(
    bootstrap: str, timeout_s: float = 5.0, security: KafkaSecurity | None = None
) -> bool:
    """One real metadata round trip: True if the broker answers and lists itself."""
    timeout_ms = int(timeout_s * 1000)
    options = security.client_options() if security is not None else {}
    with _quiet_kafka_client():
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="wirewatch-stack-health",
                request_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
                **options,
            )
        except (KafkaError, OSError):
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()


class KafkaServer:
    name = "kafka"

    def __init__(
        self,
        directory: Path,
        port: int,
        controller_port: int,
        heap: str = "512m",
        security: KafkaSecurity | None = None,
    ):
        self.directory = directory
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.security = security

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_dir(self) -> Path:
        return self.directory / "config"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def logs_dir(self) -> Path:
        return self.directory / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def pid_file(self) -> process.PidFile:
        return process.PidFile(self.directory / "kafka.pid", marker=str(self.config_dir))

    def ports(self) -> tuple[int, ...]:
        return (self.port, self.controller_port)

    def running_pid(self) -> int | None:
        return self.pid_file.running_pid()

    def server_properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            # 50 partitions each (the defaults) only slow a one-node start and restart.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.num.partitions": "5",
            # One node: every internal topic has a single replica.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Consumers join at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
        }
        if self.security is not None:
            settings.update(self._secured_properties(self.security))
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _secured_properties(self, security: KafkaSecurity) -> dict[str, str]:
        listener = f"SASL_SSL://127.0.0.1:{self.port}"
        return {
            "listeners": f"{listener},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": listener,
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": _jaas(
                security.admin_user, security.admin_password
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(security.keystore),
            "ssl.keystore.password": security.keystore_password,
            "ssl.key.password": security.keystore_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(security.ca_file),
            # The controller only talks to brokers that show a certificate of our CA.
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{security.admin_user};User:{security.controller_principal}",
            "allow.everyone.if.no.acl.found": "false",
        }

    def write_config(self) -> None:
        for directory in (self.config_dir, self.data_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        properties = self.config_dir / "server.properties"
        # It holds the admin's password and the key store's when secured: owner only.
        fd = os.open(properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.server_properties())
        properties.chmod(0o600)
        (self.config_dir / "log4j2.properties").write_text(_LOG4J2)

    def _java_command(self, java: Java, classpath: Sequence[Path], main: str) -> list[str]:
        return [
            str(java.executable),
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={self.config_dir / 'log4j2.properties'}",
            "-cp",
            ":".join(str(p) for p in classpath),
            main,
        ]

    def format_storage(self, java: Java, classpath: Sequence[Path], cluster_id: str) -> None:
        """Format the log dir once; a formatted one keeps its data across restarts."""
        if (self.data_dir / "meta.properties").exists():
            return
        command = [
            *self._java_command(java, classpath, "kafka.tools.StorageTool"),
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_dir / "server.properties"),
        ]
        if self.security is not None:
            # The admin exists from the first start on (the broker logs in as it). Only
            # the salted password is on the command line, never the password itself.
            command += ["--add-scram", _scram_record(self.security)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
            raise ServerStartError(
                f"formatting Kafka storage in {self.data_dir} failed ({detail[0]}); remove "
                "that directory (wirewatch stack down --purge) and retry"
            )

    def start(
        self, java: Java, classpath: Sequence[Path], cluster_id: str, timeout_s: float = 180.0
    ) -> int:
        """Start the node in the background and return its pid once it answers metadata."""
        self.write_config()
        self.format_storage(java, classpath, cluster_id)
        command = self._java_command(java, classpath, "kafka.Kafka")
        command.append(str(self.config_dir / "server.properties"))
        with (self.logs_dir / "stdout.log").open("ab") as out:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,  # survives the CLI; Ctrl-C in the shell spares it
            )
        self.pid_file.write(child.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if child.poll() is not None:
                self.pid_file.clear()
                raise ServerStartError(
                    f"Kafka exited with code {child.returncode} while starting; see "
                    f"{self.log_file} (last line: {self._last_log_line()})"
                )
            if metadata_ok(self.address, timeout_s=2.0, security=self.security):
                try:
                    self.provision()
                except (KafkaError, OSError, ServerStartError) as error:
                    self.stop()
                    raise ServerStartError(
                        f"Kafka started but its users and ACLs could not be created ({error});"
                        f" see {self.log_file}"
                    ) from error
                return child.pid
            time.sleep(0.5)
        self.stop()
        raise ServerStartError(
            f"Kafka did not answer on {self.address} within {timeout_s:.0f}s; see {self.log_file}"
        )

    def provision(self, timeout_s: float = 60.0) -> None:
        """Create (or update) each user's SCRAM credential and add exactly its ACLs.

        Both are idempotent: an ACL that exists already is not added twice.
        """
        if self.security is None:
            return
        passwords, acls = self.security.users, self.security.acls
        timeout_ms = int(timeout_s * 1000)
        with _quiet_kafka_client():
            admin = KafkaAdminClient(
                bootstrap_servers=self.address,
                client_id="wirewatch-stack-provision",
                request_timeout_ms=timeout_ms,
                **self.security.client_options(),
            )
            try:
                upserts = [
                    UserScramCredentialUpsertion(
                        user, SCRAM_MECHANISM, password, iterations=SCRAM_ITERATIONS
                    )
                    for user, password in passwords.items()
                ]
                failed = {
                    user: error
                    for user, error in admin.alter_user_scram_credentials(upserts).items()
                    if error
                }
                if failed:
                    raise ServerStartError(f"creating Kafka users failed: {failed}")
                wanted = [_acl(user, *entry) for user, entries in acls.items() for entry in entries]
                created = admin.create_acls([acl for group in wanted for acl in group])
                if created.get("failed"):
                    raise ServerStartError(f"creating Kafka ACLs failed: {created['failed']}")
            finally:
                admin.close()

    def _last_log_line(self) -> str:
        for path in (self.logs_dir / "stdout.log", self.log_file):
            lines = process.tail(path, 1)
            if lines:
                return lines
        return "none"

    def stop(self, timeout_s: float = 30.0, kill: bool = False) -> bool:
        """Stop the node if it runs; clear its pid file either way. True if it was running.

        ``kill`` sends SIGKILL at once: a crash, not a shutdown (for fault tests).
        """
        pid = self.running_pid()
        if pid is not None:
            process.stop(pid, 0.0 if kill else timeout_s)
        self.pid_file.clear()
        return pid is not None


_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_PATTERN = {"literal": ACLResourcePatternType.LITERAL, "prefix": ACLResourcePatternType.PREFIXED}


def _acl(user: str, resource: str, name: str, pattern: str, operations: Sequence[str]) -> list[ACL]:
    if resource == "cluster":
        target = ResourcePattern(ResourceType.CLUSTER, "kafka-cluster")
    else:
        target = ResourcePattern(_RESOURCE[resource], name, _PATTERN[pattern])
    return [
        ACL(
            f"User:{user}",
            "*",
            _OPERATION[op],
            ACLPermissionType.ALLOW,
            target,
        )
        for op in operations
    ]


_OPERATION = {
    "Read": ACLOperation.READ,
    "Write": ACLOperation.WRITE,
    "Create": ACLOperation.CREATE,
    "Describe": ACLOperation.DESCRIBE,
    "DescribeConfigs": ACLOperation.DESCRIBE_CONFIGS,
}


def _scram_record(security: KafkaSecurity) -> str:
    """``kafka-storage format --add-scram`` value: salt and salted password, base64."""
    salt = secrets.token_bytes(24)
    salted = hashlib.pbkdf2_hmac("sha512", security.admin_password.encode(), salt, SCRAM_ITERATIONS)
    return (
        f"{SCRAM_MECHANISM}=[name={security.admin_user},"
        f'salt="{base64.b64encode(salt).decode()}",'
        f'saltedpassword="{base64.b64encode(salted).decode()}",'
        f"iterations={SCRAM_ITERATIONS}]"
    )
