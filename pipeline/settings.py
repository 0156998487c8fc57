"""Typed settings, one environment variable per setting (prefix ``WIREWATCH_``).

Secrets are ``SecretStr``: they print as ``**********`` in logs, reprs and ``--help``.
With neither ``WIREWATCH_KAFKA_BOOTSTRAP`` nor ``WIREWATCH_ES_URL`` set, the product runs
on its embedded default: the local Kafka broker and Elasticsearch node it manages itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Bounded types: a typo or a nonsense number in a manifest is refused at start, naming the
# setting (pipeline.cli turns the ValidationError into one line), instead of failing later.
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]
# A JVM heap size as -Xmx takes it: digits and a unit (k, m, g), e.g. 512m.
Heap = Annotated[str, Field(pattern=r"^[1-9][0-9]*[kKmMgG]$")]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _default_home() -> Path:
    return Path.home() / ".wirewatch"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "wirewatch"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIREWATCH_", extra="ignore")

    # Where the managed stack keeps its artifacts, data and logs, and the poller its state.
    home: Path = Field(default_factory=_default_home)

    # Managed local stack (`wirewatch stack up`): state under <home>/stack, pinned server
    # artifacts from a Maven repository into a cache shared by every stack and test run.
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    maven_url: str = Field(default="https://repo1.maven.org/maven2", pattern=r"^https?://")
    stack_kafka_port: Port = 9092
    stack_kafka_controller_port: Port = 9093
    stack_es_port: Port = 9200
    stack_kafka_heap: Heap = "512m"
    stack_es_heap: Heap = "512m"
    es_java_home: Path | None = None  # a full JDK 21+; unset: ES_JAVA_HOME or auto-detected
    # `wirewatch run` serves the bundled sample feeds on this loopback port (any free one if
    # it is taken); a fixed port keeps the sample URLs, so the article ids, stable.
    demo_port: Port = 8765

    # Kafka. Unset bootstrap means "use the managed local broker".
    kafka_bootstrap: str | None = None
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None  # SCRAM-SHA-512 in production
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    # How long a Kafka client waits for its first metadata answer (kafka-python's bootstrap,
    # 30 s by default) before it gives up: a command against a wrong or closed address says
    # so within this time instead of half a minute later.
    kafka_connect_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    # Prepended to every topic name (pipeline.topics.qualified); tests use it to isolate runs.
    topic_prefix: str = ""

    # Elasticsearch. Unset URL means "use the managed local node".
    es_url: str | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_api_key: SecretStr | None = None
    es_ca_certs: Path | None = None
    index_alias: str = "wirewatch-articles"
    alerts_index: str = "wirewatch-alerts"
    stories_index: str = "wirewatch-stories"  # one document per story cluster
    events_index: str = "wirewatch-events"  # one document per event (issue 15)
    claims_index: str = "wirewatch-claims"  # one document per tracked claim (issue 16)
    # Bulk sink: bounded batches; transient failures (429/5xx/connection) are retried with
    # exponential backoff until es_retry_timeout_s, then the sink raises so nothing is acked.
    es_bulk_max_docs: Count = 500
    es_bulk_max_bytes: Annotated[int, Field(ge=1024)] = 5 * 1024 * 1024
    es_retry_timeout_s: Seconds = 600.0
    es_request_timeout_s: Seconds = 30.0

    # Fetching. Private, loopback and link-local addresses are refused unless listed here
    # as CIDR networks (e.g. "127.0.0.0/8,::1/128" for the local demo and tests).
    fetch_allow_networks: str = ""
    fetch_max_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    fetch_timeout_s: Seconds = 20.0
    fetch_max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    user_agent: str = "Wirewatch/0.1 (+https://github.com/wirewatch/wirewatch)"
    fetch_pages: bool = True  # fetch each new item's page; off: keep the feed's summary
    respect_robots: bool = True
    # Parsing and extraction run in worker processes killed past the timeout
    # (pipeline.sandbox): a crafted page cannot hold the poller. A page's decoded HTML is
    # cut to extract_max_bytes characters before extraction; each worker's data segment
    # is capped at extract_memory_mib.
    extract_timeout_s: Seconds = 10.0
    extract_max_bytes: Annotated[int, Field(ge=1024)] = 2 * 1024 * 1024
    extract_workers: Annotated[int, Field(ge=1, le=32)] = 2
    extract_memory_mib: Annotated[int, Field(ge=128)] = 256

    # Poller. Replicas split the feeds by a stable hash of the URL (pipeline.poll.state.owns);
    # an unset ordinal is taken from a StatefulSet pod name ("wirewatch-poller-2" -> 2).
    feeds_file: Path | None = None  # unset: <home>/feeds.yaml
    poller_replicas: Count = 1
    poller_ordinal: Annotated[int, Field(ge=0)] | None = None
    poller_port: Port = 9100  # /healthz, /readyz, /metrics
    # Address the poller's and the worker's health/metrics endpoints listen on: loopback
    # unless opened on purpose (the Kubernetes manifests set 0.0.0.0 for probes and scrapes).
    health_bind_host: str = "127.0.0.1"
    poll_concurrency: Count = 64
    poll_per_host_concurrency: Count = 2
    poll_per_host_spacing_s: Annotated[float, Field(ge=0)] = 1.0
    poll_min_interval_s: Seconds = 300.0
    poll_max_interval_s: Seconds = 6 * 3600.0

    # Actor registry (YAML: canonical name, aliases, type, wikidata); unset means the
    # bundled pipeline/data/actors.yaml.
    actors_file: Path | None = None

    # Faust worker.
    worker_web_port: Port = 6066  # /healthz, /readyz, /metrics
    # changelog and repartition topics; 3 in production
    worker_replication_factor: Annotated[int, Field(ge=1, le=7)] = 1
    # After SIGTERM/Ctrl-C the worker exits by this deadline even if its shutdown hangs
    # (with Kafka known down it exits about 1 s in); uncommitted records are redelivered
    # to the next worker. 8 s: gone within 10 s of SIGTERM (issue 11 item 8).
    worker_stop_grace_s: Seconds = 8.0
    # Stages this worker runs (pipeline.worker.app.STAGE_MODULES); a deployment may split
    # them, e.g. alerting apart from the CPU-heavy enrichment.
    worker_stages: str = "dedup,enrich,events,alert,index,claims"
    # Restart after a crash (issue 11.7): the group coordinator drops a dead member after
    # this long (heartbeats every tenth of it); Kafka's minimum is 6 s.
    worker_session_timeout_s: float = Field(default=10.0, ge=6.0, le=300.0)
    # Static group membership: a restarted worker with the same id takes its partitions
    # back without a rebalance. Empty: "<host name>-<web port>", stable for one machine;
    # give each pod its own stable name in Kubernetes (a StatefulSet's pod name).
    worker_instance_id: str = ""
    # Dedup (pipeline.dedup; the reasons for these defaults are in docs/decisions.md).
    # estimated Jaccard of 3-word shingles for a near-duplicate
    dedup_threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    dedup_shingle_words: Annotated[int, Field(ge=1, le=10)] = 3
    dedup_num_perm: Annotated[int, Field(ge=16, le=1024)] = 128
    dedup_min_words: Count = 25  # shorter bodies only get the exact URL/content layers
    dedup_window_hours: Seconds = 72.0  # articles older than this leave the dedup state
    dedup_max_entries: Count = 200_000  # and the oldest go first beyond this many
    # Events (pipeline.events, issue 15; reasons in docs/decisions.md): TF-IDF cosine of a
    # story to an event's centroid to join it; an event takes stories within the window of
    # its last one and is forgotten after it; the oldest go first beyond max events.
    events_threshold: Annotated[float, Field(gt=0, le=1)] = 0.3
    events_window_hours: Seconds = 72.0
    events_max_events: Count = 100_000
    # Enrichment: batches go to spaCy in child processes so the event loop stays free.
    enrich_batch_size: Count = 16
    # per worker; 0 runs spaCy in a thread of the worker itself
    enrich_processes: Annotated[int, Field(ge=0, le=64)] = 1
    batch_within_s: Seconds = 0.5  # flush a partial enrich/index batch after this long
    # Alerts: webhook deliveries retry transient failures this many times, then dead-letter.
    alert_webhook_attempts: Count = 5
    alert_webhook_timeout_s: Seconds = 10.0
    alert_webhook_concurrency: Annotated[int, Field(ge=1, le=256)] = 16  # in-flight posts
    # The once-per-cluster alert state forgets a story this long after its last copy,
    # like the dedup window, and the oldest go first beyond max entries per partition.
    alert_state_window_hours: float = Field(default=72.0, gt=0.0, le=24.0 * 365)
    alert_state_max_entries: int = Field(default=200_000, ge=1, le=10_000_000)
    # Claim tracking (issue 16): the worker's claims stage holds at most this many claims
    # (the least recently seen go first) and forgets a claim not seen again within the
    # window (stream time: the newest statement's publication time).
    claims_max_entries: int = Field(default=200_000, ge=1, le=10_000_000)
    claims_window_days: float = Field(default=30.0, gt=0.0, le=3650.0)
    # Webhooks go through the fetcher's address guard: private, loopback and link-local
    # receivers are refused unless their network is listed here (CIDR, comma-separated).
    webhook_allow_networks: str = ""

    # Kibana, only for `wirewatch kibana import` (the pipeline itself never calls it).
    kibana_url: str | None = None
    kibana_username: str | None = None
    kibana_password: SecretStr | None = None
    kibana_api_key: SecretStr | None = None
    kibana_ca_certs: Path | None = None

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    @property
    def embedded(self) -> bool:
        """True when no external servers are configured: the product manages its own."""
        return not self.kafka_bootstrap and not self.es_url


def invalid_settings_line(error: ValidationError) -> str:
    """One line naming each refused variable and what it must be; secrets are not echoed."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"][:1])
        variable = f"WIREWATCH_{name.upper()}"
        secret = any(word in name for word in ("password", "api_key", "secret"))
        given = "" if secret else f" (got {item.get('input')!r})"
        problems.append(f"{variable}: {item['msg']}{given}")
    return "invalid setting " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
