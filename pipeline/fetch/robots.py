"""robots.txt rules per origin, fetched through the guarded client and cached.

Follows RFC 9309: a 4xx robots.txt means no rules (allow all); a 5xx or an unreachable
robots.txt means disallow all for now, retried after a short TTL.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from pipeline.fetch.client import Fetcher, FetchError

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks parsers to handle at least 500 KiB


class RobotsCache:
    def __init__(
        self,
        fetcher: Fetcher,
        user_agent: str,
        ttl_s: float = 3600.0,
        error_ttl_s: float = 300.0,
        max_entries: int = 10_000,
    ) -> None:
        self.fetcher, self.user_agent = fetcher, user_agent
        self.ttl_s, self.error_ttl_s, self.max_entries = ttl_s, error_ttl_s, max_entries
        self._rules: dict[str, tuple[float, RobotFileParser | bool, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    async def check(self, url: str) -> tuple[bool, str]:
        """(allowed, why). ``why`` explains a refusal, e.g. for the article's text_note."""
        origin = self.origin(url)
        entry = self._rules.get(origin)
        if entry is None or entry[0] < time.monotonic():
            lock = self._locks.setdefault(origin, asyncio.Lock())
            async with lock:  # one robots.txt fetch per origin, however many pages wait
                entry = self._rules.get(origin)
                if entry is None or entry[0] < time.monotonic():
                    entry = await self._load(origin)
                    if len(self._rules) >= self.max_entries:
                        self._rules.clear()
                    self._rules[origin] = entry
        _, rules, note = entry
        if isinstance(rules, bool):
            return rules, note
        if rules.can_fetch(self.user_agent, url):
            return True, ""
        return False, f"disallowed by {origin}/robots.txt"

    async def _load(self, origin: str) -> tuple[float, RobotFileParser | bool, str]:
        now = time.monotonic()
        try:
            response = await self.fetcher.get(f"{origin}/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.reason == "too-large":
                return now + self.ttl_s, True, ""
            return now + self.error_ttl_s, False, f"robots.txt unavailable ({exc.reason})"
        if response.status >= 500:
            return (
                now + self.error_ttl_s,
                False,
                f"robots.txt answered HTTP {response.status}",
            )
        if response.status >= 400:
            return now + self.ttl_s, True, ""
        parser = RobotFileParser()
        parser.parse(response.text().splitlines())
        return now + self.ttl_s, parser, ""
