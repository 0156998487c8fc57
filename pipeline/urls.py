"""URL normalisation and the deterministic article id derived from it.

The id is the Kafka key and the Elasticsearch ``_id``, so two links to the same page must
normalise to the same string. The rules are conservative: they drop what never changes the
page (fragment, tracking parameters, default port, host case, parameter order) and keep
everything else, including path case and the scheme, because servers may treat those as
different resources.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import unquote, urlsplit, urlunsplit

import idna

#: Query parameters that only track the reader, never select content.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wt.mc_id",
        "ocid",
        "smid",
        "cmpid",
        "icid",
        "ito",
        "sr_share",
        "share",
        "ref_src",
        "ref_url",
        "__twitter_impression",
    }
)
#: Parameter-name prefixes that are tracking by convention (Google, comScore, AT Internet).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "ns_", "at_", "pk_", "mtm_")

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 section 2: characters that never need escaping, and those allowed unescaped in
# a path (pchar and "/") or in a query (pchar, "/" and "?"). Reserved characters keep the
# form they were written in: "%2F" stays "%2F", "+" stays "+" (servers tell them apart).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_CHARS = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_CHARS = frozenset(_PATH_CHARS | {"?"})
_ESCAPE_OR_CHAR = re.compile(r"%[0-9A-Fa-f]{2}|.", re.S)


class InvalidURL(ValueError):
    """The string is not an absolute http(s) URL."""


def is_tracking_param(name: str) -> bool:
    lowered = unquote(name).lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalize_escapes(component: str, allowed: frozenset[str]) -> str:
    """RFC 3986 section 6.2.2.2 at the byte level: an escape of an unreserved character is
    decoded, every other escape is upper-cased and kept (an invalid UTF-8 byte stays that
    byte, so "caf%E9" and "caf%E8" stay two URLs), and a character outside ``allowed``
    (a space, a stray "%", any non-ASCII character as its UTF-8 bytes) is escaped."""

    def one(match: re.Match[str]) -> str:
        token = match.group()
        if len(token) == 3:
            char = chr(int(token[1:], 16))
            return char if char in _UNRESERVED else token.upper()
        if token in allowed:
            return token
        return "".join(f"%{byte:02X}" for byte in token.encode("utf-8", "surrogatepass"))

    return _ESCAPE_OR_CHAR.sub(one, component)


def _normalize_host(host: str) -> str:
    """The host as httpx will connect to it: lower case, IDNA 2008 (``idna``, as httpx)."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise InvalidURL("URL has no host")
    if host.startswith("["):  # IPv6 literal: one spelling per address
        inner = host[1:-1]
        try:
            return f"[{ipaddress.IPv6Address(inner).compressed}]"
        except ValueError:
            return host
    if host.isascii():
        return host
    try:
        return idna.encode(host).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(f"invalid international host name {host!r}: {exc}") from None


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, so "/a/./b/../c" and "/a/c" are one page."""
    out: list[str] = []
    rest = path
    while rest:
        if rest.startswith("../"):
            rest = rest[3:]
        elif rest.startswith("./") or rest.startswith("/./"):
            rest = rest[2:]
        elif rest == "/.":
            rest = "/"
        elif rest.startswith("/../"):
            rest = rest[3:]
            if out:
                out.pop()
        elif rest == "/..":
            rest = "/"
            if out:
                out.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1)
            end = len(rest) if end == -1 else end
            out.append(rest[:end])
            rest = rest[end:]
    result = "".join(out)
    return result if result.startswith("/") else "/" + result


def _normalize_query(query: str) -> str:
    """Tracking parameters dropped, the rest sorted by name (repeated names keep their
    order), each name and value escape-normalised as written: no form decoding, so "+"
    and "%2B" and "%20" stay three different things."""
    params: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = _normalize_escapes(name, _QUERY_CHARS)
        if is_tracking_param(name):
            continue
        params.append((name, eq + _normalize_escapes(value, _QUERY_CHARS)))
    params.sort(key=lambda kv: kv[0])
    return "&".join(name + value for name, value in params)


def normalize_url(url: str) -> str:
    """The canonical spelling of an absolute http(s) URL; idempotent.

    Lower-cases scheme and host (IDNA 2008 for international names, as httpx fetches
    them), drops the fragment, user info, default port and tracking parameters (utm_*,
    fbclid, gclid, mc_cid, ...), sorts the remaining query parameters, normalises
    percent-encoding (RFC 3986 6.2.2: reserved characters stay as written) and removes dot
    segments. Raises ``InvalidURL`` otherwise.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidURL("empty URL")
    raw = url.strip()
    if raw.startswith("//"):
        raw = "http:" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"unparseable URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    netloc_host = parts.netloc.rpartition("@")[2]
    if netloc_host.startswith("["):
        host = _normalize_host(netloc_host[: netloc_host.index("]") + 1])
    else:
        host = _normalize_host(parts.hostname or "")
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_normalize_escapes(parts.path, _PATH_CHARS) or "/")
    query = _normalize_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def article_id(url: str) -> str:
    """sha1 hex of the normalised URL: the article's Kafka key and Elasticsearch ``_id``."""
    return hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()


def domain_of(url: str) -> str:
    """The host of the normalised URL without a leading ``www.``."""
    host = urlsplit(normalize_url(url)).hostname or ""
    return host.removeprefix("www.")
