"""``ClaimTracker``: each speaker's claims, and what a new article's statements do to them.

For every statement (a claim with a speaker) of an article, in order:

1. its article already among a claim's sources: nothing (a replay or redelivery);
2. it is a claim the speaker already made (``identity.same_claim``, best match): the
   article becomes one more source;
3. else it is a new claim, with ``claim_id`` derived from the speaker, the article and the
   statement's place in it (stable under replay). Then, against the claims current at the
   time (those no later claim updates):
   - the same speaker, same polarity, a figure in a shared unit changed, same subject: the
     later claim ``updates`` the earlier (old and new values);
   - another speaker stating a different figure in that unit on the same subject (and none
     the claim's chain of updates stated), or either speaker saying the opposite (negation)
     about nearly the same thing: both are ``disputed_by`` each other.

Each change comes back as a ``ClaimChange``; the links (``updates``, ``disputed``) carry a
pair key so alerts fire once per pair. State is a ``ClaimStore``: in memory here, a table
in the worker. Each speaker keeps at most ``max_claims_per_speaker`` (oldest last seen
go first), and a claim at most ``max_wordings`` wordings and ``max_terms`` terms.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from pipeline.claims.identity import (
    FIGURE_MIN_SHARED,
    NEGATION_OVERLAP,
    SUBJECT_MIN_SHARED,
    SUBJECT_OVERLAP,
    Conflict,
    conflict,
    figures,
    same_claim,
    shares_figure,
    subject_overlap,
)
from pipeline.claims.model import ClaimDispute, ClaimSource, ClaimUpdate, TrackedClaim
from pipeline.records import Claim, EnrichedArticle

ChangeKind = Literal["new", "source", "updates", "disputed"]
MAX_POSTING = 2000
#: (negated, has figures) of a new claim -> posting kinds of the claims it can link to
LINKABLE_KINDS = {
    (True, True): ("n", "f", "p"),
    (True, False): ("n", "f", "p"),
    (False, True): ("f", "n"),
    (False, False): ("n",),
}


def _link_kind(negated: bool, has_figures: bool) -> str:
    """Posting key prefix: negated, with figures, plain."""
    return "n" if negated else ("f" if has_figures else "p")


@dataclass(frozen=True)
class ClaimChange:
    """What one statement did: a new claim, a new source, or a new link between two."""

    kind: ChangeKind
    claim: TrackedClaim
    other: TrackedClaim | None = None

    @property
    def pair_key(self) -> str | None:
        """``kind:later:earlier`` for updates, ``disputed:a:b`` (sorted) for disputes."""
        if self.other is None or self.kind not in ("updates", "disputed"):
            return None
        a, b = self.claim.claim_id, self.other.claim_id
        if self.kind == "disputed":
            a, b = sorted((a, b))
        return f"{self.kind}:{a}:{b}"


@dataclass(frozen=True)
class Statement:
    """One claim with a speaker in one article."""

    article_id: str
    ordinal: int
    outlet: str | None
    url: str | None
    seen_at: datetime
    claim: Claim
    story: str | None = None  # the story cluster (copies of one story share it)

    @property
    def speaker(self) -> str:
        assert self.claim.speaker is not None
        return self.claim.speaker


def statements(record: EnrichedArticle) -> list[Statement]:
    """The article's claims that have a speaker, in text order."""
    article = record.article
    seen_at = article.published_at or article.fetched_at
    return [
        Statement(
            article.id, i, article.outlet, article.url, seen_at, claim, record.story.cluster_id
        )
        for i, claim in enumerate(record.claims)
        if claim.speaker
    ]


def claim_id_of(statement: Statement) -> str:
    key = f"{statement.speaker}\x00{statement.article_id}\x00{statement.ordinal}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


#: speaker -> that speaker's claims (the worker's table has this shape)
ClaimStore = MutableMapping[str, list[TrackedClaim]]


