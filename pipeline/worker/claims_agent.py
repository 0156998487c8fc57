"""Claims stage (issue 16): claims tracked across articles, the claims index, claim links.

    wirewatch.articles.enriched --statements--> wirewatch.claim-statements (1 partition)
    wirewatch.claim-statements  --track-------> the claims index (one document per claim)
                                             -> wirewatch.claim-changes (key: pair key)

* statements: each enriched article's claims that have a speaker, as one
  ``ClaimStatements`` message on the one-partition statements topic, so one tracker sees
  every claim (claims link across articles of every enriched partition and across
  speakers). Articles without such claims send nothing.
* track: ``ClaimState`` (pipeline.claims.state) over the ``claims`` table (claim-keyed
  bytes, changelog-backed, one partition like its source, bounded), in batches: the
  claims a batch changed are indexed with their revision as the external version (a
  replayed or redelivered batch writes nothing), the links it made (a changed figure, a
  dispute) go to the claim-changes topic, where the alert stage evaluates the
  ``claim:changed`` / ``claim:disputed`` rules, and only then does the state reach the
  table (a crash before that redoes the batch to the same ids and revisions).

Tracking is ~10 ms of CPU per article (docs/decisions.md), so one partition keeps up
with several enrichment workers; it is the stage's scaling limit, recorded there.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import faust
from prometheus_client import Counter, Gauge

from pipeline.claims.state import ClaimState, links, statements_of
from pipeline.claims.tracker import ClaimChange
from pipeline.records import ClaimStatements, EnrichedArticle
from pipeline.settings import Settings
from pipeline.topics import ARTICLES_ENRICHED, CLAIM_CHANGES, CLAIM_STATEMENTS
from pipeline.worker.channels import raw_topic
from pipeline.worker.deadletter import DeadLetters
from pipeline.worker.outcomes import Outcome
from pipeline.worker.rebuilt import rebuild_on_recovery
from pipeline.worker.stage import ElasticsearchRejected, Item, Rejected, Stage
from pipeline.worker.tables import bytes_table

log = logging.getLogger(__name__)

STAGE = "claims"
TABLE = "claims"
#: the statements topic's one key: every message to its one partition
KEY = b"claims"
BATCH = 200

CLAIM_EVENTS = Counter(
    "wirewatch_claim_events_total",
    "Claims stage decisions: new claims, new sources, links (changed, disputed), replays",
    ["outcome"],
)
CLAIM_STATE = Gauge("wirewatch_claim_state_claims", "Claims held by the claims stage")


def claim_state(table: Any, settings: Settings) -> ClaimState:
    return ClaimState(
        table,
        max_claims=settings.claims_max_entries,
        window=timedelta(days=settings.claims_window_days),
    )


def count_changes(changes: list[ClaimChange]) -> None:
    for change in changes:
        if change.kind == "new":
            CLAIM_EVENTS.labels("new").inc()
        elif change.kind == "source":
            CLAIM_EVENTS.labels("source").inc()
        elif change.kind == "updates":
            CLAIM_EVENTS.labels("changed").inc()
        else:
            CLAIM_EVENTS.labels("disputed").inc()


def register(app: faust.App, settings: Settings) -> ClaimState:
    from pipeline.adapters.elastic import make_async_client
    from pipeline.index.claims import bulk_docs
    from pipeline.index.sink import BulkWriter

    enriched = raw_topic(app, ARTICLES_ENRICHED, settings)
    statements = raw_topic(app, CLAIM_STATEMENTS, settings)
    changes_topic = raw_topic(app, CLAIM_CHANGES, settings)
    dead_letters = DeadLetters(app, settings)
    table = bytes_table(
        app,
        TABLE,
        partitions=CLAIM_STATEMENTS.partitions,
        help="claim tracker: c:<claim id> -> claim, s:<speaker> -> claim ids, o -> offset",
        batch_writes=True,  # written from a batch; one partition, so always partition 0
    )
    state = claim_state(table, settings)
    rebuild_on_recovery(table, state)

    # --- statements: enriched (any partition) -> the one statements partition ----------

    forward = Stage(f"{STAGE}-statements", EnrichedArticle.from_json, dead_letters)

    async def to_statements(item: Item[EnrichedArticle]) -> Outcome:
        record = statements_of(item.record)
        if record is not None:
            await statements.send(key=KEY, value=record.to_json())
        return "processed"

    @app.agent(enriched, name=f"{app.conf.id}.claims-statements")
    async def statements_agent(stream: Any) -> None:
        async for _ in forward.run_each(stream, to_statements):
            pass

    # --- track: the one tracker -> claims index, claim-changes --------------------------

    shape = Stage(STAGE, ClaimStatements.from_json, dead_letters)
    writers: list[BulkWriter[Any]] = []

    def writer() -> BulkWriter[Any]:
        if not writers:  # created on the worker's event loop
            writers.append(
                BulkWriter(
                    make_async_client(settings),
                    settings.claims_index,
                    retry_timeout_s=settings.es_retry_timeout_s,
                )
            )
        return writers[0]

    async def track(
        items: list[Item[ClaimStatements]],
    ) -> list[tuple[Item[ClaimStatements], Rejected]]:
        state.tracker  # noqa: B018 - a state that cannot be read crashes the worker
        changed = []
        new_links = []
        rejected: list[tuple[Item[ClaimStatements], Rejected]] = []
        for item in items:
            try:
                changes = state.observe(item.record, offset=item.message.offset)
            except Exception as exc:  # a bug one record triggers must not stop the stream
                log.exception("claim tracking failed on article %s", item.record.article_id)
                rejected.append((item, Rejected.of(exc)))
                continue
            if not changes:
                CLAIM_EVENTS.labels("replay").inc()
            count_changes(changes)
            changed += [c for ch in changes for c in (ch.claim, ch.other) if c is not None]
            new_links += links(changes, item.record)
        if changed:
            result = await writer().write(bulk_docs(changed))
            for claim, reason in result.rejected:  # refused by the mapping: will not heal
                log.warning("claim %s not indexed: %s", claim.claim_id, reason)
                source = next(
                    (i for i in items if i.record.article_id in claim.article_ids), items[-1]
                )
                rejected.append((source, ElasticsearchRejected(reason)))
        for link in new_links:
            await changes_topic.send(key=link.pair_key.encode(), value=link.to_json())
        state.evict()
        state.flush()
        CLAIM_STATE.set(len(state))
        return rejected

    @app.agent(statements, name=f"{app.conf.id}.claims-track")
    async def track_agent(stream: Any) -> None:
        try:
            async for _ in shape.run(stream, track, size=BATCH, within=settings.batch_within_s):
                pass
        finally:
            if writers:
                await writers.pop().client.close()

    return state
