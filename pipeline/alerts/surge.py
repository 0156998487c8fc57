"""Surge rules: fire when the rate of a query's matches jumps (issue 15.4). Server-free.

A surge rule (``AlertRule.surge``) counts *distinct* stories (or events) matching its query
per window of event time, and compares each window with the ones before it:

* **Event time** of an article: its ``published_at``, else its ``fetched_at``, and never
  later than ``fetched_at`` (a feed that dates an item in the future is not believed). So a
  replay of the same articles meets the same windows, whatever the wall clock says.
* **Windows** are ``window_s`` long and aligned on the epoch: window ``b`` is
  ``[b*W, (b+1)*W)``. ``count(b)`` is the number of distinct units (story cluster ids, or
  event ids with ``per="event"``) with a matching article whose event time falls in it.
* **Baseline** of window ``b``: the mean of ``count`` over the ``baseline_windows`` (N)
  windows before it, ``(count(b-N) + ... + count(b-1)) / N``; windows without a match
  count 0. **Fire level** ``max(min_stories, factor * baseline)``; window ``b`` *surges*
  when ``count(b) >= fire level``. A zero baseline leaves only the minimum.
* **Watermark** ``wm``: the newest event time seen for the rule. Window ``b`` is *closed*
  once ``wm >= (b+1)*W + lateness``: a match for it arriving later is too late (counted,
  not used). Window ``b`` is *decidable* once ``wm >= b*W + lateness``, that is once the
  windows of its baseline are closed: it is judged against final baselines only.
* **Hysteresis**: the rule starts armed. An armed rule fires on a decidable window that
  surges (with the count so far; counts only grow) and disarms. It re-arms when a later
  window closes with ``count < rearm level = fire level / 2`` ("subsided"); it can then
  fire on the window being decided. While the fired window is open, each new unit in it
  publishes an update of the same alert (``count`` grows, ``fired_with`` stays), which is
  indexed but not sent to webhooks again.

So which windows fire depends only on the matches, not on the order they arrive in, as
long as each arrives before its window closes (a replay, or partitions read in another
interleaving, give the same alert ids); the ``fired_with`` count and the article shown may
differ with the order, the final ``count`` in the index does not.

State (one JSON value per rule, in a changelog-backed table in the worker, a dict in
tests and in ``alerts test``): the watermark, arming, the fired window, each open window's
units (64-bit digests, at most ``SURGE_MAX_UNITS``; beyond that the count saturates), a
sample of their ids and the earliest article, and the counts of the closed windows a
baseline still needs (at most N; the lateness is at most 6 windows, so at most 8 open).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.alerts.engine import Match
from pipeline.records import (
    SURGE_MAX_UNITS,
    Alert,
    AlertRule,
    Article,
    EnrichedArticle,
    SurgeSpec,
    SurgeWindow,
    utcnow,
)

#: units of ``--surge FACTORx/DURATION``
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SURGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*x\s*/\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)
#: ids kept in a surge alert's ``units`` (the payload stays small)
SAMPLE_UNITS = 20


class SurgeSyntaxError(ValueError):
    """A --surge value that is not FACTORx/DURATION."""


def parse_surge(text: str) -> tuple[float, int]:
    """``"3x/1h"`` -> (3.0, 3600). Raises SurgeSyntaxError naming the expected form."""
    found = _SURGE.match(text)
    if found is None:
        raise SurgeSyntaxError(
            f"--surge {text!r}: expected FACTORx/DURATION such as 3x/1h or 2.5x/30m"
        )
    return float(found.group(1)), int(found.group(2)) * _UNITS[found.group(3).lower()]


def parse_duration(text: str, option: str) -> int:
    """``"10m"`` -> 600 (s, m, h, d; a bare number is seconds)."""
    found = re.match(r"^\s*(\d+)\s*([smhd]?)\s*$", text, re.IGNORECASE)
    if found is None:
        raise SurgeSyntaxError(f"{option} {text!r}: expected a duration such as 10m or 1h")
    return int(found.group(1)) * _UNITS[(found.group(2) or "s").lower()]


def describe(spec: SurgeSpec) -> str:
    """``3x/1h min 5 over 24 windows per story`` (alerts list, alerts test)."""
    return (
        f"{spec.factor:g}x/{_duration(spec.window_s)} min {spec.min_stories} "
        f"over {spec.baseline_windows} windows per {spec.per} "
        f"lateness {_duration(spec.lateness_s)}"
    )


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def event_time(published_at: datetime | None, fetched_at: datetime) -> datetime:
    """Published, else fetched; never after fetched."""
    seen = _utc(fetched_at)
    if published_at is None:
        return seen
    return min(_utc(published_at), seen)


def article_event_time(article: Article) -> datetime:
    return event_time(article.published_at, article.fetched_at)


def surge_key(rule_id: str) -> str:
    """The candidate topic key (and candidate id) of a surge rule: all its matches meet in
    one partition, where its state lives."""
    return f"{rule_id}:surge"


def surge_candidate(match: Match, enriched: EnrichedArticle) -> Alert:
    """What one matching article proposes to its surge rule in the stream."""
    article = enriched.article
    event = enriched.event  # set by the events stage
    return candidate(
        match.rule,
        cluster_id=enriched.story.cluster_id,
        article_id=article.id,
        title=article.title,
        url=article.url,
        outlet=article.outlet,
        published_at=article.published_at,
        fetched_at=article.fetched_at,
        event_id=event.event_id if event is not None else None,
        matched_terms=match.matched_terms,
    )


def candidate(
    rule: AlertRule,
    *,
    cluster_id: str,
    article_id: str,
    title: str,
    url: str,
    outlet: str | None,
    published_at: datetime | None,
    fetched_at: datetime,
    event_id: str | None = None,
    matched_terms: list[str] | None = None,
) -> Alert:
    """A surge candidate, from the stream (surge_candidate) or from an indexed article
    (``alerts test``): keyed by the rule, not the story, with the article's event time."""
    return Alert(
        id=surge_key(rule.id),
        rule_id=rule.id,
        rule_name=rule.name,
        cluster_id=cluster_id,
        article_id=article_id,
        title=title,
        url=url,
        outlet=outlet,
        matched_terms=matched_terms or [],
        published_at=published_at,
        event_id=event_id,
        event_time=event_time(published_at, fetched_at),
    )


