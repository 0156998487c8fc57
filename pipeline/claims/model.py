"""A tracked claim: one per speaker and content, with its sources and links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from pipeline.records import SCHEMA_VERSION, Quantity, Record


class ClaimSource(Record):
    """One article that reports the claim (keyed by article id: a replay adds nothing)."""

    article_id: str
    story: str | None = Field(
        None, description="the article's story cluster: a copy from the same outlet adds nothing"
    )
    outlet: str | None = None
    url: str | None = None
    seen_at: datetime = Field(description="the article's publication time, else fetch time")
    content: str = Field(description="the claim as this article words it")


class ClaimUpdate(Record):
    """This claim changes a figure of an earlier claim of the same speaker."""

    claim_id: str = Field(description="the earlier claim")
    unit: str
    old: float
    new: float


class ClaimDispute(Record):
    """Another claim states an incompatible value or the opposite about the same subject."""

    claim_id: str
    speaker: str
    reason: str = Field(description="'value' (incompatible figure) or 'negation'")
    unit: str | None = None
    value: float | None = None
    other_value: float | None = None


class TrackedClaim(Record):
    """One claim of one speaker, however many outlets report it; a claims-index document."""

    schema_version: int = SCHEMA_VERSION
    claim_id: str = Field(description="stable: derived from the first statement seen")
    revision: int = Field(
        1, description="bumped on every change; the index's external version (idempotent)"
    )
    speaker: str
    content: str = Field(description="the wording first seen")
    negated: bool = False
    quantities: list[Quantity] = Field(default_factory=list)
    terms: list[str] = Field(
        default_factory=list, description="content words over all its wordings (bounded)"
    )
    first_seen: datetime
    last_seen: datetime
    sources: list[ClaimSource] = Field(
        default_factory=list, description="the first max_sources articles that report it"
    )
    source_count: int = Field(1, description="articles that report it, all of them")
    outlets: list[str] = Field(default_factory=list)
    updates: list[ClaimUpdate] = Field(default_factory=list)
    updated_by: list[str] = Field(default_factory=list, description="later claims changing it")
    disputed_by: list[ClaimDispute] = Field(default_factory=list)

    @property
    def article_ids(self) -> set[str]:
        return {s.article_id for s in self.sources}

    def document(self) -> dict[str, Any]:
        """The claims-index document (id ``claim_id``, external version ``revision``)."""
        doc = self.model_dump(mode="json")
        doc["outlet_count"] = len(self.outlets)
        doc["changed"] = bool(self.updates or self.updated_by)
        doc["disputed"] = bool(self.disputed_by)
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> TrackedClaim:
        derived = {"outlet_count", "changed", "disputed"}
        return cls.model_validate({k: v for k, v in doc.items() if k not in derived})
