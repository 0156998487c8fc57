"""URL normalisation and the deterministic article id derived from it.

The id is the Kafka key and the Elasticsearch ``_id``, so two links to the same page must
normalise to the same string. The rules are conservative: they drop what never changes the
page (fragment, tracking parameters, default port, host case, parameter order) and keep
everything else, including path case and the scheme, because servers may treat those as
different resources.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

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
# Characters left unescaped in a path / query component; everything else is %-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class InvalidURL(ValueError):
    """The string is not an absolute http(s) URL."""


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _normalize_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise InvalidURL("URL has no host")
    if host.startswith("["):  # IPv6 literal stays as written (lower-cased)
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4, so "/a/./b/../c" and "/a/c" are one page.
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/".join(output)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result if result.startswith("/") else "/" + result


def _requote(component: str, safe: str) -> str:
    # Decode then re-encode so "%7e", "~" and "%7E" become one spelling; keep "%2F" etc.
    # that would change meaning if decoded by quoting reserved characters again.
    return quote(unquote(component), safe=safe)


def normalize_url(url: str) -> str:
    """The canonical spelling of an absolute http(s) URL.

    Lower-cases scheme and host, drops the fragment, user info, default port and tracking
    parameters (utm_*, fbclid, gclid, mc_cid, ...), sorts the remaining query parameters,
    and normalises percent-encoding and dot segments. Raises ``InvalidURL`` otherwise.
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
    host = _normalize_host(parts.hostname or "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_requote(parts.path, _PATH_SAFE)) if parts.path else "/"
    params = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    params.sort(key=lambda kv: kv[0])  # stable: repeated keys keep their order
    query = urlencode(params, quote_via=quote, safe="/:@!$'()*+,;-._~")
    return urlunsplit((scheme, netloc, path, query, ""))


def article_id(url: str) -> str:
    """sha1 hex of the normalised URL: the article's Kafka key and Elasticsearch ``_id``."""
    return hashlib.sha1(normalize_url(url).encode("utf-8")).hexdigest()


def domain_of(url: str) -> str:
    """The host of the normalised URL without a leading ``www.``."""
    host = urlsplit(normalize_url(url)).hostname or ""
    return host.removeprefix("www.")