def replay(
    rule: AlertRule, candidates: list[Alert], until: datetime | None = None
) -> tuple[list[Alert], int]:
    """Run a surge rule over past matches in event-time order (``alerts test``), then move
    its clock to ``until`` (the windows a match that late would decide): the alerts each
    window ends with (one per firing, its final count), and how many matches were late."""
    tracker = SurgeTracker({})
    last: dict[str, Alert] = {}
    ordered = sorted(candidates, key=lambda c: (_utc(c.event_time or fallback), c.article_id))
    for c in ordered:
        for alert in tracker.observe(rule, c).alerts:
            last[alert.id] = alert
    if until is not None and ordered:
        for alert in tracker.advance_to(rule, until):
            last[alert.id] = alert
    late = int(tracker.state.get(rule.id, {}).get("late", 0))
    return sorted(last.values(), key=lambda a: a.id), late


def unit_of(candidate: Alert, spec: SurgeSpec) -> str:
    """What a surge rule counts for one matching article."""
    if spec.per == "event" and candidate.event_id:
        return f"event:{candidate.event_id}"
    return f"story:{candidate.cluster_id}"


def _fingerprint(spec: SurgeSpec) -> list[Any]:
    return [
        spec.factor,
        spec.window_s,
        spec.min_stories,
        spec.baseline_windows,
        spec.per,
        spec.lateness_s,
    ]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True)
class Outcome:
    """What one surge candidate did: the alerts to publish (fires and updates), and whether
    the match was counted, a repeat of a counted unit, or too late for its window."""

    alerts: list[Alert]
    counted: str  # "counted", "repeat", "late"


