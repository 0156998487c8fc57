"""Records crossing stage boundaries, one class per Kafka topic value.

Each is a frozen pydantic model that forbids unknown fields; ``schemas/`` holds the JSON
Schema exported from it (``wirewatch schemas export``) and a test keeps the two equal.
Bump ``SCHEMA_VERSION`` on any change a consumer could notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str):  # -> Self
        return cls.model_validate_json(data)


# --- poll -> fetch/extract -> Kafka: wirewatch.articles.raw -------------------------------


class Article(Record):
    """One article as polled from a feed and fetched from its page."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(description="sha1 hex of the normalised URL; the Kafka key and ES _id")
    url: str = Field(description="the link as the feed gave it")
    normalized_url: str
    canonical_url: str | None = Field(None, description="<link rel=canonical> of the page")
    feed_url: str
    feed_name: str | None = None
    outlet: str | None = Field(
        None, description="the feed's name in the registry, else the page's site name"
    )
    site_name: str | None = Field(
        None, description="the site name the page declares (og:site_name), when it has one"
    )
    domain: str = Field(description="registered host of the normalised URL, lower case")
    title: str
    summary: str | None = Field(None, description="the feed's own summary, HTML stripped")
    text: str = Field(description="main text: from the page, or the feed summary as fallback")
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    fetched_at: datetime = Field(default_factory=utcnow)
    language: str | None = None
    tags: list[str] = Field(default_factory=list, description="tags of the feed it came from")
    text_source: Literal["page", "feed"] = Field(
        "page", description="'feed' when the page could not be fetched or extracted"
    )
    text_note: str | None = Field(None, description="why the page text was not used")


# --- dedup -> wirewatch.articles.deduped ----------------------------------------------------


class StoryRef(Record):
    """Where an article sits in its story cluster (the same story from many outlets)."""

    cluster_id: str = Field(
        description="stable id of the story cluster (its first-seen copy's id; never changes)"
    )
    canonical_id: str = Field(
        description="article id of the story's canonical copy: the earliest published, then"
        " the lowest id; moves when an earlier copy arrives later"
    )
    match: Literal["new", "url", "content", "near"] = Field(
        description="how it joined: first of its story, same URL, same body, near-duplicate"
    )
    similarity: float | None = Field(None, description="estimated Jaccard for 'near'")
    size: int = Field(1, description="copies in the cluster when this one was seen")
    outlets: list[str] = Field(default_factory=list, description="outlets seen so far")


class DedupedArticle(Record):
    article: Article
    story: StoryRef


# --- enrich -> wirewatch.articles.annotated -events-> wirewatch.articles.enriched -----------


class Span(Record):
    start: int
    end: int
    text: str


class Quantity(Record):
    start: int
    end: int
    text: str
    value: float | None = None
    unit: str | None = Field(None, description="'percent', 'km', a currency code, ...")
    about: str | None = Field(
        None,
        description="canonical actor the quantity belongs to: one named in its phrase, "
        "else its clause's subject",
    )


class Entity(Record):
    start: int
    end: int
    text: str
    label: str = Field(description="spaCy label: PERSON, ORG, GPE, LOC, NORP, ...")
    canonical: str = Field(description="canonical actor name this mention resolves to")


class Actor(Record):
    """One canonical actor in an article, with its mention count."""

    canonical: str
    type: str
    mentions: int
    wikidata: str | None = None


class Claim(Record):
    source: Span | None = Field(None, description="who, as written: 'Gerasimov', 'he'")
    cue: Span | None = Field(None, description="'said', 'claimed', 'according to'")
    content: Span = Field(description="what was said; covers all of content_parts")
    content_parts: list[Span] = Field(
        default_factory=list,
        description="the pieces of a discontinuous content (a quotation resumed after "
        "'he said'), empty when content is one piece",
    )
    speaker: str | None = Field(None, description="canonical actor the source resolves to")
    kind: Literal["direct", "indirect", "mixed"]
    quantities: list[Quantity] = Field(default_factory=list)
    terms: list[str] = Field(
        default_factory=list,
        description="content words of the content: lemmas, actors as canonical names, lower "
        "case; what claim tracking matches outlets' wordings by",
    )
    negated: bool = Field(
        False, description="the speaker says the content is not so ('denied that ...')"
    )


