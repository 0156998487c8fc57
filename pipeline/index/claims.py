"""Write tracked claims to the claims index: one document per claim, idempotently.

Each document is indexed with id ``claim_id`` and external version ``revision``: the
tracker bumps the revision on every change, so a replay or a redelivered batch (same
revisions) is refused by Elasticsearch as a version conflict and changes nothing, and an
older revision arriving late never overwrites a newer one. Those conflicts are the
expected outcome of a duplicate, counted and not raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from elasticsearch import Elasticsearch, helpers

from pipeline.claims.model import TrackedClaim
from pipeline.index.sink import BulkDoc


@dataclass
class ClaimWrites:
    written: int = 0
    unchanged: int = 0  # version conflicts: this revision (or a newer one) is there already


def latest(claims: Iterable[TrackedClaim]) -> list[TrackedClaim]:
    """The newest revision of each claim, in first-seen order (one batch, one write each)."""
    newest: dict[str, TrackedClaim] = {}
    for c in claims:
        if c.claim_id not in newest or c.revision > newest[c.claim_id].revision:
            newest[c.claim_id] = c
    return list(newest.values())


def bulk_docs(claims: Iterable[TrackedClaim]) -> list[BulkDoc[TrackedClaim]]:
    """The worker's writes (pipeline.index.sink.BulkWriter): the same id, external version
    and document as ``write_claims``, one per claim (its newest revision)."""
    return [
        BulkDoc(c, c.claim_id, json.dumps(c.document()).encode(), version=c.revision)
        for c in latest(claims)
    ]


def write_claims(client: Elasticsearch, index: str, claims: Iterable[TrackedClaim]) -> ClaimWrites:
    actions = [
        {
            "_op_type": "index",
            "_index": index,
            "_id": c.claim_id,
            "version": c.revision,
            "version_type": "external",
            "_source": c.document(),
        }
        for c in latest(claims)
    ]
    result = ClaimWrites()
    if not actions:
        return result
    for ok, item in helpers.streaming_bulk(
        client, actions, raise_on_error=False, raise_on_exception=True, max_retries=3
    ):
        status = item.get("index", {}).get("status")
        if ok:
            result.written += 1
        elif status == 409:
            result.unchanged += 1
        else:
            raise RuntimeError(f"claims index refused {item}")
    return result