class SurgeTracker:
    """Surge state over a mapping rule id -> JSON-able state (see the module doc)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.state = state

    def __len__(self) -> int:
        return len(self.state)

    def forget(self, rule_id: str) -> bool:
        """Drop a removed rule's state (call while processing its partition)."""
        if rule_id in self.state:
            del self.state[rule_id]
            return True
        return False

    def partition_of(self, rule_id: str) -> int | None:
        value = self.state.get(rule_id)
        return None if value is None else int(value.get("p", 0))

    def observe(self, rule: AlertRule, candidate: Alert, *, partition: int = 0) -> Outcome:
        """Fold one matching article of surge rule ``rule`` into its state."""
        spec = rule.surge
        if spec is None:
            raise ValueError(f"rule {rule.id} is not a surge rule")
        if candidate.event_time is None:
            raise ValueError(f"surge candidate {candidate.id} has no event_time")
        value = self.state.get(rule.id)
        if value is None or value.get("spec") != _fingerprint(spec):
            value = _new_state(spec, partition)  # a new or changed rule starts afresh
        run = _Run(spec, rule, value)
        counted = run.add(candidate)
        if counted == "late":
            value["late"] = int(value.get("late", 0)) + 1
        alerts = list(run.advance())
        if run.changed or counted == "late":
            self.state[rule.id] = run.value  # reassign: a Faust table logs the change
        return Outcome(alerts, counted)

    def advance_to(self, rule: AlertRule, when: datetime) -> list[Alert]:
        """Move a rule's watermark to ``when`` as a match then would, counting nothing."""
        value = self.state.get(rule.id)
        if rule.surge is None or value is None or value.get("spec") != _fingerprint(rule.surge):
            return []
        run = _Run(rule.surge, rule, value)
        t = _utc(when).timestamp()
        if value["wm"] is None or t > value["wm"]:
            value["wm"] = t
            run.changed = True
        alerts = list(run.advance())
        if run.changed:
            self.state[rule.id] = run.value
        return alerts


fallback = datetime.min.replace(tzinfo=UTC)


def _new_state(spec: SurgeSpec, partition: int) -> dict[str, Any]:
    return {
        "spec": _fingerprint(spec),
        "p": partition,
        "wm": None,  # newest event time seen (epoch s)
        "armed": True,
        "fired": None,  # the window index last fired on
        "closed_to": None,  # every window <= this is closed
        # window index (as str: JSON keys) -> {"n": count, "ids": [...] while open,
        # "first": the earliest article while open}
        "w": {},
        "late": 0,
    }


