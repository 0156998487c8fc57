"""The pipeline's HTTP client: bounded, guarded, and explicit about why a fetch failed.

Redirects are followed here rather than by httpx so each hop's URL is validated, loops are
caught and the hop count is bounded; the address check itself happens at connect time in
``guard``. The body is streamed and cut off at ``max_bytes``, counted on decoded bytes as
they are produced (``body``: one coding at most, decoded step by step), and one deadline
covers the whole fetch including every redirect, so a server that drips a byte a second
cannot hold a worker. A URL httpx cannot use (octal host, bad IDNA label, a redirect to
``javascript:``) is a FetchError with a reason like any other refusal.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urljoin

import httpx

from pipeline.fetch.body import BodyRefused, read_body
from pipeline.fetch.guard import AddressPolicy, BlockedAddress, guarded_transport
from pipeline.settings import Settings
from pipeline.urls import InvalidURL, normalize_url

# httpx logs each request's full URL at INFO; the fetcher's own errors say what matters.
logging.getLogger("httpx").setLevel(logging.WARNING)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ERROR_BODY_LIMIT = 64 * 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(Exception):
    """A fetch that was refused or failed. ``reason`` is a short stable code for metrics."""

    def __init__(
        self,
        reason: str,
        detail: str,
        url: str,
        *,
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.reason, self.detail, self.url = reason, detail, url
        self.status, self.retry_after = status, retry_after
        super().__init__(f"{reason}: {detail}")


def feed_content_type_ok(content_type: str) -> bool:
    """Feeds are served with every imaginable type; refuse only what cannot be a feed."""
    media = content_type.split(";", 1)[0].strip().lower()
    return not media.startswith(
        ("image/", "audio/", "video/", "font/", "model/")
    ) and media not in {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/vnd.ms-excel",
        "application/msword",
    }


def page_content_type_ok(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in {"", "text/html", "application/xhtml+xml", "text/plain"}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


@dataclass
class FetchResponse:
    url: str  # final URL after redirects
    status: int
    headers: httpx.Headers
    content: bytes = b""
    redirects: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def charset(self) -> str | None:
        """The charset the server declared, if Python knows it."""
        match = re.search(r"charset\s*=\s*[\"']?([^\"';\s]+)", self.content_type, re.I)
        return _codec(match.group(1)) if match else None

    def text(self) -> str:
        """Decode the body: declared charset, then BOM / in-document declaration, then UTF-8,
        then cp1252 (the usual truth behind "iso-8859-1" and undeclared Western pages)."""
        body = self.content
        for bom, name in (
            (codecs.BOM_UTF8, "utf-8-sig"),
            (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"),
        ):
            if body.startswith(bom):
                return body.decode(name, errors="replace")
        candidates = [self.charset]
        head = body[:4096]
        for pattern in (_XML_ENCODING, _META_CHARSET):
            match = pattern.search(head)
            if match:
                candidates.append(_codec(match.group(1).decode("ascii", "replace")))
        for name in candidates:
            if name:
                return body.decode(name, errors="replace")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("cp1252", errors="replace")


class Fetcher:
    """Async GET with the guards above. One instance per process; share it."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        policy: AddressPolicy | None = None,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
        max_redirects: int | None = None,
        user_agent: str | None = None,
        max_connections: int = 200,
    ) -> None:
        settings = settings or Settings()
        self.policy = policy or AddressPolicy(settings.fetch_allow_networks)
        self.max_bytes = max_bytes if max_bytes is not None else settings.fetch_max_bytes
        self.timeout_s = timeout_s if timeout_s is not None else settings.fetch_timeout_s
        self.max_redirects = (
            max_redirects if max_redirects is not None else settings.fetch_max_redirects
        )
        transport = guarded_transport(self.policy, max_connections)
        # A poller talking to thousands of sites must not accumulate their cookies.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            cookies=no_cookies,
            headers={
                "User-Agent": user_agent or settings.user_agent,
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(min(self.timeout_s, 30.0)),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        accept: Callable[[str], bool] | None = None,
        max_bytes: int | None = None,
        timeout_s: float | None = None,
    ) -> FetchResponse:
        """GET ``url``. Returns the final response (any status, body read only for 2xx);
        raises FetchError with a reason code when refused, cut off or unreachable."""
        deadline = timeout_s if timeout_s is not None else self.timeout_s
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                response = await self._follow(url, dict(headers or {}), accept, max_bytes)
        except TimeoutError:
            raise FetchError("timeout", f"no complete response within {deadline:g}s", url) from None
        response.elapsed_s = time.monotonic() - started
        return response

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        accept: Callable[[str], bool] | None,
        max_bytes: int | None,
    ) -> FetchResponse:
        limit = max_bytes if max_bytes is not None else self.max_bytes
        redirects: list[str] = []
        seen: set[str] = set()
        current = url
        while True:
            try:
                key = normalize_url(current)
            except InvalidURL as exc:
                reason = "bad-redirect" if redirects else "invalid-url"
                raise FetchError(reason, str(exc), url) from None
            if key in seen:
                raise FetchError(
                    "redirect-loop", f"{current} was already visited ({len(redirects)} hops)", url
                )
            seen.add(key)
            try:
                request = self._client.build_request("GET", current, headers=headers)
            except (httpx.InvalidURL, ValueError) as exc:  # octal host, bad IDNA label, ...
                reason = "bad-redirect" if redirects else "invalid-url"
                raise FetchError(reason, f"{current!r}: {exc}", url) from None
            try:
                response = await self._client.send(request, stream=True)
            except BlockedAddress as exc:
                raise FetchError("blocked-address", str(exc), url) from None
            except (httpx.InvalidURL, ValueError) as exc:
                # httpx builds the next request of every 3xx itself, even when not following
                raise FetchError(
                    "bad-redirect", f"{current} redirects to an unusable location: {exc}", url
                ) from None
            except httpx.RemoteProtocolError as exc:
                if "location header" not in str(exc).lower():
                    raise FetchError("connect", f"{type(exc).__name__}: {exc}", url) from None
                raise FetchError("bad-redirect", f"{current}: {exc}", url) from None
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", f"{type(exc).__name__} for {current}", url) from None
            except (httpx.HTTPError, OSError) as exc:
                raise FetchError("connect", f"{type(exc).__name__}: {exc}", url) from None
            try:
                if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                    if len(redirects) >= self.max_redirects:
                        raise FetchError(
                            "too-many-redirects", f"more than {self.max_redirects} redirects", url
                        )
                    location = response.headers["location"]
                    try:
                        current = urljoin(current, location)
                    except ValueError as exc:  # e.g. "http://[::1/"
                        raise FetchError("bad-redirect", f"{location!r}: {exc}", url) from None
                    redirects.append(current)
                    continue
                return await self._read(response, url, current, redirects, accept, limit)
            finally:
                await response.aclose()

    async def _read(
        self,
        response: httpx.Response,
        url: str,
        final_url: str,
        redirects: list[str],
        accept: Callable[[str], bool] | None,
        limit: int,
    ) -> FetchResponse:
        ok = 200 <= response.status_code < 300
        content_type = response.headers.get("content-type", "")
        if ok and accept is not None and not accept(content_type):
            raise FetchError(
                "bad-content-type",
                f"unexpected content type {content_type!r}",
                url,
                status=response.status_code,
            )
        cap = limit if ok else _ERROR_BODY_LIMIT
        declared = response.headers.get("content-length", "")
        if ok and declared.isdigit() and int(declared) > cap:
            raise FetchError(
                "too-large",
                f"declared {int(declared):,} bytes, limit {cap:,}",
                url,
                status=response.status_code,
            )
        try:
            content = await read_body(response, cap, truncate=not ok)
        except BodyRefused as exc:
            raise FetchError(exc.reason, exc.detail, url, status=response.status_code) from None
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{type(exc).__name__} while reading", url) from None
        except httpx.HTTPError as exc:
            if ok:
                raise FetchError("connect", f"{type(exc).__name__}: {exc}", url) from None
            content = b""
        return FetchResponse(
            url=final_url,
            status=response.status_code,
            headers=response.headers,
            content=content,
            redirects=redirects,
        )
