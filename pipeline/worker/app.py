"""``create_app(settings)``: the Faust app every worker process runs.

Kafka connection (SASL/SSL), topic prefix and web port come from Settings. A failing agent
crashes the whole process (``CrashingSupervisor``) so Kubernetes restarts it and Kafka
redelivers whatever was not committed, instead of a worker limping on with a dead stage.

Stages live in their own modules; each module in ``AGENT_MODULES`` exposes
``register(app, settings)`` and declares its topics, tables and agents there.
"""

from __future__ import annotations

import importlib
import socket
import ssl
from collections.abc import Sequence
from typing import Any

import faust
from mode import CrashingSupervisor
from prometheus_client import generate_latest

from pipeline.adapters.kafka import bootstrap_servers
from pipeline.settings import Settings, get_settings
from pipeline.worker import aiokafka_fixes, faust_fixes

#: stage name (``WIREWATCH_WORKER_STAGES``) -> module whose ``register(app, settings)``
#: declares that stage's topics, tables and agents.
STAGE_MODULES: dict[str, str] = {
    "dedup": "pipeline.worker.dedup_agent",
    "enrich": "pipeline.worker.enrich_agent",
    "events": "pipeline.worker.events_agent",
    "alert": "pipeline.worker.alert_agent",
    "index": "pipeline.worker.index_agent",
    "claims": "pipeline.worker.claims_agent",
}
AGENT_MODULES: tuple[str, ...] = tuple(STAGE_MODULES.values())


def stage_modules(settings: Settings) -> list[str]:
    names = [n.strip() for n in settings.worker_stages.split(",") if n.strip()]
    unknown = sorted(set(names) - set(STAGE_MODULES))
    if unknown:
        raise ValueError(f"unknown worker stages {unknown}; known: {sorted(STAGE_MODULES)}")
    return [STAGE_MODULES[n] for n in names]


def app_id(settings: Settings) -> str:
    """Consumer group and changelog-topic prefix; the topic prefix keeps test runs apart."""
    return f"{settings.topic_prefix}wirewatch-worker"


def instance_id(settings: Settings) -> str:
    """This worker's static group membership id (``WIREWATCH_WORKER_INSTANCE_ID``)."""
    return settings.worker_instance_id or f"{socket.gethostname()}-{settings.worker_web_port}"


def broker_credentials(settings: Settings) -> faust.types.CredentialsT | None:
    protocol = settings.kafka_security_protocol.upper()
    context: ssl.SSLContext | None = None
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        context = ssl.create_default_context(cafile=cafile)
    if protocol.startswith("SASL"):
        password = settings.kafka_password.get_secret_value() if settings.kafka_password else None
        return faust.SASLCredentials(
            username=settings.kafka_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(
    settings: Settings | None = None, agent_modules: Sequence[str] | None = None
) -> faust.App:
    """The app with the agents of ``agent_modules`` (default: ``WIREWATCH_WORKER_STAGES``)."""
    settings = settings or get_settings()
    faust_fixes.install()
    aiokafka_fixes.install()
    if agent_modules is None:
        agent_modules = stage_modules(settings)
    ident = app_id(settings)
    datadir = settings.home / "worker" / ident
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        ident,
        broker=[f"kafka://{host.strip()}" for host in bootstrap_servers(settings).split(",")],
        broker_credentials=broker_credentials(settings),
        agent_supervisor=CrashingSupervisor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        # Restart within seconds after kill -9 (11.7): a restarted worker rejoins under its
        # static id and gets its partitions back at once, instead of waiting out the dead
        # member's session (60 s by default) and a rebalance; a member that does not come
        # back is dropped after the (shorter) session timeout.
        consumer_group_instance_id=instance_id(settings),
        broker_session_timeout=settings.worker_session_timeout_s,
        broker_heartbeat_interval=settings.worker_session_timeout_s / 10,
        producer_acks=-1,
        topic_replication_factor=settings.worker_replication_factor,
        topic_allow_declare=True,
        store="memory://",  # tables are rebuilt from their changelogs on start
        # Do not wait on stop for every record in flight to be acknowledged: an index
        # batch retrying a missing Elasticsearch or a webhook in backoff would hold
        # SIGTERM for minutes (11.8). What is not acknowledged is redelivered on start,
        # and every stage is idempotent for a redelivered record (ids, dedup replay).
        stream_wait_empty=False,
        datadir=str(datadir),
        web_enabled=True,
        web_port=settings.worker_web_port,
        web_bind=settings.health_bind_host,
    )
    for name in agent_modules:
        importlib.import_module(name).register(app, settings)
    add_routes(app)
    return app


def is_ready(app: faust.App) -> bool:
    """Started, not rebalancing, tables recovered: the worker is consuming."""
    return bool(app.started) and not app.rebalancing and not app.in_recovery


def add_routes(app: faust.App) -> None:
    @app.page("/healthz")
    async def healthz(view: faust.web.View, request: Any) -> Any:
        # Alive while the event loop answers; a crashed agent has already exited.
        return view.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(view: faust.web.View, request: Any) -> Any:
        if is_ready(app):
            return view.json({"status": "ready"})
        return view.json({"status": "not ready"}, status=503)

    @app.page("/metrics")
    async def metrics(view: faust.web.View, request: Any) -> Any:
        return view.bytes(generate_latest(), content_type="text/plain; version=0.0.4")
