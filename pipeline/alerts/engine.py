"""Evaluate every rule against every article without scanning every rule.

Each rule is indexed under its *anchors*: a set of article features at least one of which
every matching article must have (a word, an actor name, an outlet ...). For an article we
look up only the rules anchored on features it has, then run their full query. Rules with
no anchor (only possible with NOT at the top, e.g. ``lang:en NOT sport`` still has one)
are evaluated for every article; they are rare and counted in ``RuleIndex.unanchored``.

Once per rule per story cluster: ``AlertTracker`` keeps per-alert state in a mapping (a
Faust Table in the worker, a dict in tests). The first matching copy of a story fires the
alert; later copies bump ``copies`` and produce an update, which delivery indexes but
does not send to webhooks again.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.alerts.matcher import ActorNames, ArticleView, IdentityNames, Matcher, actor_names
from pipeline.alerts.query import (
    And,
    Node,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    iter_terms,
    parse,
    positive_only,
)
from pipeline.records import Alert, AlertRule, ClaimLink, EnrichedArticle, utcnow

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (feature kind, case-folded value)


class RuleError(ValueError):
    """A rule that cannot be used: bad syntax or a query that would match everything."""


def check_rule(rule: AlertRule) -> Node:
    """Parse and vet a rule; raise QuerySyntaxError or RuleError. Used when adding one."""
    node = parse(rule.query)
    if not positive_only(node):
        raise QuerySyntaxError("a rule needs at least one term that is not negated", rule.query, 0)
    if rule.surge is not None and any(t.field == "claim" and not n for t, n in iter_terms(node)):
        # claim rules alert per claim change (their matches are links, not articles)
        raise QuerySyntaxError(
            "a surge rule counts articles: it cannot have a claim: term", rule.query, 0
        )
    return node


def anchors(node: Node, registry: ActorNames) -> frozenset[Key] | None:
    """Features of which a matching article must have at least one; None if unknown."""
    if isinstance(node, Term):
        field = node.field
        if field in ("text", "title", "body"):
            # the longest word of a phrase: a cheap guess at the rarest one
            return frozenset({("w", max(node.tokens, key=len))})
        if field == "claim":
            return frozenset({("c", node.value.casefold())})
        if field in ("actor", "speaker"):
            kind = "a" if field == "actor" else "s"
            return frozenset((kind, n) for n in actor_names(registry, node.value))
        value = " ".join(node.value.split()).casefold()
        if field == "domain":
            return None  # subdomains match too: no exact key
        if field == "lang":
            return frozenset({("l", value.split("-")[0])})
        kind = {"outlet": "o", "tag": "t"}.get(field)
        if kind is None:
            return None  # a field without an anchor index (a later vocabulary field)
        return frozenset({(kind, value)})
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        union: set[Key] = set()
        for child in node.children:
            sub = anchors(child, registry)
            if sub is None:
                return None
            union |= sub
        return frozenset(union)
    if isinstance(node, And):
        options = [a for a in (anchors(c, registry) for c in node.children) if a]
        if not options:
            return None
        return min(options, key=_selectivity)
    raise TypeError(f"not a query node: {node!r}")


#: how common each feature kind tends to be: actors are rarer than words, languages common
_KIND_RANK = {"c": 0, "a": 0, "s": 0, "t": 1, "o": 1, "w": 2, "l": 3}


def _selectivity(keys: frozenset[Key]) -> tuple[int, int, int]:
    """Sort key for the anchor of an AND: rarest kind, fewest keys, longest word."""
    worst = max(_KIND_RANK[kind] for kind, _ in keys)
    return (worst, len(keys), -min(len(value) for _, value in keys))


def article_keys(view: ArticleView) -> Iterable[Key]:
    for word in view.all_words:
        yield ("w", word)
    for name in view.actors:
        yield ("a", name)
    for name in view.speakers:
        yield ("s", name)
    if view.outlet:
        yield ("o", view.outlet)
    if view.lang:
        yield ("l", view.lang.split("-")[0])
    for tag in view.tags:
        yield ("t", tag)
    for kind in view.claim_links:
        yield ("c", kind)


@dataclass
class CompiledRule:
    rule: AlertRule
    matcher: Matcher
    anchors: frozenset[Key] | None
    outlets: frozenset[str]
    languages: frozenset[str]
    #: a positive ``claim:`` term: evaluated against claim links, never against articles
    on_claims: bool = False

    def passes_filters(self, view: ArticleView) -> bool:
        if self.outlets and view.outlet not in self.outlets and view.domain not in self.outlets:
            return False
        return not self.languages or view.lang.split("-")[0] in self.languages


@dataclass(frozen=True)
class Match:
    rule: AlertRule
    matched_terms: list[str]


class RuleIndex:
    """All live rules, indexed by anchor. ``upsert``/``remove`` as the rules topic changes."""

    def __init__(self, registry: ActorNames | None = None) -> None:
        self.registry = registry or IdentityNames()
        self.rules: dict[str, CompiledRule] = {}
        self._by_key: dict[Key, set[str]] = {}
        self.unanchored: set[str] = set()
        self.rejected: dict[str, str] = {}  # rule id -> why it is not evaluated
        self.errors = 0  # evaluations that raised; the rule is skipped, the worker goes on

    def __len__(self) -> int:
        return len(self.rules)

    def upsert(self, rule: AlertRule) -> bool:
        """Add or replace a rule. A bad rule is logged and kept out, never raised."""
        self.remove(rule.id)
        try:
            node = check_rule(rule)
            compiled = CompiledRule(
                rule=rule,
                matcher=Matcher(node, self.registry),
                anchors=anchors(node, self.registry),
                outlets=frozenset(o.casefold() for o in rule.outlets),
                languages=frozenset(lang.casefold().split("-")[0] for lang in rule.languages),
                on_claims=any(t.field == "claim" and not neg for t, neg in iter_terms(node)),
            )
        except Exception as exc:
            self.rejected[rule.id] = f"{type(exc).__name__}: {exc}"
            log.warning("alert rule %s (%s) not loaded: %s", rule.id, rule.name, exc)
            return False
        self.rules[rule.id] = compiled
        if compiled.anchors is None:
            self.unanchored.add(rule.id)
        else:
            for key in compiled.anchors:
                self._by_key.setdefault(key, set()).add(rule.id)
        return True

    def remove(self, rule_id: str) -> None:
        self.rejected.pop(rule_id, None)
        compiled = self.rules.pop(rule_id, None)
        if compiled is None:
            return
        self.unanchored.discard(rule_id)
        for key in compiled.anchors or ():
            ids = self._by_key.get(key)
            if ids is not None:
                ids.discard(rule_id)
                if not ids:
                    del self._by_key[key]

    def candidates(self, view: ArticleView) -> set[str]:
        found = set(self.unanchored)
        by_key = self._by_key
        for key in article_keys(view):
            ids = by_key.get(key)
            if ids:
                found |= ids
        return found

    def evaluate(self, enriched: EnrichedArticle) -> list[Match]:
        """The article rules (no positive ``claim:`` term) this article matches."""
        view = ArticleView.of(enriched, self.registry)
        return self._evaluate(view, claims=False, what=f"article {enriched.article.id}")

    def evaluate_link(self, link: ClaimLink) -> list[Match]:
        """The claim rules (a positive ``claim:`` term) this claim link matches."""
        view = ArticleView.of_link(link, self.registry)
        return self._evaluate(view, claims=True, what=f"claim link {link.pair_key}")

    def _evaluate(self, view: ArticleView, *, claims: bool, what: str) -> list[Match]:
        out: list[Match] = []
        for rule_id in sorted(self.candidates(view)):
            compiled = self.rules[rule_id]
            if compiled.on_claims != claims:
                continue
            try:
                if compiled.passes_filters(view) and compiled.matcher.matches(view):
                    out.append(Match(compiled.rule, compiled.matcher.matched_terms(view)))
            except Exception:
                self.errors += 1
                log.exception("alert rule %s failed on %s", rule_id, what)
        return out

    def evaluate_all(self, enriched: EnrichedArticle) -> list[Match]:
        """The same result by scanning every rule: the reference the index is tested against."""
        view = ArticleView.of(enriched, self.registry)
        return [
            Match(c.rule, c.matcher.matched_terms(view))
            for rule_id, c in sorted(self.rules.items())
            if not c.on_claims and c.passes_filters(view) and c.matcher.matches(view)
        ]


def alert_id(rule_id: str, cluster_id: str) -> str:
    return f"{rule_id}:{cluster_id}"


def candidate_alert(match: Match, enriched: EnrichedArticle) -> Alert:
    """What one matching article proposes; AlertTracker decides fire, update or ignore."""
    article = enriched.article
    return Alert(
        id=alert_id(match.rule.id, enriched.story.cluster_id),
        rule_id=match.rule.id,
        rule_name=match.rule.name,
        cluster_id=enriched.story.cluster_id,
        article_id=article.id,
        title=article.title,
        url=article.url,
        outlet=article.outlet,
        matched_terms=match.matched_terms,
        copies=1,
        published_at=article.published_at,
    )


def _figure(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def link_title(link: ClaimLink) -> str:
    """One line for a claim alert: who changed or disputed what, with the figures."""
    later, earlier = [*link.speakers, "", ""][:2]
    unit = f" {link.unit}" if link.unit else ""
    if link.kind == "changed":
        return (
            f"{later} changed a figure: {_figure(link.other_value)} -> {_figure(link.value)}{unit}"
        )
    if link.reason == "value":
        figures = f"{_figure(link.value)} vs {_figure(link.other_value)}{unit}"
        return f"{later} disputes {earlier}: {figures}"
    return f"{later} and {earlier} contradict each other (a denial)"


def candidate_link_alert(match: Match, link: ClaimLink) -> Alert:
    """What one claim link proposes: once per rule per pair (the alert id holds the pair)."""
    return Alert(
        id=alert_id(match.rule.id, link.pair_key),
        rule_id=match.rule.id,
        rule_name=match.rule.name,
        cluster_id=link.cluster_id,
        article_id=link.article_id,
        title=link_title(link),
        url=link.url,
        outlet=link.outlet,
        matched_terms=match.matched_terms,
        copies=1,
        published_at=link.seen_at,
        pair_key=link.pair_key,
    )


#: article ids remembered per alert to recognise redelivered copies (bounded state)
MAX_SEEN = 500


class AlertTracker:
    """Once per rule per story cluster, over a mapping alert id -> JSON-able state.

    The state must live where the alert id's partition is processed (the candidate topic
    is keyed by alert id), so every copy of a story meets the same state. It is bounded
    like the dedup window: a story's state is forgotten ``window_s`` after its last copy
    (a copy after that fires a new alert), and beyond ``max_entries`` per partition the
    least recently seen go first. Each state remembers its partition (``p``), because a
    Faust table may only delete keys of the partition whose record is being processed.
    """

    def __init__(
        self,
        state: MutableMapping[str, Any],
        *,
        window_s: float = 72 * 3600.0,
        max_entries: int = 200_000,
    ) -> None:
        self.state = state
        self.window_s = window_s
        self.max_entries = max_entries
        self._heaps: dict[int, list[tuple[float, str]]] | None = None  # (last seen, id)
        self._counts: Counter[int] = Counter()

    def invalidate(self) -> None:
        """Forget the eviction order (after the table was recovered from its changelog)."""
        self._heaps = None

    def _order(self) -> dict[int, list[tuple[float, str]]]:
        if self._heaps is None:
            self._heaps = {}
            self._counts = Counter()
            for alert_id, value in self.state.items():
                partition = int(value.get("p", 0))
                self._heaps.setdefault(partition, []).append((_last_seen(value), alert_id))
                self._counts[partition] += 1
            for heap in self._heaps.values():
                heapq.heapify(heap)
        return self._heaps

    def _store(self, alert_id: str, value: dict[str, Any], partition: int, new: bool) -> None:
        # reassign (not mutate) so a Faust Table records the change in its changelog
        heap = self._order().setdefault(partition, [])  # built before this write
        self.state[alert_id] = value
        heapq.heappush(heap, (value["last"], alert_id))
        if new:
            self._counts[partition] += 1
        if len(heap) > 2 * self._counts[partition] + 64:  # mostly stale items: compact
            heap[:] = [
                (_last_seen(v), k) for k, v in self.state.items() if int(v.get("p", 0)) == partition
            ]
            heapq.heapify(heap)

    def evict(self, partition: int, now: float) -> int:
        """Forget this partition's states past the window or beyond the bound."""
        heap = self._order().get(partition, [])
        horizon = now - self.window_s
        evicted = 0
        while heap and (heap[0][0] < horizon or self._counts[partition] > self.max_entries):
            last, alert_id = heapq.heappop(heap)
            value = self.state.get(alert_id)
            if value is None or _last_seen(value) != last:
                continue  # stale heap item: refreshed (and pushed again) or gone
            del self.state[alert_id]
            self._counts[partition] -= 1
            evicted += 1
        return evicted

    def __len__(self) -> int:
        return len(self.state)

    def observe(
        self, candidate: Alert, *, partition: int = 0, now: float | None = None
    ) -> Alert | None:
        """The Alert to publish: copies=1 fires, copies>1 updates; None for a redelivery."""
        now = time.time() if now is None else now
        alert = self._observe(candidate, partition, now)
        self.evict(partition, now)
        return alert

    def _observe(self, candidate: Alert, partition: int, now: float) -> Alert | None:
        current = self.state.get(candidate.id)
        if current is not None and _last_seen(current) < now - self.window_s:
            current = None  # expired, not yet evicted: the story is new again
        if current is None:
            fired = candidate.model_copy(update={"copies": 1, "fired_at": utcnow()})
            value = {
                "alert": fired.model_dump(mode="json"),
                "seen": [candidate.article_id],
                "last": now,
                "p": partition,
            }
            self._store(candidate.id, value, partition, new=candidate.id not in self.state)
            return fired
        seen: list[str] = list(current["seen"])
        if candidate.article_id in seen:
            return None
        first = Alert.model_validate(current["alert"])
        terms = list(dict.fromkeys([*first.matched_terms, *candidate.matched_terms]))
        updated = first.model_copy(update={"copies": first.copies + 1, "matched_terms": terms})
        seen.append(candidate.article_id)
        value = {
            "alert": updated.model_dump(mode="json"),
            "seen": seen[-MAX_SEEN:],
            "last": now,
            "p": int(current.get("p", partition)),
        }
        self._store(candidate.id, value, value["p"], new=False)
        return updated


def _last_seen(value: dict[str, Any]) -> float:
    """When the state's story was last seen; a state from before this field: when fired."""
    if "last" in value:
        return float(value["last"])
    fired = value.get("alert", {}).get("fired_at")
    try:
        return datetime.fromisoformat(fired).timestamp() if fired else 0.0
    except ValueError:
        return 0.0


def is_first_firing(alert: Alert) -> bool:
    return alert.copies == 1
