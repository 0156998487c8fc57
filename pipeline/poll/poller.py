"""The poll loop: feed -> new entries -> page -> extract -> Article -> outbox -> Kafka.

One ``run_once`` polls every due feed this replica owns, then delivers the outbox. Nothing
polled can be lost: an item's article goes to the SQLite outbox in the same transaction
that advances its feed's validators, and is marked seen only when Kafka acknowledges it.
Every entry ends up counted: sent, pending (waiting for Kafka), already seen, or rejected
with a reason; every feed poll ends as new / not-modified / unchanged / failed with its
reason. No exception from one feed reaches another.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pipeline import schemas, topics
from pipeline.extract import Extracted, ExtractionFailed, extract_page
from pipeline.fetch.client import Fetcher, FetchError, feed_content_type_ok, page_content_type_ok
from pipeline.fetch.robots import RobotsCache
from pipeline.poll import metrics, registry, scheduler
from pipeline.poll.parse import FeedEntry, HostileFeed, ParsedFeed, parse_feed
from pipeline.poll.readiness import Readiness, ReadinessMonitor
from pipeline.poll.registry import FeedSpec
from pipeline.poll.state import FeedState, StateStore, owns
from pipeline.records import Article
from pipeline.sandbox import Sandbox, SandboxError
from pipeline.settings import Settings
from pipeline.urls import InvalidURL, article_id, domain_of, normalize_url

log = logging.getLogger(__name__)

PAGE_CONCURRENCY_PER_FEED = 4
SAVE_BATCH = 256
_ORDINAL = re.compile(r"-(\d+)$")


class ArticleSink(Protocol):
    """Where articles go. ``deliver`` blocks (it runs in a worker thread)."""

    def deliver(self, items: list[tuple[str, bytes]]) -> tuple[list[str], dict[str, str]]: ...

    def close(self) -> None: ...


@dataclass
class FeedOutcome:
    url: str
    outcome: metrics.FeedPollOutcome  # "unchanged": a 200 with the same bytes
    new_items: int = 0
    error: str | None = None
    bozo_reason: str | None = None
    malformed: bool = False
    parked: str | None = None


@dataclass
class PollReport:
    feeds_owned: int = 0
    feeds_due: int = 0
    outcomes: list[FeedOutcome] = field(default_factory=list)
    articles_queued: int = 0
    duplicates: int = 0  # listed by two feeds in one cycle: queued once
    articles_sent: int = 0
    send_failures: dict[str, str] = field(default_factory=dict)
    pending: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (feed or link, reason)
    page_fallbacks: int = 0
    parked: list[tuple[str, str]] = field(default_factory=list)  # (feed, why) parked now
    duration_s: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def errors(self) -> dict[str, str]:
        return {o.url: o.error or "" for o in self.outcomes if o.outcome in ("failed", "refused")}

    @property
    def malformed(self) -> dict[str, str]:
        return {o.url: o.bozo_reason or "" for o in self.outcomes if o.malformed}

    def park_notices(self) -> list[str]:
        return [park_notice(url, why) for url, why in self.parked]

    def summary(self) -> str:
        return (
            f"{len(self.outcomes)} feeds polled ({self.count('new')} with new items, "
            f"{self.count('no-new')} without, {self.count('not-modified')} not modified, "
            f"{self.count('unchanged')} unchanged, "
            f"{self.count('failed') + self.count('refused')} failed), "
            f"{self.articles_queued} new articles ({self.duplicates} duplicates), "
            f"{self.articles_sent} sent to Kafka, "
            f"{self.pending} pending, {len(self.rejected)} rejected, "
            f"{self.page_fallbacks} with feed text, in {self.duration_s:.1f}s"
        )


def park_notice(url: str, reason: str) -> str:
    """What an operator reads when a poll parks a feed: why, and how to poll it again."""
    return (
        f"parked {url}: {reason}. It is not polled again until you fix it and run "
        f"`wirewatch feeds unpark {url}`"
    )


def replica_ordinal(settings: Settings) -> int:
    if settings.poller_ordinal is not None:
        return settings.poller_ordinal
    match = _ORDINAL.search(os.environ.get("HOSTNAME", ""))
    return int(match.group(1)) if match else 0


def _strip_validators(headers: dict[str, str]) -> None:
    headers.pop("If-None-Match", None)
    headers.pop("If-Modified-Since", None)


class Poller:
    """Polls the registry's feeds. Owns (and closes) whatever it had to create itself."""

    def __init__(
        self,
        settings: Settings,
        feeds: Sequence[FeedSpec] | Path | None = None,
        *,
        state: StateStore | None = None,
        sink: ArticleSink | None = None,
        fetcher: Fetcher | None = None,
        schedule: scheduler.ScheduleConfig | None = None,
        progress: Callable[[FeedOutcome], None] | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.settings = settings
        self._feeds_source = (
            feeds if feeds is not None else (settings.feeds_file or settings.home / "feeds.yaml")
        )
        self._owned: list[object] = []
        self.state = state or StateStore(settings.home / "poller.sqlite3")
        if state is None:
            self._owned.append(self.state)
        # Feeds and their pages are fetched under one poll_concurrency limit: a larger pool
        # only makes httpcore scan more idle connections per request.
        self.fetcher = fetcher or Fetcher(settings, max_connections=settings.poll_concurrency)
        if fetcher is None:
            self._owned.append(self.fetcher)
        self._sink = sink
        # Feed parsing and page extraction: in worker processes stopped past the timeout.
        self.sandbox = sandbox or Sandbox(
            settings.extract_workers, settings.extract_timeout_s, settings.extract_memory_mib
        )
        if sandbox is None:
            self._owned.append(self.sandbox)
        self.schedule = schedule or scheduler.ScheduleConfig(
            min_interval_s=settings.poll_min_interval_s,
            max_interval_s=settings.poll_max_interval_s,
        )
        self.gate = scheduler.HostGate(
            settings.poll_per_host_concurrency, settings.poll_per_host_spacing_s
        )
        self.robots = RobotsCache(self.fetcher, settings.user_agent)
        self.progress = progress
        self.ordinal = replica_ordinal(settings)
        self.topic = topics.qualified(topics.ARTICLES_RAW, settings.topic_prefix)
        self._delivery_failures = 0
        self.readiness: ReadinessMonitor | None = None
        self._last_specs: list[FeedSpec] | None = None
        # Feed-state updates without articles are written in batches (a crash loses at most
        # one batch of schedule/validator updates, never an article: those commit at once).
        self._unsaved: dict[str, FeedState] = {}

    # --- resources ----------------------------------------------------------------------

    @property
    def sink(self) -> ArticleSink:
        if self._sink is None:
            from pipeline.adapters.kafka import KafkaArticleSink, make_producer

            self._sink = KafkaArticleSink(make_producer(self.settings), self.topic)
            self._owned.append(self._sink)
        return self._sink

    def watch_readiness(
        self, probe: Callable[[], None] | None = None, **timing: float
    ) -> ReadinessMonitor:
        """Start judging "can deliver" for /readyz: recent acknowledgements, else a bounded
        metadata probe of the articles topic every few seconds (``probe`` replaces it)."""
        close = None
        if probe is None:
            from pipeline.adapters.kafka import TopicLeaderProbe

            leader_probe = TopicLeaderProbe(self.settings, self.topic)
            probe, close = leader_probe.check, leader_probe.close
        self.readiness = ReadinessMonitor(probe, close=close, **timing)
        self.readiness.start()
        return self.readiness

    def ready(self) -> Readiness:
        """For /readyz: can this poller deliver articles to Kafka now?"""
        if self.readiness is None:
            return Readiness(False, "readiness is not watched (polling once?)")
        return self.readiness.state()

    async def aclose(self) -> None:
        if self.readiness is not None:
            await asyncio.to_thread(self.readiness.stop)
        for resource in reversed(self._owned):
            if isinstance(resource, Fetcher):
                await resource.aclose()
            elif isinstance(resource, StateStore | Sandbox):
                resource.close()
            else:
                await asyncio.to_thread(resource.close)  # type: ignore[attr-defined]
        self._owned.clear()

    def feeds(self) -> list[FeedSpec]:
        """This replica's feeds. A registry file is re-read every cycle, so edits apply
        without a restart; while it is unreadable (a half-saved edit) the last good list
        is used."""
        source = self._feeds_source
        if isinstance(source, Path):
            try:
                self._last_specs = registry.load(source)
            except registry.RegistryError as exc:
                if self._last_specs is None:
                    raise
                log.error("keeping the previous feed list: %s", exc)
            specs = self._last_specs
        else:
            specs = list(source)
        replicas = max(1, self.settings.poller_replicas)
        return [s for s in specs if owns(s.url, replicas, self.ordinal)]

    # --- the cycle ----------------------------------------------------------------------

    async def run_once(self, *, ignore_schedule: bool = False) -> PollReport:
        """Poll every due feed (all unparked ones with ``ignore_schedule``), then deliver."""
        started = time.monotonic()
        report = PollReport()
        specs = self.feeds()
        states = self.state.feeds()
        now = time.time()
        report.feeds_owned = len(specs)
        due = [
            s
            for s in specs
            if (st := states.get(s.url)) is None
            or (st.parked_reason is None and (ignore_schedule or st.next_poll <= now))
        ]
        report.feeds_due = len(due)
        limit = asyncio.Semaphore(max(1, self.settings.poll_concurrency))

        async def one(spec: FeedSpec) -> None:
            async with limit:
                outcome = await self._poll_feed(spec, states.get(spec.url), report)
            report.outcomes.append(outcome)
            metrics.FEEDS.labels(outcome.outcome).inc()
            if outcome.parked:  # only feeds that were due, so parked by this very poll
                report.parked.append((outcome.url, outcome.parked))
            if self.progress is not None:
                self.progress(outcome)

        try:
            await asyncio.gather(*(one(spec) for spec in due))
        finally:
            self._flush_states()
        await self.deliver(report)
        metrics.PARKED.set(sum(1 for st in self.state.feeds().values() if st.parked_reason))
        report.duration_s = time.monotonic() - started
        return report

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Poll until ``stop`` is set, sleeping until the next feed is due."""
        stop = stop or asyncio.Event()
        last_prune = 0.0
        while not stop.is_set():
            report = await self.run_once()
            log.info("poll cycle: %s", report.summary())
            for notice in report.park_notices():
                log.warning("%s", notice)
            if time.time() - last_prune > 24 * 3600:
                self.state.prune_seen()
                last_prune = time.time()
            wait = self._seconds_until_next_due()
            if report.pending:  # Kafka was unreachable: retry the outbox with backoff
                wait = min(wait, min(60.0, 2.0 * 2 ** min(self._delivery_failures, 5)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.5, wait))

    def _seconds_until_next_due(self) -> float:
        states = self.state.feeds()
        now = time.time()
        upcoming = [
            states[s.url].next_poll if s.url in states else now
            for s in self.feeds()
            if s.url not in states or states[s.url].parked_reason is None
        ]
        return min(60.0, max(0.0, min(upcoming, default=now + 60.0) - now))

    # --- one feed -----------------------------------------------------------------------

    async def _poll_feed(
        self, spec: FeedSpec, state: FeedState | None, report: PollReport
    ) -> FeedOutcome:
        state = state or FeedState(url=spec.url)
        now = time.time()
        try:
            return await self._poll_feed_inner(spec, state, report, now)
        except Exception as exc:  # a bug for one feed must not stop the others
            log.exception("poll of %s crashed", spec.url)
            error = f"internal error: {type(exc).__name__}: {exc}"
            self._fail(state, now, error, "internal")
            return FeedOutcome(spec.url, "failed", error=error, parked=state.parked_reason)

    def _save_later(self, state: FeedState) -> None:
        self._unsaved[state.url] = state
        if len(self._unsaved) >= SAVE_BATCH:
            self._flush_states()

    def _flush_states(self) -> None:
        if self._unsaved:
            states, self._unsaved = list(self._unsaved.values()), {}
            self.state.save_feeds(states)

    def _fail(
        self,
        state: FeedState,
        now: float,
        error: str,
        reason: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        scheduler.record_failure(
            state,
            now,
            error,
            reason=reason,
            status=status,
            retry_after_s=retry_after_s,
            cfg=self.schedule,
        )
        self._save_later(state)

    async def _poll_feed_inner(
        self, spec: FeedSpec, state: FeedState, report: PollReport, now: float
    ) -> FeedOutcome:
        host = urlsplit(spec.url).netloc.lower()
        headers: dict[str, str] = {
            "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
            "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
        }
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        full_fetch_due = (
            state.last_full_fetch is not None
            and now - state.last_full_fetch > self.schedule.full_fetch_every_s
        )
        if full_fetch_due:  # validators can lie: now and then, fetch without them
            _strip_validators(headers)
        try:
            async with self.gate.slot(host):
                with metrics.FETCH_SECONDS.labels("feed").time():
                    response = await self.fetcher.get(
                        spec.url, headers=headers, accept=feed_content_type_ok
                    )
        except FetchError as exc:
            error = f"{exc.reason}: {exc.detail}"
            self._fail(state, now, error, exc.reason, exc.status)
            outcome: metrics.FeedPollOutcome = (
                "refused" if exc.reason == "blocked-address" else "failed"
            )
            return FeedOutcome(spec.url, outcome, error=error, parked=state.parked_reason)

        status = response.status
        state.last_status = status
        if status in (429, 503):
            retry_after = scheduler.parse_retry_after(response.headers.get("retry-after"), now)
            if retry_after is not None:
                self.gate.hold(host, min(retry_after, self.schedule.retry_after_cap_s))
            error = f"HTTP {status}" + (f", Retry-After {retry_after:.0f}s" if retry_after else "")
            self._fail(state, now, error, "http-status", status, retry_after)
            return FeedOutcome(spec.url, "failed", error=error, parked=state.parked_reason)
        if status == 304:
            scheduler.record_success(state, now, 0, spec.interval, self.schedule)
            self._save_later(state)
            return FeedOutcome(spec.url, "not-modified")
        if not 200 <= status < 300:
            error = f"HTTP {status}"
            self._fail(state, now, error, "http-status", status)
            return FeedOutcome(spec.url, "failed", error=error, parked=state.parked_reason)

        state.etag = response.headers.get("etag") or None
        state.last_modified = response.headers.get("last-modified") or None
        state.last_full_fetch = (
            now
            if "If-None-Match" not in headers and ("If-Modified-Since" not in headers)
            else state.last_full_fetch or now
        )
        body_hash = hashlib.sha1(response.content).hexdigest()
        if body_hash == state.body_hash:  # a 200 with the same bytes: validators lie
            scheduler.record_success(state, now, 0, spec.interval, self.schedule)
            self._save_later(state)
            return FeedOutcome(spec.url, "unchanged")

        try:
            parsed = await self.sandbox.run(
                parse_feed, response.content, response.url, dict(response.headers)
            )
        except HostileFeed as exc:
            self._fail(state, now, str(exc), "hostile", status)
            return FeedOutcome(spec.url, "refused", error=str(exc), parked=state.parked_reason)
        except (SandboxError, MemoryError, RecursionError) as exc:
            error = f"refused: parsing the feed {exc} (WIREWATCH_EXTRACT_TIMEOUT_S)"
            if not isinstance(exc, SandboxError):
                error = f"refused: parsing the feed raised {type(exc).__name__}"
            self._fail(state, now, error, "hostile", status)
            return FeedOutcome(spec.url, "refused", error=error, parked=state.parked_reason)
        except ValueError as exc:
            error = f"not a feed: {exc}"
            self._fail(state, now, error, "parse", status)
            return FeedOutcome(spec.url, "failed", error=error, parked=state.parked_reason)

        state.bozo_reason = parsed.bozo_reason
        if parsed.truncated:
            report.rejected.append(
                (spec.url, f"feed lists {parsed.truncated} entries beyond the per-poll limit")
            )
        for reason, count in parsed.skipped.items():  # items of the wrong shape
            report.rejected.append((spec.url, f"{count} item(s) skipped: {reason}"))
        new = await self._new_articles(spec, parsed, report)
        queued = 0
        with self.state.transaction() as conn:
            for article_key, payload, link, rejection in new:
                if rejection is None:
                    if self.state.enqueue(conn, article_key, spec.url, payload):
                        queued += 1
                    else:
                        report.duplicates += 1
                else:
                    self.state.reject(conn, article_key, spec.url, rejection)
                    report.rejected.append((link, rejection))
                    metrics.ARTICLES.labels("rejected").inc()
            report.articles_queued += queued
            metrics.ARTICLES.labels("queued").inc(queued)
            state.body_hash = body_hash
            scheduler.record_success(state, now, queued, spec.interval, self.schedule)
            self._unsaved.pop(state.url, None)
            self.state.save_feed(state, conn)
        return FeedOutcome(
            spec.url,
            "new" if queued else "no-new",
            new_items=queued,
            bozo_reason=parsed.bozo_reason,
            malformed=parsed.malformed,
        )

    # --- entries -> articles ------------------------------------------------------------

    async def _new_articles(
        self, spec: FeedSpec, parsed: ParsedFeed, report: PollReport
    ) -> list[tuple[str, bytes, str, str | None]]:
        """(article id, payload, link, rejection) for each entry not seen before."""
        candidates: dict[str, tuple[FeedEntry, str]] = {}
        rejected: list[tuple[str, bytes, str, str | None]] = []
        for entry in parsed.entries:
            link = entry.link
            if not link and entry.guid and entry.guid.startswith(("http://", "https://")):
                link = entry.guid
            try:
                key = article_id(link or "")
            except InvalidURL as exc:
                # Remember the refusal under an id of its own so it is reported once.
                ident = f"{spec.url}\n{entry.guid or ''}\n{entry.title or ''}\n{link or ''}"
                key = "entry:" + hashlib.sha1(ident.encode()).hexdigest()
                rejected.append(
                    (key, b"", link or entry.guid or spec.url, f"entry has no usable link: {exc}")
                )
                continue
            candidates.setdefault(key, (entry, link or ""))
        known = self.state.known([*candidates, *(r[0] for r in rejected)])
        self.state.touch_seen(k for k in candidates if k in known)
        fresh = {k: v for k, v in candidates.items() if k not in known}
        out = [r for r in rejected if r[0] not in known]
        limit = asyncio.Semaphore(PAGE_CONCURRENCY_PER_FEED)

        async def build(key: str, entry: FeedEntry, link: str) -> None:
            try:
                async with limit:
                    article = await self._article(spec, parsed, entry, link, key)
            except Exception as exc:  # one item's bug must not fail the feed's other items
                log.exception("building the article for %s crashed", link)
                out.append((key, b"", link, f"internal error: {type(exc).__name__}: {exc}"))
                return
            if article.text_source == "feed":
                report.page_fallbacks += 1
            metrics.TEXT_SOURCE.labels(article.text_source).inc()
            payload = article.to_json()
            try:
                schemas.validate(topics.ARTICLES_RAW.name, json.loads(payload))
            except schemas.SchemaError as exc:
                out.append((key, b"", link, f"schema: {exc}"))
                return
            out.append((key, payload, link, None))

        await asyncio.gather(*(build(k, e, link) for k, (e, link) in fresh.items()))
        return out

    async def _article(
        self, spec: FeedSpec, parsed: ParsedFeed, entry: FeedEntry, link: str, key: str
    ) -> Article:
        extracted, note = await self._page(link)
        summary = entry.summary
        if extracted is not None:
            text, source = extracted.text, "page"
        else:
            text, source = summary or entry.title or "", "feed"
            if not summary:
                note = f"{note}; the feed has no summary either"
        title = entry.title or (extracted.title if extracted else None) or "(untitled)"
        return Article(
            id=key,
            url=link,
            normalized_url=normalize_url(link),
            canonical_url=extracted.canonical_url if extracted else None,
            feed_url=spec.url,
            feed_name=spec.name or parsed.title,
            # The operator's name for the feed is the outlet (what `search --outlet` and
            # rules match); the page's own site name is kept beside it.
            outlet=spec.name or (extracted.site_name if extracted else None) or parsed.title,
            site_name=extracted.site_name if extracted else None,
            domain=domain_of(link),
            title=title,
            summary=summary,
            text=text,
            authors=(extracted.authors if extracted and extracted.authors else entry.authors),
            published_at=entry.published_at or (extracted.published_at if extracted else None),
            language=(extracted.language if extracted else None)
            or entry.language
            or spec.language
            or parsed.language,
            tags=list(spec.tags),
            text_source=source,
            text_note=None if source == "page" else note,
        )

    async def _page(self, link: str) -> tuple[Extracted | None, str]:
        """The page's extraction, or None and why not."""
        if not self.settings.fetch_pages:
            return None, "page fetching is off (WIREWATCH_FETCH_PAGES=false)"
        try:
            host = urlsplit(link).netloc.lower()
        except ValueError as exc:  # e.g. "http://[::1/": unfetchable, the summary stays
            return None, f"page not fetched: invalid-url: {exc}"
        if self.settings.respect_robots:
            allowed, why = await self.robots.check(link)
            if not allowed:
                return None, f"robots.txt: {why}"
        try:
            async with self.gate.slot(host):
                with metrics.FETCH_SECONDS.labels("page").time():
                    response = await self.fetcher.get(link, accept=page_content_type_ok)
        except FetchError as exc:
            return None, f"page not fetched: {exc.reason}: {exc.detail}"
        if response.status != 200:
            return None, f"page answered HTTP {response.status}"
        html = response.text()
        cap = self.settings.extract_max_bytes
        if len(html) > cap:  # extraction time grows faster than the page: cut it first
            html = html[:cap]
        try:
            return await self.sandbox.run(extract_page, html, response.url), ""
        except ExtractionFailed as exc:
            return None, f"extraction failed: {exc}"
        except SandboxError as exc:
            return None, f"extraction stopped: {exc} (WIREWATCH_EXTRACT_TIMEOUT_S)"
        except Exception as exc:  # trafilatura/lxml on hostile markup: keep the summary
            return None, f"extraction failed: {type(exc).__name__}: {exc}"

    # --- delivery -----------------------------------------------------------------------

    async def deliver(self, report: PollReport | None = None) -> PollReport:
        """Send the outbox to Kafka; acknowledged articles become seen."""
        report = report or PollReport()
        while True:
            batch = self.state.pending(limit=500)
            if not batch:
                break
            items = [(p.article_id, p.payload) for p in batch]
            try:
                sink = self._sink or await asyncio.to_thread(lambda: self.sink)  # may block
                acked, failed = await asyncio.to_thread(sink.deliver, items)
            except Exception as exc:  # e.g. no broker reachable to build the producer
                reason = f"{type(exc).__name__}: {exc}"
                acked, failed = [], {key: reason for key, _ in items}
            self.state.mark_sent(acked)
            if acked and self.readiness is not None:
                self.readiness.delivered()
            report.articles_sent += len(acked)
            metrics.ARTICLES.labels("sent").inc(len(acked))
            if failed:
                self.state.mark_failed(failed)
                report.send_failures.update(failed)
                metrics.ARTICLES.labels("send-failed").inc(len(failed))
                self._delivery_failures += 1
                log.warning(
                    "Kafka did not acknowledge %d articles (kept in the outbox): %s",
                    len(failed),
                    next(iter(failed.values())),
                )
                break  # the broker is struggling; the next cycle retries
            self._delivery_failures = 0
        report.pending = self.state.pending_count()
        metrics.OUTBOX.set(report.pending)
        return report
