"""What ``search`` and ``alerts test`` share at the command line: the vocabulary's options,
the time syntax, and one way of printing an article (publish time, outlet, title, story
copies, the clean link)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from pipeline import vocabulary
from pipeline.index.search import HIGHLIGHT_POST, HIGHLIGHT_PRE, Hit

F = TypeVar("F", bound=Callable[..., Any])
_MARK = re.compile(re.escape(HIGHLIGHT_PRE) + "(.*?)" + re.escape(HIGHLIGHT_POST))
_OPTION_PREFIX = "field_"


class TimeBound(click.ParamType):
    """``30d``, ``now-7d`` or an ISO date/time (pipeline.vocabulary.time_bound)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return vocabulary.time_bound(str(value))
        except vocabulary.TimeSyntaxError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeBound()


def vocabulary_options(function: F) -> F:
    """One repeatable option per vocabulary field that names one (``--actor`` ...)."""
    for field in reversed(vocabulary.optioned_fields()):
        assert field.option is not None
        function = click.option(
            field.option,
            _OPTION_PREFIX + field.name,
            multiple=True,
            metavar=field.name.upper(),
            help=field.option_help or field.help,
        )(function)
    return function


def option_fields(kwargs: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Pop the vocabulary options from a command's keyword arguments: field -> values."""
    return {
        key.removeprefix(_OPTION_PREFIX): tuple(kwargs.pop(key))
        for key in list(kwargs)
        if key.startswith(_OPTION_PREFIX)
    }


def _emphasise(text: str, color: bool) -> str:
    return _MARK.sub(
        (lambda m: click.style(m.group(1), bold=True, fg="yellow")) if color else r"*\1*", text
    )


def article_lines(hit: Hit, color: bool = False) -> str:
    """An article as search and alerts test print it: publish time (UTC), outlet, title,
    the story's copies and outlets, a snippet, matching claims, the clean link."""
    when = (hit.published_at or "")[:16].replace("T", " ") or "????-??-?? ??:??"
    story = f"  [{hit.copies} copies, {len(hit.outlets)} outlets]" if hit.copies > 1 else ""
    out = [f"{when}  {hit.outlet or '?'}: {_emphasise(hit.title, color)}{story}"]
    out += [f"    … {_emphasise(' '.join(s.split()), color)} …" for s in hit.snippets[:1]]
    out += [f"    claim — {c}" for c in hit.claims]
    out.append(f"    {hit.url}")
    return "\n".join(out)