class EventRef(Record):
    """The event (independently written stories of one happening) an article belongs to,
    as the events stage knew it when the article arrived."""

    event_id: str = Field(description="stable id of the event: its first article's id")
    match: Literal["new", "joined", "story", "replay"] = Field(
        description="first of its event, joined by similarity, inherited from its story, "
        "or a redelivered article"
    )
    similarity: float | None = Field(None, description="cosine to the event joined ('joined')")
    revision: int = Field(
        1, description="articles in the event when this one was seen; the events index version"
    )
    title: str = Field(description="title of the event's first article")
    first_seen: datetime
    last_seen: datetime
    stories: int = Field(1, description="story clusters in the event")
    articles: int = Field(1, description="articles (copies included) in the event")
    outlets: list[str] = Field(default_factory=list, description="outlets, most articles first")
    top_actors: list[str] = Field(default_factory=list, description="actors, most mentions first")
    claims: int = Field(0, description="attributed claims in the event's stories")


class EnrichedArticle(Record):
    article: Article
    story: StoryRef
    entities: list[Entity] = Field(default_factory=list)
    actors: list[Actor] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    enriched_at: datetime = Field(default_factory=utcnow)
    enrichment_errors: list[str] = Field(
        default_factory=list, description="extractors that failed on this article, and why"
    )
    event: EventRef | None = Field(
        None, description="its event; set by the events stage, absent before it"
    )


# --- claims: wirewatch.claim-statements -> tracker -> wirewatch.claim-changes --------------


class ClaimStatements(Record):
    """An article's claims that have a speaker, re-keyed onto the one-partition statements
    topic so every claim meets the one claim tracker (issue 16); only what tracking reads."""

    schema_version: int = SCHEMA_VERSION
    article_id: str
    cluster_id: str = Field(description="the article's story cluster (copies share it)")
    outlet: str | None = None
    url: str
    title: str
    seen_at: datetime = Field(description="the article's publication time, else fetch time")
    claims: list[Claim] = Field(description="the claims with a speaker, in text order")


