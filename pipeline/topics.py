"""Every Kafka topic the pipeline uses: name, key, value schema, partitions, retention.

This is the one place topic facts live; the Faust app, the producers, the Kubernetes
KafkaTopic manifests and the tests all read it.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # what the message key is, for humans and manifests
    schema: str  # file name in schemas/ describing the value
    partitions: int = 4
    retention_ms: int = 7 * DAY_MS
    compacted: bool = False


ARTICLES_RAW = Topic(
    name="wirewatch.articles.raw",
    key="article id (sha1 of the normalised URL)",
    schema="article.schema.json",
    # One partition: every copy of a story must meet the same dedup state, whatever its
    # key. Dedup costs ~1 ms per article; the heavy stage scales on the deduped topic.
    partitions=1,
)
ARTICLES_DEDUPED = Topic(
    name="wirewatch.articles.deduped",
    key="article id",
    schema="deduped-article.schema.json",
    partitions=8,  # enrichment (spaCy) parallelism: up to this many worker processes
)
ARTICLES_ANNOTATED = Topic(
    name="wirewatch.articles.annotated",
    key="article id",
    schema="enriched-article.schema.json",
    # One partition: every story must meet the same event state, as every copy meets the
    # same dedup state on the raw topic. The events stage costs ~1 ms per article.
    partitions=1,
)
ARTICLES_ENRICHED = Topic(
    name="wirewatch.articles.enriched",
    key="article id",
    schema="enriched-article.schema.json",
)
ALERTS = Topic(
    name="wirewatch.alerts",
    key="alert id (rule id + story cluster id)",
    schema="alert.schema.json",
    retention_ms=30 * DAY_MS,
)
ALERT_MATCHES = Topic(
    # internal: evaluation re-keyed by alert id, so every copy of a story meets the same
    # once-per-cluster state (a Faust table partition) whatever its article id
    name="wirewatch.alert-matches",
    key="alert id (rule id + story cluster id)",
    schema="alert.schema.json",
    retention_ms=1 * DAY_MS,
)
ALERT_RULES = Topic(
    name="wirewatch.alert-rules",
    key="rule id; a null value deletes the rule",
    schema="alert-rule.schema.json",
    partitions=1,
    compacted=True,
)
DEAD_LETTER = Topic(
    name="wirewatch.dead-letter",
    key="original key",
    schema="dead-letter.schema.json",
    partitions=1,
    retention_ms=30 * DAY_MS,
)

CLAIM_STATEMENTS = Topic(
    # internal: every article's claims with a speaker on one partition, so one claim
    # tracker (a Faust table on that partition) sees them all: claims link across articles
    # of every partition and across speakers (disputes)
    name="wirewatch.claim-statements",
    key="'claims' (one partition, one tracker)",
    schema="claim-statements.schema.json",
    partitions=1,
    retention_ms=1 * DAY_MS,
)
CLAIM_CHANGES = Topic(
    # a new link between two tracked claims (a changed figure, a dispute), for the
    # claim:changed / claim:disputed alert rules; keyed by pair so each pair is one key
    name="wirewatch.claim-changes",
    key="pair key (kind + the two claim ids)",
    schema="claim-link.schema.json",
    retention_ms=7 * DAY_MS,
)

ALL_TOPICS: tuple[Topic, ...] = (
    ARTICLES_RAW,
    ARTICLES_DEDUPED,
    ARTICLES_ANNOTATED,
    ARTICLES_ENRICHED,
    ALERTS,
    ALERT_MATCHES,
    ALERT_RULES,
    DEAD_LETTER,
    CLAIM_STATEMENTS,
    CLAIM_CHANGES,
)


def qualified(topic: Topic, prefix: str) -> str:
    """The topic's name on the broker: ``WIREWATCH_TOPIC_PREFIX`` + name."""
    return f"{prefix}{topic.name}"


def by_name(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"unknown topic {name!r}")
