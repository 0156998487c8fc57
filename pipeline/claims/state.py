"""The claim tracker's state in a bytes table (the worker's ``claims`` Faust table).

One tracker sees every statement (the statements topic has one partition), so its state is
one table partition. Keyed so that no value grows with a speaker's output:

- ``c:<claim id>``: one ``TrackedClaim`` (JSON), bounded by the tracker's limits (sources,
  terms) and cut to ``MAX_VALUE_BYTES`` where it is encoded (Kafka refuses values over
  1 MB; a claims-index document is the same JSON, so the cut one is what is indexed);
- ``s:<speaker>``: that speaker's claim ids (at most ``max_claims_per_speaker``);
- ``o``: the offset of the last statements message applied, so a redelivered message
  (a restart before the commit) is recognised and adds nothing.

Writes are buffered and ``flush`` hands them to the table after the batch's claims were
indexed and its links published: a crash before the flush leaves the state as it was, the
batch is redelivered and the tracker decides the same again (claim ids, revisions and pair
keys are deterministic), so the index refuses the repeated revisions and the alert state
the repeated pairs. ``ClaimState`` adds the bound on all claims held (the least recently
seen go first, by stream time) and the window.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, MutableMapping
from datetime import datetime, timedelta

from pipeline.claims.model import TrackedClaim
from pipeline.claims.tracker import ClaimChange, ClaimTracker, Statement
from pipeline.records import ClaimLink, ClaimStatements, EnrichedArticle, utcnow
from pipeline.worker.rebuilt import Rebuilt

#: the largest value written to the table (Kafka's default message limit is 1 MB)
MAX_VALUE_BYTES = 512 * 1024
#: a wording kept whole in a cut claim is at most this long
CUT_CONTENT_CHARS = 2000

#: how far past the clock stream time may go (publication times are the feeds' word)
FUTURE_SLACK = timedelta(days=1)

CLAIM = b"c:"
SPEAKER = b"s:"
OFFSET = b"o"


def encode_claim(claim: TrackedClaim) -> bytes:
    return claim.model_dump_json().encode()


def decode_claim(raw: bytes) -> TrackedClaim:
    return TrackedClaim.model_validate_json(raw)


def fit(claim: TrackedClaim, limit: int = MAX_VALUE_BYTES) -> TrackedClaim:
    """The claim, or a copy cut to encode under ``limit`` bytes: fewer stored sources
    first (``source_count`` still counts all), then long wordings cut."""
    if len(encode_claim(claim)) <= limit:
        return claim
    sources = list(claim.sources)
    while len(sources) > 1:
        sources = sources[: len(sources) // 2]
        cut = claim.model_copy(update={"sources": sources})
        if len(encode_claim(cut)) <= limit:
            return cut
    short = [s.model_copy(update={"content": s.content[:CUT_CONTENT_CHARS]}) for s in sources]
    cut = claim.model_copy(
        update={
            "sources": short,
            "content": claim.content[:CUT_CONTENT_CHARS],
            "terms": claim.terms[:32],
            "quantities": claim.quantities[:16],
            "updates": claim.updates[-16:],
            "updated_by": claim.updated_by[-16:],
            "disputed_by": claim.disputed_by[-16:],
        }
    )
    if len(encode_claim(cut)) > limit:  # pragma: no cover - every part is bounded now
        raise ValueError(f"claim {claim.claim_id} does not fit in {limit} bytes")
    return cut


class TableClaimStore(MutableMapping[str, list[TrackedClaim]]):
    """``ClaimTracker``'s store (speaker -> claims) over a bytes table, see the module doc.

    Reads come from a cache loaded from the table once (again after ``invalidate``, when
    the table was recovered); writes go to the cache and, at ``flush``, to the table.
    """

    def __init__(self, table: MutableMapping[bytes, bytes], max_value_bytes: int = MAX_VALUE_BYTES):
        self.table = table
        self.max_value_bytes = max_value_bytes
        self._claims: dict[str, TrackedClaim] | None = None
        self._speakers: dict[str, list[str]] = {}
        self._offset: int | None = None
        self._dirty: dict[bytes, bytes | None] = {}

    # --- cache --------------------------------------------------------------------------

    def invalidate(self) -> None:
        self._claims = None
        self._dirty.clear()

    def _load(self) -> dict[str, TrackedClaim]:
        if self._claims is None:
            claims: dict[str, TrackedClaim] = {}
            speakers: dict[str, list[str]] = {}
            offset: int | None = None
            for key in list(self.table.keys()):
                raw = self.table.get(key)
                if raw is None:
                    continue
                if key.startswith(CLAIM):
                    claims[key[len(CLAIM) :].decode()] = decode_claim(raw)
                elif key.startswith(SPEAKER):
                    speakers[key[len(SPEAKER) :].decode()] = json.loads(raw)
                elif key == OFFSET:
                    offset = int(json.loads(raw))
            # a speaker list naming a claim that is not there (cannot happen unless a flush
            # was cut short): the claims decide
            self._speakers = {s: [i for i in ids if i in claims] for s, ids in speakers.items()}
            self._speakers = {s: ids for s, ids in self._speakers.items() if ids}
            self._claims = claims
            self._offset = offset
        return self._claims

    @property
    def all_claims(self) -> dict[str, TrackedClaim]:
        return self._load()

    # --- the mapping the tracker uses ---------------------------------------------------

    def __getitem__(self, speaker: str) -> list[TrackedClaim]:
        claims = self._load()
        ids = self._speakers.get(speaker)
        if ids is None:
            raise KeyError(speaker)
        return [claims[i] for i in ids]

    def __setitem__(self, speaker: str, value: list[TrackedClaim]) -> None:
        claims = self._load()
        old_ids = self._speakers.get(speaker, [])
        ids = [c.claim_id for c in value]
        for c in value:
            if claims.get(c.claim_id) is not c:
                stored = fit(c, self.max_value_bytes)
                claims[c.claim_id] = stored
                self._dirty[CLAIM + c.claim_id.encode()] = encode_claim(stored)
        for gone in set(old_ids) - set(ids):
            claims.pop(gone, None)
            self._dirty[CLAIM + gone.encode()] = None
        if ids != old_ids:
            self._speakers[speaker] = ids
            self._dirty[SPEAKER + speaker.encode()] = json.dumps(ids).encode()

    def __delitem__(self, speaker: str) -> None:
        claims = self._load()
        ids = self._speakers.pop(speaker)
        for gone in ids:
            claims.pop(gone, None)
            self._dirty[CLAIM + gone.encode()] = None
        self._dirty[SPEAKER + speaker.encode()] = None

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._speakers))

    def __len__(self) -> int:
        self._load()
        return len(self._speakers)

    # --- offsets and flushing -----------------------------------------------------------

    @property
    def offset(self) -> int | None:
        """The last statements offset applied (None: none yet)."""
        self._load()
        return self._offset

    def set_offset(self, offset: int) -> None:
        self._load()
        self._offset = offset
        self._dirty[OFFSET] = json.dumps(offset).encode()

    def flush(self) -> int:
        """Hand the buffered writes to the table (its changelog); how many keys."""
        written = len(self._dirty)
        for key, raw in self._dirty.items():
            if raw is None:
                if key in self.table:
                    del self.table[key]
            else:
                self.table[key] = raw
        self._dirty.clear()
        return written


class ClaimState:
    """The tracker over a ``TableClaimStore``, bounded: at most ``max_claims`` held (the
    least recently seen go first) and none last seen more than ``window`` before the
    newest statement seen (stream time: a replay of old articles keeps its claims)."""

    def __init__(
        self,
        table: MutableMapping[bytes, bytes],
        *,
        max_claims: int = 200_000,
        window: timedelta = timedelta(days=30),
        max_claims_per_speaker: int = 500,
        max_sources: int = 100,
    ) -> None:
        self.store = TableClaimStore(table)
        self.max_claims = max_claims
        self.window = window
        self.max_claims_per_speaker = max_claims_per_speaker
        self.max_sources = max_sources
        self._tracker = Rebuilt(self._build, name="claims", unit="claims", size=lambda _: len(self))
        self._heap: list[tuple[datetime, str]] = []
        self._newest: datetime | None = None

    def invalidate(self) -> None:
        """The table was recovered: rebuild the cache, the tracker's lookups, the order."""
        self.store.invalidate()
        self._tracker.invalidate()

    @property
    def tracker(self) -> ClaimTracker:
        return self._tracker.get()

    def _build(self) -> ClaimTracker:
        """The tracker over the (re)loaded store, and the eviction order and stream time."""
        tracker = ClaimTracker(
            self.store,
            max_claims_per_speaker=self.max_claims_per_speaker,
            max_sources=self.max_sources,
        )
        claims = self.store.all_claims.values()
        self._heap = [(c.last_seen, c.claim_id) for c in claims]
        heapq.heapify(self._heap)
        ceiling = utcnow() + FUTURE_SLACK
        self._newest = max((min(c.last_seen, ceiling) for c in claims), default=None)
        return tracker

    def __len__(self) -> int:
        return len(self.store.all_claims)

    def observe(self, record: ClaimStatements, offset: int | None = None) -> list[ClaimChange]:
        """Apply one statements message; [] when its offset was applied already."""
        tracker = self.tracker
        if offset is not None:
            applied = self.store.offset
            if applied is not None and offset <= applied:
                return []
        changes: list[ClaimChange] = []
        for i, claim in enumerate(record.claims):
            if not claim.speaker:
                continue
            st = Statement(
                record.article_id,
                i,
                record.outlet,
                record.url,
                record.seen_at,
                claim,
                record.cluster_id,
            )
            changes.extend(tracker.observe_statement(st))
        # a publication time in the future (a feed's bad date) must not age every claim
        # out: stream time goes no further than a day past the clock
        ceiling = utcnow() + FUTURE_SLACK
        for change in changes:
            for c in (change.claim, change.other):
                if c is not None:
                    heapq.heappush(self._heap, (c.last_seen, c.claim_id))
                    seen = min(c.last_seen, ceiling)
                    if self._newest is None or seen > self._newest:
                        self._newest = seen
        if offset is not None:
            self.store.set_offset(offset)
        return changes

    def evict(self) -> int:
        """Forget claims beyond the bound or the window; how many."""
        tracker = self.tracker
        claims = self.store.all_claims
        horizon = self._newest - self.window if self._newest is not None else None
        evicted = 0
        while self._heap and (
            len(claims) > self.max_claims or (horizon is not None and self._heap[0][0] < horizon)
        ):
            last_seen, claim_id = heapq.heappop(self._heap)
            held = claims.get(claim_id)
            if held is None or held.last_seen != last_seen:
                continue  # stale: seen again since (pushed again) or gone
            tracker.forget(claim_id)
            evicted += 1
        if len(self._heap) > 2 * len(claims) + 64:  # mostly stale items: compact
            self._heap = [(c.last_seen, c.claim_id) for c in claims.values()]
            heapq.heapify(self._heap)
        return evicted

    def flush(self) -> int:
        return self.store.flush()


