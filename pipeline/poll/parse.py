"""Feed bytes -> entries, with hostile XML refused before feedparser sees it.

feedparser is only ever given bytes our guarded client fetched (never a URL). Before it
parses, the bytes are decoded exactly as feedparser will decode them (its own
``convert_to_utf8``: BOM, EBCDIC and UTF-16/32 sniffing, HTTP charset, XML declaration),
and the UTF-8 result is read once by expat, a real XML parser rather than a regex:
- any parameter entity, any external entity (SYSTEM or PUBLIC, XXE), any unparsed entity,
  and any internal entity standing for more than ``MAX_ENTITY_CHARS`` characters is refused
  (a reference is at least three bytes, so a one-character entity cannot amplify; longer
  ones are the "billion laughs" and the quadratic single-entity blow-up);
- a declaration feedparser's own DOCTYPE regex would revive but expat did not see (hidden
  in a comment, or in a prolog expat cannot read) is refused too;
- past ``MAX_ENTRIES`` items the document is cut at the next item, so feedparser never
  spends time on entries it would drop (a 250k-item feed cost 18 s).
What parsing returns is then bounded again (``MAX_PARSED_RATIO``). JSON Feed (jsonfeed.org),
which this feedparser release does not read, is decoded and validated by ``jsonfeed``.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import io
import re
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import RE_ENTITY_PATTERN
from lxml import html as lxml_html

from pipeline.poll import jsonfeed

#: Most entity declarations one document may make (each one-character at most).
MAX_ENTITY_DECLS = 64
#: An internal entity may stand for one character (``<!ENTITY copy "&#169;">``), no more.
MAX_ENTITY_CHARS = 1
MAX_ENTRIES = 500  # per document; a feed listing more is truncated, the rest come next poll
#: What parsing returns may hold at most this many characters per input byte (plus a
#: constant): without entity expansion the text of a feed is never longer than its bytes.
MAX_PARSED_RATIO = 2
_PARSED_SLACK = 64 * 1024
_ITEM_TAG = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_FIRST_ELEMENT = re.compile(rb"<\w")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


class HostileFeed(ValueError):
    """The document is refused before parsing; the message says why."""


@dataclass
class FeedEntry:
    link: str | None
    guid: str | None
    title: str | None
    summary: str | None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    version: str
    entries: list[FeedEntry]
    language: str | None = None
    #: feedparser's reason when it flagged the document (bozo); entries may still exist
    bozo_reason: str | None = None
    #: bozo for a real defect, not one of feedparser's encoding/content-type notices
    malformed: bool = False
    truncated: int = 0
    #: items skipped with a reason (JSON Feed items of the wrong shape), reason -> count
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class PreparedXML:
    """The document as feedparser will parse it, checked."""

    data: bytes  # UTF-8 with an utf-8 XML declaration (feedparser's own conversion)
    encoding: str  # what feedparser decoded it as; "" when it could not
    notice: BaseException | None  # feedparser's encoding/content-type notice, if any
    truncated: int = 0  # items cut off past MAX_ENTRIES (counted approximately)


class _Cut(Exception):
    """Stops the scan at the first item past MAX_ENTRIES."""


class _Scan:
    """One expat pass: entity declarations refused, items counted, the cut point found."""

    def __init__(self) -> None:
        self.decls = 0
        self.items = 0
        self.in_item = 0
        self.stack: list[str] = []
        self.cut: int | None = None
        self.cut_stack: list[str] = []
        self.root_started = False
        parser = xml.parsers.expat.ParserCreate()  # no namespaces: names as written
        parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.EntityDeclHandler = self._entity
        parser.UnparsedEntityDeclHandler = self._unparsed
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        self.parser = parser

    def _entity(
        self,
        name: str,
        is_parameter: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        self.decls += 1
        kind = "parameter entity" if is_parameter else "entity"
        if value is None:
            raise HostileFeed(f"refused: external {kind} {name!r} (XXE)")
        if is_parameter:
            raise HostileFeed(f"refused: {kind} {name!r} declared (entity expansion attack)")
        if len(value) > MAX_ENTITY_CHARS:
            raise HostileFeed(
                f"refused: entity {name!r} stands for {len(value):,} characters "
                f"(entity expansion attack; at most {MAX_ENTITY_CHARS} allowed)"
            )
        if self.decls > MAX_ENTITY_DECLS:
            raise HostileFeed(f"refused: more than {MAX_ENTITY_DECLS} entity declarations")

    def _unparsed(self, name: str, *_: object) -> None:
        raise HostileFeed(f"refused: external entity {name!r} (XXE)")

    def _start(self, name: str, attrs: object) -> None:
        self.root_started = True
        local = name.rsplit(":", 1)[-1]
        if local in ("item", "entry"):
            if not self.in_item:
                self.items += 1
                if self.items > MAX_ENTRIES:
                    self.cut = self.parser.CurrentByteIndex
                    self.cut_stack = list(self.stack)
                    raise _Cut
            self.in_item += 1
        self.stack.append(name)

    def _end(self, name: str) -> None:
        self.stack.pop()
        if name.rsplit(":", 1)[-1] in ("item", "entry"):
            self.in_item -= 1


def _wide_text(data: bytes) -> str | None:
    """The document decoded as UTF-16/32 when its first bytes say so (BOM or NUL padding)."""
    head = data[:4]
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in head:
        for codec in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if text.lstrip().startswith("<"):
                return text
    return None


def prepare_xml(data: bytes, headers: Mapping[str, str] | None = None) -> PreparedXML:
    """Decode ``data`` as feedparser will and check it; HostileFeed when refused."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    result: dict[str, Any] = {}
    utf8 = convert_to_utf8(lowered, data, result)
    encoding = result.get("encoding") or ""
    notice = result.get("bozo_exception")
    scan = _Scan()
    readable = True
    try:
        scan.parser.Parse(utf8, True)
    except _Cut:
        pass
    except xml.parsers.expat.ExpatError:
        readable = False  # feedparser falls back to its loose parser: check as it reads
    # feedparser re-inserts declarations its regex finds before the first element
    first = _FIRST_ELEMENT.search(utf8)
    head = utf8[: first.start() + 1] if first else utf8
    revived = len(RE_ENTITY_PATTERN.findall(head))
    if revived > scan.decls or (not readable and not scan.root_started and b"<!ENTITY" in head):
        raise HostileFeed(
            "refused: entity declarations expat could not read "
            "(in a comment or a malformed DOCTYPE)"
        )
    if scan.decls == 0:
        # feedparser may read UTF-16/32 without a declared encoding as UTF-8 (NULs and all)
        # and so never see a declaration; refuse one that a correct decoding would show
        wide = _wide_text(data)
        if wide is not None and "<!ENTITY" in wide.upper():
            second = _Scan()  # for the precise reason
            with contextlib.suppress(_Cut, xml.parsers.expat.ExpatError):
                second.parser.Parse(_XML_DECL.sub("", wide, count=1).encode(), True)
            raise HostileFeed("refused: entity declarations in a UTF-16/32 document")
    truncated = 0
    if scan.cut is not None:
        rest = utf8[scan.cut :]
        truncated = len(_ITEM_TAG.findall(rest))
        closing = "".join(f"</{name}>" for name in reversed(scan.cut_stack))
        utf8 = utf8[: scan.cut] + closing.encode()
    return PreparedXML(utf8, encoding, notice, truncated)


