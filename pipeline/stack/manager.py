"""The managed local stack: one Kafka node and one Elasticsearch node under one state dir.

State dir layout::

    stack.json          ports, Kafka cluster id and whether secured, for later commands
    stack.lock          serialises `up`/`down` on this state dir
    secrets/            secured stack only (0700): credentials.json, tls/ (CA, certificate)
    kafka/              config, data, logs, kafka.pid
    elasticsearch/      config, data, logs, tmp, elasticsearch.pid

Artifacts live in the shared cache (``Settings.cache_dir``), not here.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from pipeline.settings import Settings
from pipeline.stack import elasticsearch, process, security, tls
from pipeline.stack.artifacts import MAVEN_CENTRAL, ArtifactCache, ProgressFn, file_lock
from pipeline.stack.elasticsearch import ElasticsearchNode, EsSecurity
from pipeline.stack.errors import PortInUseError, StackError
from pipeline.stack.java import Java, find_elasticsearch_java, find_kafka_java
from pipeline.stack.kafka import SCRAM_MECHANISM, KafkaSecurity, KafkaServer, new_cluster_id
from pipeline.stack.pins import ELASTICSEARCH_ZIP, KAFKA_JARS, Artifact

log = logging.getLogger(__name__)

Notify = Callable[[str], None]

SERVERS = ("kafka", "elasticsearch")

# A server stopped a moment ago may hold its listening socket for a few more moments.
_RESTART_GRACE_S = 10.0


@dataclass(frozen=True)
class ServerStatus:
    name: str
    state: str  # "running", "stopped" or "crashed" (a pid file whose process is gone)
    address: str
    pid: int | None
    rss_bytes: int | None


@dataclass(frozen=True)
class _State:
    kafka_port: int
    kafka_controller_port: int
    es_port: int
    es_transport_port: int
    cluster_id: str
    secure: bool = False


class LocalStack:
    """Start, inspect and stop the local Kafka broker and Elasticsearch node.

    Ports left as None are taken from the previous run in ``state_dir`` if there was one,
    else chosen free at random (tests); the CLI passes its fixed defaults explicitly.
    ``secure`` likewise: None keeps what the state dir was made with (plain if new). A
    secured stack has a SASL_SSL broker with ACLs and an Elasticsearch node with TLS and
    file-realm users; ``service_settings()`` hands a client its service's credentials.
    """

    def __init__(
        self,
        state_dir: Path,
        kafka_port: int | None = None,
        es_port: int | None = None,
        *,
        kafka_controller_port: int | None = None,
        cache_dir: Path | None = None,
        maven_url: str = MAVEN_CENTRAL,
        es_java_home: Path | None = None,
        kafka_heap: str = "512m",
        es_heap: str = "512m",
        # locale -> directory of <locale>.aff/.dic, installed into the node's config:
        # handed over by the caller (the index templates own them; pipeline.cli.servers).
        hunspell: Mapping[str, Path] | None = None,
        secure: bool | None = None,
        progress: ProgressFn | None = None,
        notify: Notify | None = None,
    ):
        self.state_dir = state_dir
        self.cache = ArtifactCache(
            cache_dir if cache_dir is not None else Settings().cache_dir, maven_url
        )
        self.es_java_home = es_java_home
        self.progress = progress
        self.notify: Notify = notify or (lambda message: log.info("%s", message))
        stored = self._load_state()
        self._stored = stored
        self._state = _State(
            kafka_port=_pick(kafka_port, stored, "kafka_port"),
            kafka_controller_port=_pick(kafka_controller_port, stored, "kafka_controller_port"),
            es_port=_pick(es_port, stored, "es_port"),
            es_transport_port=_pick(None, stored, "es_transport_port"),
            cluster_id=str(stored.get("cluster_id") or new_cluster_id()),
            secure=bool(stored.get("secure", False)) if secure is None else secure,
        )
        self.credentials = security.Credentials(self.secrets_dir / "credentials.json")
        kafka_security, es_security = self._security() if self.secure else (None, None)
        self.kafka = KafkaServer(
            state_dir / "kafka",
            self._state.kafka_port,
            self._state.kafka_controller_port,
            heap=kafka_heap,
            security=kafka_security,
        )
        self.elasticsearch = ElasticsearchNode(
            state_dir / "elasticsearch",
            self._state.es_port,
            self._state.es_transport_port,
            heap=es_heap,
            hunspell=hunspell,
            security=es_security,
        )

    # --- endpoints -----------------------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.address

    @property
    def es_url(self) -> str:
        return self.elasticsearch.url

    # --- security (secured stack) ---------------------------------------------------------

    @property
    def secure(self) -> bool:
        return self._state.secure

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def ca_file(self) -> Path:
        """The CA clients verify both servers with (secured stack)."""
        return tls.TlsFiles(self.secrets_dir / "tls").ca_cert

    def service_settings(self, service: str) -> dict[str, Any]:
        """Settings fields that let ``service`` (security.SERVICES) log in; {} if plain.

        Passwords come as SecretStr, so they print as ``**********``.
        """
        if not self.secure:
            return {}
        identity = security.SERVICES[service]
        fields: dict[str, Any] = {}
        if identity.kafka_user is not None:
            fields |= {
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": SCRAM_MECHANISM,
                "kafka_username": identity.kafka_user,
                "kafka_password": SecretStr(self.credentials.kafka(identity.kafka_user)),
                "kafka_ssl_cafile": self.ca_file,
            }
        if identity.es_user is not None:
            fields |= {
                "es_username": identity.es_user,
                "es_password": SecretStr(self.credentials.es(identity.es_user)),
                "es_ca_certs": self.ca_file,
            }
        return fields

    def _security(self) -> tuple[KafkaSecurity, EsSecurity]:
        """Make (once) and read this stack's passwords and certificates."""
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        self.secrets_dir.chmod(0o700)
        self.credentials.ensure()
        files = tls.ensure_certificates(
            self.secrets_dir / "tls", self.credentials.keystore_password()
        )
        kafka_users = self.credentials.kafka_users()
        es_users = self.credentials.es_users()
        kafka_security = KafkaSecurity(
            admin_user=security.KAFKA_ADMIN,
            admin_password=kafka_users.pop(security.KAFKA_ADMIN),
            keystore=files.server_keystore,
            keystore_password=self.credentials.keystore_password(),
            ca_file=files.ca_cert,
            controller_principal=tls.SERVER_SUBJECT,
            users=kafka_users,
            acls=security.KAFKA_ACLS,
        )
        es_security = EsSecurity(
            admin_user=security.ES_ADMIN,
            admin_password=es_users.pop(security.ES_ADMIN),
            ca_cert=files.ca_cert,
            cert=files.server_cert,
            key=files.server_key,
            users={user: (es_users[user], role) for user, role in security.ES_USERS.items()},
            roles=security.ES_ROLES,
        )
        return kafka_security, es_security

    # --- whole stack ---------------------------------------------------------------------

    def up(self) -> None:
        """Start whatever is not running and return once both servers are healthy.

        Running twice is harmless. On any failure, servers this call started are stopped
        again and the StackError propagates.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(self.state_dir / "stack.lock"):
            self._clear_stale()
            kafka_needed = self.kafka.running_pid() is None
            es_needed = self.elasticsearch.running_pid() is None
            self.check_same_security()
            if not kafka_needed:
                self._check_same_port("Kafka", "kafka_port", self.kafka.port)
            if not es_needed:
                self._check_same_port("Elasticsearch", "es_port", self.elasticsearch.port)
            if kafka_needed:
                self._check_kafka_ports()
            if es_needed:
                self._prepare_es_ports()
            if not (kafka_needed or es_needed):
                self.notify("local stack already running")
                return
            kafka_java = find_kafka_java() if kafka_needed else None
            es_java = find_elasticsearch_java(self.es_java_home) if es_needed else None
            wanted: list[Artifact] = []
            if kafka_needed:
                wanted.extend(KAFKA_JARS)
            if es_needed:
                wanted.append(ELASTICSEARCH_ZIP)
            self._fetch(wanted)
            self._save_state()
            self._start_concurrently(kafka_java, es_java)

    def down(self, purge: bool = False) -> list[str]:
        """Stop both servers (graceful, then forced) and clear pid files, stale ones too.

        Returns the names of the servers that were running. ``purge`` also deletes their
        data, config and logs (the artifact cache is kept).
        """
        if not self.state_dir.is_dir():
            return []
        with file_lock(self.state_dir / "stack.lock"):
            with ThreadPoolExecutor(max_workers=2) as pool:
                kafka = pool.submit(self.kafka.stop)
                es = pool.submit(self.elasticsearch.stop)
                stopped = [
                    name for name, f in (("kafka", kafka), ("elasticsearch", es)) if f.result()
                ]
            if purge:
                for server_dir in (
                    self.kafka.directory,
                    self.elasticsearch.directory,
                    self.secrets_dir,
                ):
                    shutil.rmtree(server_dir, ignore_errors=True)
                (self.state_dir / "stack.json").unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ServerStatus]:
        return [self._status_of(self.kafka), self._status_of(self.elasticsearch)]

    def is_running(self) -> bool:
        return all(s.state == "running" for s in self.status())

    # --- single servers, keeping ports and data (`stack stop|restart NAME`, fault tests) ---

    def server(self, name: str) -> KafkaServer | ElasticsearchNode:
        if name not in SERVERS:
            raise StackError(f"unknown server {name!r}; one of: {', '.join(SERVERS)}")
        return self.kafka if name == "kafka" else self.elasticsearch

    def stop_server(self, name: str) -> bool:
        """Stop one server (the other keeps running); True if it was running."""
        server = self.server(name)
        with file_lock(self.state_dir / "stack.lock"):
            return server.stop()

    def restart_server(self, name: str) -> bool:
        """Stop one server if it runs, start it again on the same port with the same data
        and wait until it is healthy; True if it was running before."""
        server = self.server(name)
        if not (self.state_dir / "stack.json").exists():
            raise StackError("the local stack was never started here: run `wirewatch stack up`")
        with file_lock(self.state_dir / "stack.lock"):
            was_running = server.stop()
            self.notify(f"starting {server.name} on {server.address}")
            if name == "kafka":
                self.start_kafka()
            else:
                self.start_elasticsearch()
        return was_running

    # (fault tests use these directly)

    def stop_kafka(self, kill: bool = False) -> None:
        """Stop the broker (``kill``: SIGKILL, a crash); start_kafka() brings it back."""
        self.kafka.stop(kill=kill)

    def start_kafka(self) -> None:
        if self.kafka.running_pid() is not None:
            return
        self._check_kafka_ports(grace_s=_RESTART_GRACE_S)
        java = find_kafka_java()
        classpath = self._fetch(KAFKA_JARS)
        self.kafka.start(java, classpath, self._state.cluster_id)

    def stop_elasticsearch(self, kill: bool = False) -> None:
        """Stop the node (``kill``: SIGKILL, a crash); start_elasticsearch() restarts it."""
        self.elasticsearch.stop(kill=kill)

    def start_elasticsearch(self) -> None:
        if self.elasticsearch.running_pid() is not None:
            return
        self._prepare_es_ports(grace_s=_RESTART_GRACE_S)
        java = find_elasticsearch_java(self.es_java_home)
        home = self._es_home()
        self.elasticsearch.start(home, java)

    # --- internals -----------------------------------------------------------------------

    def _start_concurrently(self, kafka_java: Java | None, es_java: Java | None) -> None:
        """Start the servers given a Java, in parallel; on any failure stop them all."""
        futures: list[tuple[KafkaServer | ElasticsearchNode, Future[Any]]] = []
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                if kafka_java is not None:
                    self.notify(f"starting Kafka on {self.kafka.address}")
                    classpath = [self.cache.path_for(a) for a in KAFKA_JARS]
                    start = partial(self.kafka.start, kafka_java, classpath, self._state.cluster_id)
                    futures.append((self.kafka, pool.submit(start)))
                if es_java is not None:
                    self.notify(f"starting Elasticsearch on {self.elasticsearch.url}")
                    start = partial(self.elasticsearch.start, self._es_home(), es_java)
                    futures.append((self.elasticsearch, pool.submit(start)))
                # Wait for both before cleaning up, so neither is left half-started.
                errors = [future.exception() for _, future in futures]
            failure = next((error for error in errors if error is not None), None)
            if failure is not None:
                raise failure
        except BaseException:
            for server, _ in futures:
                server.stop()
            raise

    def _es_home(self) -> Path:
        return elasticsearch.install(self.cache.path_for(ELASTICSEARCH_ZIP), self.cache.root)

    def _fetch(self, artifacts: Sequence[Artifact]) -> list[Path]:
        missing = self.cache.missing(artifacts)
        if missing:
            mib = sum(a.size for a in missing) / 2**20
            self.notify(
                f"downloading {len(missing)} pinned artifact(s), {mib:.0f} MiB, "
                f"from {self.cache.base_url}"
            )
        return self.cache.fetch(artifacts, progress=self.progress)

    def _check_kafka_ports(self, grace_s: float = 0.0) -> None:
        self._check_port(self.kafka.port, "Kafka", "kafka-port", grace_s)
        controller = self.kafka.controller_port
        self._check_port(controller, "the Kafka controller", "kafka-controller-port", grace_s)

    def _check_port(self, port: int, server: str, option: str, grace_s: float = 0.0) -> None:
        deadline = time.monotonic() + grace_s
        while not process.port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not process.port_is_free(port):
            setting = "WIREWATCH_STACK_" + option.upper().replace("-", "_")
            raise PortInUseError(
                f"port {port} needed by {server} is already in use by another process: "
                f"stop that process or pick another port (--{option} or {setting})"
            )

    def check_same_security(self) -> None:
        """A state dir keeps the security it was made with: the broker's storage holds
        its users (formatted once), and clients of a running stack rely on it."""
        if not (self.state_dir / "stack.json").exists():
            return
        made_secure = bool(self._stored.get("secure", False))
        if made_secure != self.secure:
            made, asked = ("secured", "plain") if made_secure else ("plain", "secured")
            raise StackError(
                f"the local stack in {self.state_dir} was made {made}, not {asked}: run "
                "`wirewatch stack down --purge` first to make it anew"
            )

    def _check_same_port(self, server: str, key: str, wanted: int) -> None:
        running = self._stored.get(key)
        if isinstance(running, int) and running != wanted:
            raise StackError(
                f"{server} already runs on 127.0.0.1:{running}, not {wanted}: run "
                "`wirewatch stack down` first to move it"
            )

    def _prepare_es_ports(self, grace_s: float = 0.0) -> None:
        self._check_port(self.elasticsearch.port, "Elasticsearch", "es-port", grace_s)
        # The transport port is internal: if another process took it, pick a new one.
        if not process.port_is_free(self.elasticsearch.transport_port):
            port = process.free_port()
            self.elasticsearch.transport_port = port
            self._state = replace(self._state, es_transport_port=port)
            self._save_state()

    def _clear_stale(self) -> None:
        for server in (self.kafka, self.elasticsearch):
            if server.pid_file.is_stale():
                # Only a server that ended without `stack down`/`stack stop` (crash, kill)
                # leaves its pid file: say that, not a file-system detail.
                self.notify(
                    f"{server.name} had exited without `wirewatch stack down`"
                    f" (pid {server.pid_file.read()} is gone); starting it again"
                )
                server.pid_file.clear()

    def _status_of(self, server: KafkaServer | ElasticsearchNode) -> ServerStatus:
        pid = server.running_pid()
        if pid is not None:
            state = "running"
        elif server.pid_file.is_stale():
            state = "crashed"
        else:
            state = "stopped"
        return ServerStatus(
            name=server.name,
            state=state,
            address=server.address,
            pid=pid,
            rss_bytes=process.rss_bytes(pid) if pid is not None else None,
        )

    def _load_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.state_dir / "stack.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "stack.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._state.__dict__, indent=2) + "\n")
        tmp.replace(path)
        self._stored = dict(self._state.__dict__)


def _pick(explicit: int | None, stored: dict[str, Any], key: str) -> int:
    if explicit is not None:
        return explicit
    value = stored.get(key)
    return value if isinstance(value, int) else process.free_port()


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "kafka_port": settings.stack_kafka_port,
        "es_port": settings.stack_es_port,
        "kafka_controller_port": settings.stack_kafka_controller_port,
        "cache_dir": settings.cache_dir,
        "maven_url": settings.maven_url,
        "es_java_home": settings.es_java_home,
        "kafka_heap": settings.stack_kafka_heap,
        "es_heap": settings.stack_es_heap,
    }


def stack_for(settings: Settings, **overrides: Any) -> LocalStack:
    """The LocalStack that `wirewatch stack` manages for these settings."""
    return LocalStack(settings.stack_dir, **{**_options(settings), **overrides})


def scratch_stack(
    state_dir: Path, settings: Settings | None = None, **overrides: Any
) -> LocalStack:
    """A throwaway stack in ``state_dir`` on free loopback ports (tests, benchmarks).

    Artifacts still come from the shared cache, so only the first one ever downloads.
    """
    free = {
        "kafka_port": process.free_port(),
        "es_port": process.free_port(),
        "kafka_controller_port": process.free_port(),
    }
    options = {**_options(settings or Settings()), **free, **overrides}
    return LocalStack(state_dir, **options)


def local_stack(settings: Settings, **overrides: Any) -> LocalStack:
    """The managed stack as last started (its recorded ports), else as configured."""
    if (settings.stack_dir / "stack.json").exists():
        # None means "the port recorded in the state dir".
        recorded = dict.fromkeys(("kafka_port", "es_port", "kafka_controller_port"))
        return stack_for(settings, **{**recorded, **overrides})
    return stack_for(settings, **overrides)


def local_kafka_bootstrap(settings: Settings) -> str:
    """Bootstrap address of the managed local broker (whether or not it runs now)."""
    return local_stack(settings).kafka_bootstrap


def local_es_url(settings: Settings) -> str:
    """URL of the managed local Elasticsearch node (whether or not it runs now)."""
    return local_stack(settings).es_url


def ensure_stack(settings: Settings, **overrides: Any) -> LocalStack:
    """Start the managed stack unless it already runs; return it (for its endpoints).

    A stack already running is used on whatever ports it was started with; otherwise the
    configured ports (settings, then ``overrides``) apply.
    """
    running = local_stack(settings, **overrides)
    running.check_same_security()
    if running.is_running():
        return running
    if any(server.state == "running" for server in running.status()):
        # Half up (after `stack stop kafka`, or a crash): the stopped one comes back on the
        # ports recorded with the one still running, not on the configured defaults.
        running.up()
        return running
    stack = stack_for(settings, **overrides)
    stack.up()
    return stack
