"""A speaker's claims in time order: the claims-index query and the printed lines.

Server-free: ``pipeline/cli/claims.py`` sends the query and prints the lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.claims.model import TrackedClaim


def timeline_query(speaker: str, since: str | None = None, size: int = 100) -> dict[str, Any]:
    """Search body: the speaker's claims first seen (or seen again) since ``since``,
    oldest first. ``since`` is a ``vocabulary.time_bound`` value."""
    filters: list[dict[str, Any]] = [{"term": {"speaker": speaker}}]
    if since:
        filters.append({"range": {"last_seen": {"gte": since}}})
    return {
        "query": {"bool": {"filter": filters}},
        "sort": [{"first_seen": "asc"}, {"claim_id": "asc"}],
        "size": size,
    }


def _figure(value: float) -> str:
    return f"{value:g}"


def timeline_lines(claims: Iterable[TrackedClaim]) -> list[str]:
    """One block per claim: first seen, outlets and articles, figures, the first wording,
    then its links (changed from / changed to / disputed by)."""
    claims = list(claims)
    short = {c.claim_id: c.claim_id[:8] for c in claims}
    out: list[str] = []
    for c in claims:
        figures = ", ".join(
            f"{q.text} ({_figure(q.value)} {q.unit})" if q.value is not None and q.unit else q.text
            for q in c.quantities
        )
        outlets = len(c.outlets)
        out.append(
            f"{c.first_seen:%Y-%m-%d %H:%M}  [{short[c.claim_id]}]  "
            f"{outlets} outlet{'s' * (outlets != 1)}, {c.source_count} article"
            f"{'s' * (c.source_count != 1)}" + (f"  figures: {figures}" if figures else "")
        )
        out.append(f"    {'(denies) ' if c.negated else ''}{c.content}")
        for u in c.updates:
            out.append(
                f"    changes [{u.claim_id[:8]}]: {_figure(u.old)} -> {_figure(u.new)} {u.unit}"
            )
        for later in c.updated_by:
            out.append(f"    changed by [{later[:8]}]")
        for d in c.disputed_by:
            what = (
                f"{_figure(d.value)} vs {_figure(d.other_value)} {d.unit}"
                if d.reason == "value" and d.value is not None and d.other_value is not None
                else "denial"
            )
            out.append(f"    disputed by {d.speaker} [{d.claim_id[:8]}]: {what}")
    return out