class ClaimLink(Record):
    """A new link between two tracked claims: a changed figure or a dispute; what
    ``claim:changed`` / ``claim:disputed`` alert rules are evaluated against."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["changed", "disputed"]
    pair_key: str = Field(description="once-per-pair id: kind, the two claim ids")
    claim_id: str = Field(description="the later claim (the one just seen)")
    other_id: str = Field(description="the earlier claim it changes or disputes")
    speakers: list[str] = Field(description="the later claim's speaker, then the other's")
    contents: list[str] = Field(description="the two claims' first wordings, same order")
    unit: str | None = None
    value: float | None = Field(None, description="the later claim's figure")
    other_value: float | None = Field(None, description="the earlier claim's figure")
    reason: str | None = Field(None, description="disputes: 'value' or 'negation'")
    article_id: str = Field(description="the article whose statement made the link")
    cluster_id: str
    url: str
    title: str
    outlet: str | None = None
    seen_at: datetime


# --- alerting -------------------------------------------------------------------------------


class Delivery(Record):
    type: Literal["webhook", "slack"]
    url: str
    secret_env: str | None = Field(
        None, description="environment variable holding the HMAC secret (never the secret)"
    )


#: distinct stories (or events) a surge rule counts per window at most: its state is bounded
SURGE_MAX_UNITS = 1000


class SurgeSpec(Record):
    """A rate rule: fire when the distinct stories (or events) matching in one window reach
    ``factor`` times the mean per-window count of the ``baseline_windows`` before it, and at
    least ``min_stories``; again only after a window below half that level (docs/decisions.md,
    issue 15.4). Windows are aligned on the epoch and measured in event time."""

    factor: float = Field(gt=1.0, le=1000.0, description="3.0 for --surge 3x/1h")
    window_s: int = Field(ge=60, le=7 * 86400, description="3600 for --surge 3x/1h")
    min_stories: int = Field(1, ge=1, le=SURGE_MAX_UNITS)
    baseline_windows: int = Field(24, ge=1, le=168, description="windows the baseline spans")
    per: Literal["story", "event"] = Field(
        "story", description="count story clusters, or events (a story without one: itself)"
    )
    lateness_s: int = Field(
        600,
        ge=0,
        le=86400,
        description="how far behind the newest event time a match may arrive and still "
        "count; at most 6 windows",
    )

    @model_validator(mode="after")
    def _lateness_within_windows(self) -> SurgeSpec:
        if self.lateness_s > 6 * self.window_s:
            raise ValueError("lateness_s: at most 6 windows (it bounds the open windows)")
        return self


class SurgeWindow(Record):
    """What a surge alert reports about the window it fired in."""

    per: Literal["story", "event"]
    window_start: datetime
    window_end: datetime
    count: int = Field(description="distinct stories (or events) matching in the window so far")
    fired_with: int = Field(description="the count when it fired; count > fired_with: update")
    baseline: float = Field(description="mean per-window count over the trailing windows")
    threshold: float = Field(description="max(min_stories, factor * baseline)")
    units: list[str] = Field(default_factory=list, description="the first ids counted (<= 20)")


class AlertRule(Record):
    """An analyst's watch: a boolean query; value of the compacted wirewatch.alert-rules."""

    schema_version: int = SCHEMA_VERSION
    id: str
    name: str
    query: str = Field(description='boolean query: actor:"Vladimir Putin" AND (Kursk OR ceasefire)')
    languages: list[str] = Field(default_factory=list, description="empty: any language")
    outlets: list[str] = Field(default_factory=list, description="empty: any outlet")
    deliver: list[Delivery] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    surge: SurgeSpec | None = Field(
        None, description="watch the rate of the query instead of each match (issue 15.4)"
    )


class Alert(Record):
    """One alert per rule per story cluster; later copies update it instead of re-firing."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(
        description="rule id + ':' + cluster id; a surge: rule id + ':surge:' + window start"
    )
    rule_id: str
    rule_name: str
    cluster_id: str
    article_id: str
    title: str
    url: str
    outlet: str | None = None
    matched_terms: list[str] = Field(default_factory=list)
    copies: int = 1
    fired_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    event_id: str | None = Field(None, description="the article's event, when it has one")
    event_time: datetime | None = Field(
        None,
        description="surge candidates: the article's event time (published, else fetched, "
        "never after fetched); surge alerts: the event time at which it fired",
    )
    surge: SurgeWindow | None = Field(None, description="set on the alerts of surge rules")
    pair_key: str | None = Field(
        None,
        description="claim alerts (claim:changed / claim:disputed): the two claims linked; "
        "the alert id is rule id + ':' + pair key, so each pair fires once",
    )


# --- failures -------------------------------------------------------------------------------


class DeadLetter(Record):
    """A record a stage could not process, with the reason; value of wirewatch.dead-letter.

    The same facts travel as Kafka headers (stage, reason, time, original offset).
    """

    schema_version: int = SCHEMA_VERSION
    stage: str = Field(description="dedup, enrich, index, alert, poll, ...")
    reason: str
    error_type: str
    failed_at: datetime = Field(default_factory=utcnow)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str = Field(description="the original value, UTF-8 with replacement characters")


#: The value record of each topic, by topic name (see pipeline.topics).
TOPIC_RECORDS: dict[str, type[Record]] = {
    "wirewatch.articles.raw": Article,
    "wirewatch.articles.deduped": DedupedArticle,
    "wirewatch.articles.annotated": EnrichedArticle,
    "wirewatch.articles.enriched": EnrichedArticle,
    "wirewatch.alerts": Alert,
    "wirewatch.alert-matches": Alert,
    "wirewatch.alert-rules": AlertRule,
    "wirewatch.dead-letter": DeadLetter,
    "wirewatch.claim-statements": ClaimStatements,
    "wirewatch.claim-changes": ClaimLink,
}
