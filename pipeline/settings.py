"""Typed settings, one environment variable per setting (prefix ``WIREWATCH_``).

Secrets are ``SecretStr``: they print as ``**********`` in logs, reprs and ``--help``.
With neither ``WIREWATCH_KAFKA_BOOTSTRAP`` nor ``WIREWATCH_ES_URL`` set, the product runs
on its embedded default: the local Kafka broker and Elasticsearch node it manages itself.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    maven_url: str = "https://repo1.maven.org/maven2"
    stack_kafka_port: int = 9092
    stack_kafka_controller_port: int = 9093
    stack_es_port: int = 9200
    stack_kafka_heap: str = "512m"
    stack_es_heap: str = "512m"
    es_java_home: Path | None = None  # a full JDK 21+; unset: ES_JAVA_HOME or auto-detected

    # Kafka. Unset bootstrap means "use the managed local broker".
    kafka_bootstrap: str | None = None
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_SSL | SASL_PLAINTEXT
    kafka_sasl_mechanism: str | None = None  # SCRAM-SHA-512 in production
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
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
    claims_index: str = "wirewatch-claims"  # one document per tracked claim (issue 16)
    # Bulk sink: bounded batches; transient failures (429/5xx/connection) are retried with
    # exponential backoff until es_retry_timeout_s, then the sink raises so nothing is acked.
    es_bulk_max_docs: int = 500
    es_bulk_max_bytes: int = 5 * 1024 * 1024
    es_retry_timeout_s: float = 600.0
    es_request_timeout_s: float = 30.0

    # Fetching. Private, loopback and link-local addresses are refused unless listed here
    # as CIDR networks (e.g. "127.0.0.0/8,::1/128" for the local demo and tests).
    fetch_allow_networks: str = ""
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_timeout_s: float = 20.0
    fetch_max_redirects: int = 5
    user_agent: str = "Wirewatch/0.1 (+https://github.com/wirewatch/wirewatch)"
    fetch_pages: bool = True  # fetch each new item's page; off: keep the feed's summary
    respect_robots: bool = True

    # Poller. Replicas split the feeds by a stable hash of the URL (pipeline.poll.state.owns);
    # an unset ordinal is taken from a StatefulSet pod name ("wirewatch-poller-2" -> 2).
    feeds_file: Path | None = None  # unset: <home>/feeds.yaml
    poller_replicas: int = 1
    poller_ordinal: int | None = None
    poller_port: int = 9100  # /healthz, /readyz, /metrics
    # Address the poller's and the worker's health/metrics endpoints listen on: loopback
    # unless opened on purpose (the Kubernetes manifests set 0.0.0.0 for probes and scrapes).
    health_bind_host: str = "127.0.0.1"
    poll_concurrency: int = 64
    poll_per_host_concurrency: int = 2
    poll_per_host_spacing_s: float = 1.0
    poll_min_interval_s: float = 300.0
    poll_max_interval_s: float = 6 * 3600.0

    # Actor registry (YAML: canonical name, aliases, type, wikidata); unset means the
    # bundled pipeline/data/actors.yaml.
    actors_file: Path | None = None

    # Faust worker.
    worker_web_port: int = 6066  # /healthz, /readyz, /metrics
    worker_replication_factor: int = 1  # changelog and repartition topics; 3 in production
    # After SIGTERM/Ctrl-C the worker exits by this deadline even if its shutdown hangs
    # (broker gone); uncommitted records are redelivered to the next worker.
    worker_stop_grace_s: float = 10.0
    # Stages this worker runs (pipeline.worker.app.STAGE_MODULES); a deployment may split
    # them, e.g. alerting apart from the CPU-heavy enrichment.
    worker_stages: str = "dedup,enrich,alert,index"
    # Dedup (pipeline.dedup; the reasons for these defaults are in docs/decisions.md).
    dedup_threshold: float = 0.5  # estimated Jaccard of 3-word shingles for a near-duplicate
    dedup_shingle_words: int = 3
    dedup_num_perm: int = 128
    dedup_min_words: int = 25  # shorter bodies only get the exact URL/content layers
    dedup_window_hours: float = 72.0  # articles older than this leave the dedup state
    dedup_max_entries: int = 200_000  # and the oldest go first beyond this many
    # Enrichment: batches go to spaCy in child processes so the event loop stays free.
    enrich_batch_size: int = 16
    enrich_processes: int = 1  # per worker; 0 runs spaCy in a thread of the worker itself
    batch_within_s: float = 0.5  # flush a partial enrich/index batch after this long
    # Alerts: webhook deliveries retry transient failures this many times, then dead-letter.
    alert_webhook_attempts: int = 5
    alert_webhook_timeout_s: float = 10.0
    alert_webhook_concurrency: int = 16  # in-flight webhook posts per worker
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
