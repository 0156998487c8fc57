"""When two statements are one claim, a changed figure, or a dispute.

A statement is one extracted claim in one article. Outlets word a claim their own way
("recaptured more than 86 per cent of the area" / "retaken 86% of the territory"), so
content words alone rarely match; what does is the speaker, the figures with their units,
and the content words the wordings share. Deterministic, order-free measures only (no
corpus statistics: a replay must decide the same):

- **same claim**: same speaker and polarity, no conflicting figure, and either a figure in
  common (a count of 10 or more may count different nouns: "430 soldiers", "430
  servicemen") plus at least one content word, or content-word Dice >= ``SAME_DICE`` with one of
  the claim's wordings;
- **same subject** (for changes and disputes): at least ``SUBJECT_MIN_SHARED`` content words
  in common with the claim's wordings (``FIGURE_MIN_SHARED`` when the same speaker states a
  figure in a shared unit on both sides), and that overlap covering ``SUBJECT_OVERLAP`` of the
  smaller side (overlap coefficient: a short restatement is covered by the vocabulary of
  all wordings seen);
- **conflicting figures**: both state figures in a unit, and none of those values agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.records import Quantity

SAME_DICE = 0.6
SUBJECT_MIN_SHARED = 3
#: the same speaker and a figure in the same unit are evidence of their own: two words do
FIGURE_MIN_SHARED = 2
SUBJECT_OVERLAP = 0.5
#: a denial must be about nearly the same thing to dispute (it has no figure to compare)
NEGATION_OVERLAP = 0.6


def figures(quantities: Iterable[Quantity]) -> dict[str, set[float]]:
    """Values by unit; quantities without a value or unit say nothing comparable."""
    out: dict[str, set[float]] = {}
    for q in quantities:
        if q.value is not None and q.unit:
            out.setdefault(q.unit, set()).add(q.value)
    return out


@dataclass(frozen=True)
class Conflict:
    unit: str
    old: float
    new: float


def conflict(earlier: dict[str, set[float]], later: dict[str, set[float]]) -> Conflict | None:
    """The first unit (alphabetical) both state with no value in common."""
    for unit in sorted(earlier.keys() & later.keys()):
        if not earlier[unit] & later[unit]:
            return Conflict(unit, min(earlier[unit]), min(later[unit]))
    return None


def shares_figure(a: dict[str, set[float]], b: dict[str, set[float]]) -> bool:
    return any(a[u] & b[u] for u in a.keys() & b.keys())


#: units that name a measure, not the things counted; a count's noun varies by outlet
#: ("430 soldiers", "430 servicemen"), a measure's does not
MEASURE_UNITS = frozenset(
    {"percent", "minute", "hour", "day", "week", "month", "year", "km", "kg", "tonne"}
)


def shares_count(a: dict[str, set[float]], b: dict[str, set[float]]) -> bool:
    """A count (not a measure or currency) of the same value, whatever noun it counts:
    only values of 10 or more (small numbers recur by chance), not year-like ones."""

    def counts(figs: dict[str, set[float]]) -> set[float]:
        return {
            v
            for unit, values in figs.items()
            if unit not in MEASURE_UNITS and not (len(unit) == 3 and unit.isupper())
            for v in values
            if v >= 10 and not (1900 <= v <= 2100 and v.is_integer())
        }

    return bool(counts(a) & counts(b))


def dice(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def subject_overlap(a: set[str], b: set[str], min_shared: int = SUBJECT_MIN_SHARED) -> float:
    """Overlap coefficient, 0 unless ``min_shared`` words are shared."""
    shared = len(a & b)
    if shared < min_shared:
        return 0.0
    return shared / min(len(a), len(b))


def same_claim(
    terms: set[str],
    figs: dict[str, set[float]],
    wordings: Iterable[set[str]],
    claim_terms: set[str],
    claim_figs: dict[str, set[float]],
) -> float:
    """How well a statement matches a claim of the same speaker and polarity, 0 when it is
    not that claim. ``wordings`` are the claim's wordings' terms, ``claim_terms`` their
    union, ``claim_figs`` its figures."""
    if conflict(claim_figs, figs) is not None:
        return 0.0
    shared = shares_figure(claim_figs, figs) or shares_count(claim_figs, figs)
    if shared and terms & claim_terms:
        return 1.0 + dice(terms, claim_terms)  # a shared figure outranks shared words
    best = max((dice(terms, w) for w in wordings), default=0.0)
    return best if best >= SAME_DICE else 0.0
