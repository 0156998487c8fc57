"""Score predicted claims against PolNeAR-style gold attributions.

A prediction matches a gold attribution when their content spans' character Jaccard is at
least 0.5; matching is one-to-one, greedy by Jaccard (highest first). Source accuracy is
taken over matched pairs whose gold attribution names a source: right when the predicted
source span overlaps the gold one, or the predicted speaker's surname occurs in the gold
source text. The quotation subset is scored the same way on gold and predictions whose
content holds a quotation mark.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from pipeline.evaluation.brat import Fragments, GoldAttribution
from pipeline.records import Claim

MATCH_JACCARD = 0.5
_QUOTE = re.compile(r"[\"“”«»„]|''|``")


def has_quote(text: str) -> bool:
    return _QUOTE.search(text) is not None


def _chars(frags: Fragments) -> set[int]:
    out: set[int] = set()
    for s, e in frags:
        out.update(range(s, e))
    return out


def claim_chars(claim: Claim) -> set[int]:
    """Characters of a claim's content: its parts when it is discontinuous."""
    if claim.content_parts:
        return _chars(tuple((p.start, p.end) for p in claim.content_parts))
    return set(range(claim.content.start, claim.content.end))


def jaccard(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if inter else 0.0


def match(
    gold: Sequence[GoldAttribution], predicted: Sequence[Claim]
) -> list[tuple[int, int, float]]:
    """(gold index, predicted index, jaccard) pairs, one-to-one, greedy by jaccard."""
    gchars = [_chars(g.content) for g in gold]
    pchars = [claim_chars(p) for p in predicted]
    candidates = []
    for gi, gc in enumerate(gchars):
        gmin, gmax = min(gc, default=0), max(gc, default=-1)
        for pi, pc in enumerate(pchars):
            p = predicted[pi].content
            if p.end <= gmin or p.start > gmax:
                continue
            j = jaccard(gc, pc)
            if j >= MATCH_JACCARD:
                candidates.append((j, gi, pi))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for j, gi, pi in candidates:
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        pairs.append((gi, pi, j))
    return pairs


def source_correct(gold: GoldAttribution, claim: Claim) -> bool:
    if claim.source is not None:
        for s, e in gold.source:
            if claim.source.start < e and claim.source.end > s:
                return True
    if claim.speaker:
        surname = claim.speaker.split()[-1]
        if re.search(rf"\b{re.escape(surname)}\b", gold.source_text):
            return True
    return False


@dataclass
class Counts:
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    with_source: int = 0
    source_right: int = 0

    def add(self, gold, predicted, pairs) -> None:
        self.gold += len(gold)
        self.predicted += len(predicted)
        self.matched += len(pairs)
        for gi, pi, _ in pairs:
            if gold[gi].source:
                self.with_source += 1
                self.source_right += source_correct(gold[gi], predicted[pi])

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def source_accuracy(self) -> float:
        return self.source_right / self.with_source if self.with_source else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "source_accuracy": round(self.source_accuracy, 4),
        }


@dataclass
class ClaimScores:
    all: Counts
    quotes: Counts

    def summary(self) -> dict[str, dict[str, float | int]]:
        return {"all": self.all.summary(), "quotes": self.quotes.summary()}


def score(documents: Iterable[tuple[Sequence[GoldAttribution], Sequence[Claim]]]) -> ClaimScores:
    scores = ClaimScores(Counts(), Counts())
    for gold, predicted in documents:
        scores.all.add(gold, predicted, match(gold, predicted))
        gq = [g for g in gold if has_quote(g.content_text)]
        pq = [p for p in predicted if has_quote(p.content.text)]
        scores.quotes.add(gq, pq, match(gq, pq))
    return scores