def statements_of(record: EnrichedArticle) -> ClaimStatements | None:
    """The statements message of an enriched article, None when no claim has a speaker."""
    claims = [c for c in record.claims if c.speaker]
    if not claims:
        return None
    article = record.article
    return ClaimStatements(
        article_id=article.id,
        cluster_id=record.story.cluster_id,
        outlet=article.outlet,
        url=article.url,
        title=article.title,
        seen_at=article.published_at or article.fetched_at,
        claims=claims,
    )


def links(changes: list[ClaimChange], record: ClaimStatements) -> list[ClaimLink]:
    """The new links among ``changes`` (changed figures, disputes) as ``ClaimLink``s."""
    out: list[ClaimLink] = []
    for change in changes:
        key = change.pair_key
        if key is None or change.other is None:
            continue
        later, earlier = change.claim, change.other
        unit = value = other_value = reason = None
        if change.kind == "updates":
            kind = "changed"
            update = next((u for u in later.updates if u.claim_id == earlier.claim_id), None)
            if update is not None:
                unit, value, other_value = update.unit, update.new, update.old
        else:
            kind = "disputed"
            dispute = next((d for d in later.disputed_by if d.claim_id == earlier.claim_id), None)
            if dispute is not None:
                unit, value, other_value = dispute.unit, dispute.value, dispute.other_value
                reason = dispute.reason
        out.append(
            ClaimLink(
                kind=kind,
                pair_key=key,
                claim_id=later.claim_id,
                other_id=earlier.claim_id,
                speakers=[later.speaker, earlier.speaker],
                contents=[later.content, earlier.content],
                unit=unit,
                value=value,
                other_value=other_value,
                reason=reason,
                article_id=record.article_id,
                cluster_id=record.cluster_id,
                url=record.url,
                title=record.title,
                outlet=record.outlet,
                seen_at=record.seen_at,
            )
        )
    return out