class _Run:
    """One candidate's pass over a rule's state (mutates ``value``)."""

    def __init__(self, spec: SurgeSpec, rule: AlertRule, value: dict[str, Any]) -> None:
        self.spec = spec
        self.rule = rule
        self.value = value
        self.changed = False
        self.W = spec.window_s
        self.L = spec.lateness_s
        self.N = spec.baseline_windows
        self.new_unit_in: int | None = None  # the window a newly counted unit went to

    # --- counts ------------------------------------------------------------------------

    def _windows(self) -> dict[str, Any]:
        windows: dict[str, Any] = self.value["w"]
        return windows

    def count(self, b: int) -> int:
        window = self._windows().get(str(b))
        return int(window["n"]) if window else 0

    def baseline(self, b: int) -> float:
        return sum(self.count(k) for k in range(b - self.N, b)) / self.N

    def fire_level(self, b: int) -> float:
        return max(float(self.spec.min_stories), self.spec.factor * self.baseline(b))

    def _is_closed(self, b: int, wm: float) -> bool:
        return wm >= (b + 1) * self.W + self.L

    # --- one match ---------------------------------------------------------------------

    def add(self, candidate: Alert) -> str:
        assert candidate.event_time is not None
        t = _utc(candidate.event_time).timestamp()
        b = math.floor(t / self.W)
        wm = self.value["wm"]
        if wm is not None and self._is_closed(b, wm):
            return "late"
        if wm is None or t > wm:
            self.value["wm"] = t
            if wm is None:
                self.value["closed_to"] = math.floor((t - self.L) / self.W) - 1
            self.changed = True
        unit = unit_of(candidate, self.spec)
        window = self._windows().setdefault(
            str(b), {"n": 0, "ids": [], "sample": [], "first": None}
        )
        first = _first_of(candidate, t)
        if window["first"] is None or _earlier(first, window["first"]):
            window["first"] = first
            self.changed = True
        digest = _digest(unit)
        if digest in window["ids"]:
            return "repeat"
        if len(window["ids"]) >= SURGE_MAX_UNITS:
            return "repeat"  # saturated: the count stays at the bound
        window["ids"].append(digest)
        if len(window["sample"]) < SAMPLE_UNITS:
            window["sample"].append(unit)
        window["n"] = len(window["ids"])
        self.changed = True
        self.new_unit_in = b
        return "counted"

    # --- the clock ---------------------------------------------------------------------

    def advance(self) -> Iterator[Alert]:
        """Close the windows the watermark has passed, then judge the decidable one."""
        wm = self.value["wm"]
        if wm is None:
            return
        v = self.value
        W, L = self.W, self.L
        decidable = math.floor((wm - L) / W)  # d*W + L <= wm < (d+1)*W + L
        b = int(v["closed_to"]) + 1
        while b < decidable:  # every window before the decidable one is closed now
            yield from self._judge(b)
            self._close(b)
            b += 1
            if v["armed"] and not any(b - self.N <= int(k) < decidable for k in self._windows()):
                b = decidable  # armed, and every window up to it empty: nothing can happen
        if int(v["closed_to"]) != decidable - 1:
            v["closed_to"] = decidable - 1
            self.changed = True
        yield from self._judge(decidable)
        if self.new_unit_in is not None and self.new_unit_in == v["fired"]:
            alert = self._update(self.new_unit_in)
            if alert is not None:
                yield alert
        self._prune(decidable)

    def _judge(self, b: int) -> Iterator[Alert]:
        v = self.value
        if v["armed"] and self.count(b) >= self.fire_level(b):
            v["armed"] = False
            v["fired"] = b
            self.changed = True
            self.new_unit_in = None  # the firing carries this unit already
            yield self._alert(b, fired_with=self.count(b))

    def _close(self, b: int) -> None:
        v = self.value
        fired = v["fired"]
        after_firing = fired is None or b > fired
        if not v["armed"] and after_firing and self.count(b) < self.fire_level(b) / 2:
            v["armed"] = True  # subsided
        window = self._windows().get(str(b))
        if window is not None and "ids" in window:
            self._windows()[str(b)] = {"n": window["n"]}  # closed: the count is enough
        self.changed = True

    def _prune(self, decidable: int) -> None:
        keep_from = decidable - self.N  # the decidable window's baseline starts here
        for key in [k for k in self._windows() if int(k) < keep_from]:
            del self._windows()[key]
            self.changed = True

    # --- alerts ------------------------------------------------------------------------

    def _update(self, b: int) -> Alert | None:
        window = self._windows().get(str(b))
        if window is None or "ids" not in window:
            return None
        fired_with = int(self.value.get("fired_with", window["n"]))
        return self._alert(b, fired_with=fired_with)

    def _alert(self, b: int, *, fired_with: int) -> Alert:
        rule, spec = self.rule, self.spec
        window = self._windows()[str(b)]
        self.value["fired_with"] = fired_with
        first = window.get("first") or {}
        count = int(window["n"])
        start = b * self.W
        return Alert(
            id=f"{rule.id}:surge:{_iso(start)}",
            rule_id=rule.id,
            rule_name=rule.name,
            cluster_id=str(first.get("cluster_id", "")),
            article_id=str(first.get("article_id", "")),
            title=str(first.get("title", "")),
            url=str(first.get("url", "")),
            outlet=first.get("outlet"),
            matched_terms=list(first.get("terms", [])),
            copies=count,
            fired_at=utcnow(),
            published_at=first.get("published_at"),
            event_id=first.get("event_id"),
            event_time=datetime.fromtimestamp(float(self.value["wm"]), UTC),
            surge=SurgeWindow(
                per=spec.per,
                window_start=datetime.fromtimestamp(start, UTC),
                window_end=datetime.fromtimestamp(start + self.W, UTC),
                count=count,
                fired_with=fired_with,
                baseline=self.baseline(b),
                threshold=self.fire_level(b),
                units=list(window.get("sample", [])),
            ),
        )


def _digest(unit: str) -> str:
    """A unit id as 16 hex digits (64 bits): a window of 1000 stays ~19 KB."""
    return hashlib.blake2b(unit.encode(), digest_size=8).hexdigest()


def _first_of(candidate: Alert, t: float) -> dict[str, Any]:
    return {
        "t": t,
        "article_id": candidate.article_id,
        "cluster_id": candidate.cluster_id,
        "event_id": candidate.event_id,
        "title": candidate.title[:300],
        "url": candidate.url[:2000],
        "outlet": candidate.outlet,
        "terms": candidate.matched_terms[:20],
        "published_at": candidate.published_at.isoformat() if candidate.published_at else None,
    }


def _earlier(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The earliest article of a window: by event time, then article id (order-free)."""
    return (float(a["t"]), str(a["article_id"])) < (float(b["t"]), str(b["article_id"]))


def is_surge_firing(alert: Alert) -> bool:
    return alert.surge is not None and alert.surge.count == alert.surge.fired_with