class ClaimTracker:
    def __init__(
        self,
        store: ClaimStore | None = None,
        max_claims_per_speaker: int = 500,
        max_wordings: int = 16,
        max_terms: int = 96,
        max_sources: int = 100,
    ) -> None:
        self.max_sources = max_sources
        self.store: ClaimStore = store if store is not None else {}
        self.max_claims = max_claims_per_speaker
        self.max_wordings = max_wordings
        self.max_terms = max_terms
        # claim id -> terms of each wording (derived from sources; rebuilt when absent)
        self._wordings: dict[str, list[set[str]]] = {}
        # derived lookups, rebuilt from the store when it arrives filled (a recovered table):
        # claim id -> speaker, term -> claim ids (link candidates), claim id -> its terms
        self._speaker_of: dict[str, str] = {}
        self._postings: dict[str, set[str]] = {}
        self._terms_of: dict[str, frozenset[str]] = {}
        self._ids_of: dict[str, set[str]] = {}
        self._indexed = False

    # --- reading -------------------------------------------------------------------------

    def claims(self, speaker: str | None = None) -> list[TrackedClaim]:
        """Claims in first-seen order, of one speaker or of all."""
        groups = [self.store.get(speaker, [])] if speaker else list(self.store.values())
        return sorted((c for g in groups for c in g), key=lambda c: (c.first_seen, c.claim_id))

    def _find(self, claim_id: str) -> TrackedClaim | None:
        self._ensure_index()
        speaker = self._speaker_of.get(claim_id)
        for c in self.store.get(speaker, []) if speaker else []:
            if c.claim_id == claim_id:
                return c
        return None

    def _ensure_index(self) -> None:
        if not self._indexed:
            self._indexed = True
            for speaker in list(self.store):
                self._reindex(speaker, self.store[speaker])

    def _reindex(self, speaker: str, claims: list[TrackedClaim]) -> None:
        """Bring the derived lookups in line with one speaker's (saved) claims."""
        ids = {c.claim_id for c in claims}
        for gone in self._ids_of.get(speaker, set()) - ids:
            self._unindex(gone)
        self._ids_of[speaker] = ids
        for c in claims:
            kind = _link_kind(c.negated, bool(figures(c.quantities)))
            terms = frozenset(f"{kind}:{t}" for t in c.terms)
            if self._terms_of.get(c.claim_id) == terms:
                continue
            self._unindex(c.claim_id)
            self._speaker_of[c.claim_id] = speaker
            self._terms_of[c.claim_id] = terms
            for t in terms:
                self._postings.setdefault(t, set()).add(c.claim_id)

    def _unindex(self, claim_id: str) -> None:
        for t in self._terms_of.pop(claim_id, frozenset()):
            posting = self._postings.get(t)
            if posting is not None:
                posting.discard(claim_id)
                if not posting:
                    del self._postings[t]
        self._speaker_of.pop(claim_id, None)
        self._wordings.pop(claim_id, None)

    def _candidates(
        self, terms: set[str], minimum: int, negated: bool, has_figures: bool
    ) -> list[TrackedClaim]:
        """Claims that could be linked to one with these terms, polarity and figures (a
        change or a value dispute needs figures on both sides, a denial the other polarity)
        sharing at least ``minimum`` terms, in first-seen order. A term held by more than
        ``MAX_POSTING`` claims is passed over, as a stop word (bounded work per claim)."""
        kinds = LINKABLE_KINDS[(negated, has_figures)]
        counts: dict[str, int] = {}
        for t in terms:
            for kind in kinds:
                posting = self._postings.get(f"{kind}:{t}", ())
                if len(posting) > MAX_POSTING:
                    continue
                for cid in posting:
                    counts[cid] = counts.get(cid, 0) + 1
        found = [self._find(cid) for cid, n in counts.items() if n >= minimum]
        return sorted((c for c in found if c), key=lambda c: (c.first_seen, c.claim_id))

    # --- writing -------------------------------------------------------------------------

    def observe(self, record: EnrichedArticle) -> list[ClaimChange]:
        changes: list[ClaimChange] = []
        for statement in statements(record):
            changes.extend(self.observe_statement(statement))
        return changes

    def canonical_speaker(self, speaker: str) -> str:
        """A surname alone ("Brenner", where the article never gave the full name) is the
        one known speaker whose name ends with it; else the speaker as given."""
        if " " in speaker or speaker in self.store:
            return speaker
        known = [s for s in self.store if s.rsplit(" ", 1)[-1] == speaker and " " in s]
        return known[0] if len(known) == 1 else speaker

    def observe_statement(self, st: Statement) -> list[ClaimChange]:
        self._ensure_index()
        speaker = self.canonical_speaker(st.speaker)
        if speaker != st.speaker:
            st = replace(st, claim=st.claim.model_copy(update={"speaker": speaker}))
        own = list(self.store.get(st.speaker, []))
        if any(st.article_id in c.article_ids and self._holds(c, st) for c in own):
            return []
        terms = set(st.claim.terms)
        figs = figures(st.claim.quantities)
        best: tuple[float, int] | None = None
        for i, c in enumerate(own):
            if c.negated != st.claim.negated:
                continue
            score = same_claim(
                terms, figs, self._wordings_of(c), set(c.terms), figures(c.quantities)
            )
            if score > 0 and (best is None or score > best[0]):
                best = (score, i)
        if best is not None:
            updated = self._add_source(own[best[1]], st)
            own[best[1]] = updated
            self._save(st.speaker, own)
            return [ClaimChange("source", updated)]
        claim = self._new_claim(st)
        own.append(claim)
        self._save(st.speaker, own)
        changes = [ClaimChange("new", claim)]
        changes.extend(self._link(claim))
        return changes

    def _holds(self, claim: TrackedClaim, st: Statement) -> bool:
        """The article is a source of this claim with this wording: a replay."""
        return any(
            s.article_id == st.article_id and s.content == st.claim.content.text
            for s in claim.sources
        ) or claim.claim_id == claim_id_of(st)

    def _wordings_of(self, claim: TrackedClaim) -> list[set[str]]:
        cached = self._wordings.get(claim.claim_id)
        return cached if cached is not None else [set(claim.terms)]

    def _new_claim(self, st: Statement) -> TrackedClaim:
        claim_id = claim_id_of(st)
        self._wordings[claim_id] = [set(st.claim.terms)]
        return TrackedClaim(
            claim_id=claim_id,
            speaker=st.speaker,
            content=st.claim.content.text,
            negated=st.claim.negated,
            quantities=st.claim.quantities,
            terms=list(st.claim.terms)[: self.max_terms],
            first_seen=st.seen_at,
            last_seen=st.seen_at,
            sources=[self._source(st)],
            outlets=[st.outlet] if st.outlet else [],
        )

    @staticmethod
    def _source(st: Statement) -> ClaimSource:
        return ClaimSource(
            article_id=st.article_id,
            story=st.story,
            outlet=st.outlet,
            url=st.url,
            seen_at=st.seen_at,
            content=st.claim.content.text,
        )

    def _add_source(self, claim: TrackedClaim, st: Statement) -> TrackedClaim:
        wordings = self._wordings.setdefault(claim.claim_id, [set(claim.terms)])
        if len(wordings) < self.max_wordings:
            wordings.append(set(st.claim.terms))
        terms = list(dict.fromkeys([*claim.terms, *st.claim.terms]))[: self.max_terms]
        sources, count = claim.sources, claim.source_count
        if st.article_id not in claim.article_ids and not self._copy_held(claim, st):
            count += 1
            if len(sources) < self.max_sources:
                sources = sorted(
                    [*sources, self._source(st)], key=lambda s: (s.seen_at, s.article_id)
                )
        outlets = claim.outlets
        if st.outlet and st.outlet not in outlets:
            outlets = [*outlets, st.outlet]
        # a copy may carry the figure the first wording did not
        quantities = claim.quantities
        if not figures(quantities) and figures(st.claim.quantities):
            quantities = st.claim.quantities
        update = {
            "terms": terms,
            "sources": sources,
            "source_count": count,
            "outlets": outlets,
            "quantities": quantities,
            "first_seen": min(claim.first_seen, st.seen_at),
            "last_seen": max(claim.last_seen, st.seen_at),
        }
        if all(getattr(claim, k) == v for k, v in update.items()):
            return claim
        return claim.model_copy(update={**update, "revision": claim.revision + 1})

    @staticmethod
    def _copy_held(claim: TrackedClaim, st: Statement) -> bool:
        """A copy of a story (same cluster) from an outlet that already reported the claim
        in that story: the same report again (another URL, a re-publication), no source."""
        return st.story is not None and any(
            s.story == st.story and s.outlet == st.outlet for s in claim.sources
        )

    def forget(self, claim_id: str) -> bool:
        """Drop one claim from the state (the stage's bound on all claims held); links to
        it stay in other claims as ids. False if it is not held."""
        claim = self._find(claim_id)
        if claim is None:
            return False
        rest = [c for c in self.store.get(claim.speaker, []) if c.claim_id != claim_id]
        if rest:
            self.store[claim.speaker] = rest
            self._reindex(claim.speaker, rest)
        else:
            del self.store[claim.speaker]
            self._reindex(claim.speaker, [])
            self._ids_of.pop(claim.speaker, None)
        return True

    def _save(self, speaker: str, claims: list[TrackedClaim]) -> None:
        if len(claims) > self.max_claims:
            claims = sorted(claims, key=lambda c: (c.last_seen, c.claim_id))[-self.max_claims :]
            claims.sort(key=lambda c: (c.first_seen, c.claim_id))
        self.store[speaker] = claims
        self._reindex(speaker, claims)

    def _replace(self, claim: TrackedClaim) -> None:
        group = list(self.store.get(claim.speaker, []))
        for i, c in enumerate(group):
            if c.claim_id == claim.claim_id:
                group[i] = claim
        self.store[claim.speaker] = group
        self._reindex(claim.speaker, group)

    # --- links ---------------------------------------------------------------------------

    def _chain_figures(self, claim: TrackedClaim) -> dict[str, set[float]]:
        """Figures of the claim and of every claim it updates, transitively."""
        out: dict[str, set[float]] = {}
        todo, seen = [claim], set()
        while todo:
            c = todo.pop()
            if c.claim_id in seen:
                continue
            seen.add(c.claim_id)
            for unit, values in figures(c.quantities).items():
                out.setdefault(unit, set()).update(values)
            for u in c.updates:
                earlier = self._find(u.claim_id)
                if earlier is not None:
                    todo.append(earlier)
        return out

    def _link(self, new: TrackedClaim) -> list[ClaimChange]:
        """At most one link of each kind for a new claim: the best-matching current claim
        (most shared subject, then the latest) it updates, disputes by value, or denies."""
        new_terms, new_figs = set(new.terms), figures(new.quantities)
        best: dict[str, tuple[tuple[float, datetime, str], TrackedClaim, Conflict | None]] = {}

        def offer(kind: str, overlap: float, old: TrackedClaim, change: Conflict | None) -> None:
            rank = (overlap, old.first_seen, old.claim_id)
            if kind not in best or rank > best[kind][0]:
                best[kind] = (rank, old, change)

        # current claims only: those no later claim updates (the figure the speaker has now)
        minimum = FIGURE_MIN_SHARED if new_figs else SUBJECT_MIN_SHARED
        for old in self._candidates(new_terms, minimum, new.negated, bool(new_figs)):
            if old.claim_id == new.claim_id or old.updated_by:
                continue
            old_figs = figures(old.quantities)
            # the same speaker with a figure in the same unit needs less shared wording
            # than another speaker (a dispute across sides is the costlier mistake)
            same_unit = bool(old_figs.keys() & new_figs.keys()) and old.speaker == new.speaker
            overlap = subject_overlap(
                new_terms,
                set(old.terms),
                FIGURE_MIN_SHARED if same_unit else SUBJECT_MIN_SHARED,
            )
            if overlap < SUBJECT_OVERLAP:
                continue
            if old.negated == new.negated:
                change = conflict(old_figs, new_figs)
                if change is None:
                    continue
                if old.speaker == new.speaker:
                    offer("updates", overlap, old, change)
                elif not shares_figure(self._chain_figures(old), new_figs):
                    # another speaker's different figure; repeating one the speaker stated
                    # before is not a dispute
                    offer("value", overlap, old, change)
            elif overlap >= NEGATION_OVERLAP:
                denial, denied = (new, old) if new.negated else (old, new)
                # one denies what was said before it
                if (denied.first_seen, denied.claim_id) < (denial.first_seen, denial.claim_id):
                    offer("negation", overlap, old, None)
        changes: list[ClaimChange] = []
        if "updates" in best:
            _, old, change = best["updates"]
            assert change is not None
            if (old.first_seen, old.claim_id) < (new.first_seen, new.claim_id):
                changes.append(self._updates(new, old, change))
            else:  # statements arrived out of order: the later one updates
                reverse = conflict(figures(new.quantities), figures(old.quantities))
                assert reverse is not None
                changes.append(self._updates(old, new, reverse))
        if "value" in best:
            _, old, change = best["value"]
            assert change is not None
            changes.append(self._dispute(new, old, "value", change.unit, change.new, change.old))
        if "negation" in best:
            _, old, _ = best["negation"]
            changes.append(self._dispute(new, old, "negation", None, None, None))
        return changes

    def _updates(self, later: TrackedClaim, earlier: TrackedClaim, change: Conflict) -> ClaimChange:
        later = self._find(later.claim_id) or later
        earlier = self._find(earlier.claim_id) or earlier
        unit, old, new = change.unit, change.old, change.new
        later = later.model_copy(
            update={
                "updates": [
                    *later.updates,
                    ClaimUpdate(claim_id=earlier.claim_id, unit=unit, old=old, new=new),
                ],
                "revision": later.revision + 1,
            }
        )
        earlier = earlier.model_copy(
            update={
                "updated_by": [*earlier.updated_by, later.claim_id],
                "revision": earlier.revision + 1,
            }
        )
        self._replace(later)
        self._replace(earlier)
        return ClaimChange("updates", later, earlier)

    def _dispute(
        self,
        new: TrackedClaim,
        old: TrackedClaim,
        reason: str,
        unit: str | None,
        new_value: float | None,
        old_value: float | None,
    ) -> ClaimChange:
        new = self._find(new.claim_id) or new
        old = self._find(old.claim_id) or old
        new, old = (
            _disputed(new, old, reason, unit, new_value, old_value),
            _disputed(old, new, reason, unit, old_value, new_value),
        )
        self._replace(new)
        self._replace(old)
        return ClaimChange("disputed", new, old)


def _disputed(
    claim: TrackedClaim,
    other: TrackedClaim,
    reason: str,
    unit: str | None,
    value: float | None,
    other_value: float | None,
) -> TrackedClaim:
    """``claim`` disputed by ``other`` (its figure ``value`` against the other's), one
    revision on; a dispute is recorded on both claims, each from its own side."""
    dispute = ClaimDispute(
        claim_id=other.claim_id,
        speaker=other.speaker,
        reason=reason,
        unit=unit,
        value=value,
        other_value=other_value,
    )
    return claim.model_copy(
        update={"disputed_by": [*claim.disputed_by, dispute], "revision": claim.revision + 1}
    )


def track(records: Iterable[EnrichedArticle], tracker: ClaimTracker | None = None) -> ClaimTracker:
    """Feed records in the order given; the tracker, for reading."""
    tracker = tracker or ClaimTracker()
    for record in records:
        tracker.observe(record)
    return tracker
