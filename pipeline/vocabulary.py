"""The query vocabulary that alert rules, ``wirewatch search`` and ``alerts test`` share.

One table of query fields (``actor:``, ``outlet:`` ...): the rule parser accepts exactly
these prefixes, the Elasticsearch translation (pipeline.alerts.esquery) and the stream
matcher (pipeline.alerts.matcher) each have one entry per field (a unit test fails when
one is missing), and a field with an ``option`` becomes a repeatable option ("any of") of
both ``search`` and ``alerts test``. One time syntax for ``--since``/``--until``.

To add a field: ``register(QueryField(...))`` here, ``@translates("name")`` in esquery,
``@stream_test("name")`` in matcher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class QueryField:
    name: str  # the prefix in a query: ``actor:``
    help: str  # what it matches, in the analyst's terms
    option: str | None = None  # e.g. "--actor": a repeatable option of search / alerts test
    option_help: str | None = None
    words: bool = False  # the value is matched as words on word boundaries (text fields)
    actor: bool = False  # the value is an actor name, resolved through the actor registry
    aliases: tuple[str, ...] = ()  # other prefixes accepted for it
    values: tuple[str, ...] = ()  # the only values it takes (empty: any)


FIELDS: dict[str, QueryField] = {}
FIELD_ALIASES: dict[str, str] = {}


def register(field: QueryField) -> QueryField:
    if field.name in FIELDS or field.name in FIELD_ALIASES:
        raise ValueError(f"query field {field.name!r} is registered twice")
    FIELDS[field.name] = field
    for alias in field.aliases:
        FIELD_ALIASES[alias] = field.name
    return field


for _field in (
    QueryField("text", "words or a phrase in the title or the body (the default)", words=True),
    QueryField("title", "words or a phrase in the title", words=True),
    QueryField("body", "words or a phrase in the body", words=True),
    QueryField(
        "actor",
        "an extracted actor: its canonical name or any alias",
        option="--actor",
        option_help="Actor, by canonical name or any alias (repeatable: any of).",
        actor=True,
        aliases=("actors",),
    ),
    QueryField(
        "speaker",
        "the canonical speaker of a claim, or any alias",
        option="--speaker",
        option_help="Speaker of a claim, by canonical name or any alias (repeatable).",
        actor=True,
    ),
    QueryField(
        "claim",
        "a new link between tracked claims: 'changed' (a speaker changed a figure) or "
        "'disputed' (another speaker, or a denial, contradicts it); once per pair",
        values=("changed", "disputed"),
    ),
    QueryField(
        "outlet",
        "the outlet name, exactly (case-insensitive)",
        option="--outlet",
        option_help="Outlet name, any case (repeatable: any of).",
        aliases=("source",),
    ),
    QueryField(
        "domain",
        "the site's domain or a subdomain of it",
        option="--domain",
        option_help="Site domain or a subdomain of it (repeatable: any of).",
        aliases=("site",),
    ),
    QueryField(
        "lang",
        "the article language ('en' also matches 'en-GB')",
        option="--lang",
        option_help="Language code, e.g. en (repeatable: any of).",
        aliases=("language",),
    ),
    QueryField(
        "tag",
        "a tag of the feed the article came from",
        option="--tag",
        option_help="Feed tag (repeatable: any of).",
    ),
):
    register(_field)


def field_named(prefix: str) -> QueryField | None:
    """The field a query prefix names (any case, aliases accepted), or None."""
    name = prefix.lower()
    return FIELDS.get(FIELD_ALIASES.get(name, name))


def prefixes() -> str:
    """The field prefixes, for help texts: ``actor: speaker: ...``."""
    return " ".join(f"{name}:" for name in FIELDS if name != "text")


def optioned_fields() -> list[QueryField]:
    return [f for f in FIELDS.values() if f.option]


# --- time ------------------------------------------------------------------------------------

TIME_HELP = "'30d', 'now-7d', '12h' or an ISO date/time such as 2026-11-01 or 2026-11-01T08:00Z"
_UNITS = "yMwdhHms"
_AGO = re.compile(rf"^(\d+)([{_UNITS}])$")
_DATE_MATH = re.compile(rf"^now(?:[+-]\d+[{_UNITS}])*(?:/[{_UNITS}])?$")


class TimeSyntaxError(ValueError):
    pass


def time_bound(value: str) -> str:
    """An Elasticsearch range bound from what an analyst types.

    ``30d`` means 30 days ago (``now-30d``); ES date math (``now-7d``, ``now-1d/d``) and
    ISO dates or date-times pass through, checked, so a typo fails here with the forms
    accepted rather than as an Elasticsearch parse error.
    """
    text = value.strip()
    if match := _AGO.match(text):
        return f"now-{match.group(1)}{match.group(2)}"
    if _DATE_MATH.match(text):
        return text
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise TimeSyntaxError(f"{value!r} is not a time: use {TIME_HELP}") from None
    return text