def guard_xml(data: bytes, headers: Mapping[str, str] | None = None) -> None:
    """Raise HostileFeed when the document declares entities it may not."""
    prepare_xml(data, headers)


def _clean_html(value: str | None) -> str | None:
    if not value:
        return None
    if "<" not in value and "&" not in value:
        return value.strip() or None
    try:
        text = lxml_html.fromstring(value).text_content()
    except Exception:  # lxml raises several types on junk; the raw value is still useful
        text = re.sub(r"<[^>]+>", " ", value)
    text = re.sub(r"\s+", " ", text).strip()
    return text or None


def _when(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names = [a.get("name") for a in entry.get("authors", []) if isinstance(a, Mapping)]
    names = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    if not names and isinstance(entry.get("author"), str) and entry["author"].strip():
        names = [entry["author"].strip()]
    return names


def _looks_like_json(data: bytes, content_type: str) -> bool:
    return "json" in content_type.lower() or data.lstrip()[:1] == b"{"


def _json_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json_feed(data: bytes) -> ParsedFeed:
    """A JSON Feed, decoded under ``jsonfeed``'s limits; HostileFeed past one of them."""
    try:
        doc, items, skipped, cut = jsonfeed.decode(data, MAX_ENTRIES)
    except jsonfeed.JSONFeedRefused as exc:
        raise HostileFeed(str(exc)) from None
    entries = []
    for item in items:
        authors = item.authors or ([item.author] if item.author else [])
        entries.append(
            FeedEntry(
                link=item.url or item.external_url,
                guid=item.id,
                title=_clean_html(item.title),
                summary=_clean_html(item.summary or item.content_text or item.content_html),
                authors=[a.name for a in authors if a.name],
                published_at=_json_date(item.date_published),
                language=item.language or doc.language,
            )
        )
    return ParsedFeed(
        title=doc.title,
        version="json1",
        entries=entries,
        language=doc.language,
        truncated=cut,
        skipped=skipped,
    )


def _parsed_chars(feed: ParsedFeed) -> int:
    total = len(feed.title or "")
    for entry in feed.entries:
        total += sum(len(x or "") for x in (entry.link, entry.guid, entry.title, entry.summary))
        total += sum(len(a) for a in entry.authors)
    return total


def _check_size(feed: ParsedFeed, size: int) -> ParsedFeed:
    chars, limit = _parsed_chars(feed), MAX_PARSED_RATIO * size + _PARSED_SLACK
    if chars > limit:
        raise HostileFeed(
            f"refused: {size:,} bytes parsed to {chars:,} characters (limit {limit:,})"
        )
    return feed


def parse_feed(data: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched document. Raises HostileFeed (refused) or ValueError (not a feed)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type", "")
    if _looks_like_json(data, content_type):
        try:
            return _check_size(parse_json_feed(data), len(data))
        except HostileFeed:
            raise
        except ValueError:
            if "json" in content_type.lower():
                raise
    prepared = prepare_xml(data, headers)
    if prepared.encoding:  # already UTF-8: feedparser must not decode it a second time
        media = content_type.split(";", 1)[0].strip() or "application/xml"
        headers["content-type"] = f"{media}; charset=utf-8"
    headers.setdefault("content-location", url)  # base for relative links
    result = feedparser.parse(io.BytesIO(prepared.data), response_headers=headers)
    if not result.get("bozo") and prepared.notice is not None:  # our decoding's notice
        result["bozo"], result["bozo_exception"] = True, prepared.notice
    bozo_reason, malformed = None, False
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        bozo_reason = f"{type(exc).__name__}: {exc}" if exc else "ill-formed"
        malformed = not isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe)
    feed = result.get("feed", {})
    raw_entries = result.get("entries", [])
    entries = [
        FeedEntry(
            link=(e.get("link") or None),
            guid=(e.get("id") or None),
            title=_clean_html(e.get("title")),
            summary=_clean_html(e.get("summary") or _first_content(e)),
            authors=_authors(e),
            published_at=_when(e.get("published_parsed") or e.get("updated_parsed")),
            language=(e.get("language") or None),
        )
        for e in raw_entries[:MAX_ENTRIES]
    ]
    parsed = ParsedFeed(
        title=feed.get("title"),
        version=result.get("version") or "",
        entries=entries,
        language=feed.get("language"),
        bozo_reason=bozo_reason,
        malformed=malformed,
        truncated=max(0, len(raw_entries) - MAX_ENTRIES) + prepared.truncated,
    )
    return _check_size(parsed, len(data))


def _first_content(entry: Mapping[str, Any]) -> str | None:
    for content in entry.get("content", []) or []:
        if isinstance(content, Mapping) and content.get("value"):
            return str(content["value"])
    return None
