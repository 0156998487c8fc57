"""Score the annotator on the seed article's hand-made gold (../shared/fixtures/seed).

The bar: every gold claim matched (content Jaccard >= 0.5, one-to-one) with the right
canonical speaker, and every gold entity found (a predicted mention with the same canonical
name overlapping one of its mentions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.enrich.annotate import Annotation
from pipeline.evaluation.brat import GoldAttribution
from pipeline.evaluation.claims import match


@dataclass
class SeedResult:
    claims_total: int = 0
    claims_right: int = 0
    entities_total: int = 0
    entities_found: int = 0
    mentions_total: int = 0
    mentions_found: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.claims_right == self.claims_total and self.entities_found == self.entities_total

    def summary(self) -> dict[str, Any]:
        return {
            "claims": f"{self.claims_right}/{self.claims_total}",
            "entities": f"{self.entities_found}/{self.entities_total}",
            "mentions": f"{self.mentions_found}/{self.mentions_total}",
            "passed": self.passed,
            "failures": self.failures,
        }


def load_gold(directory: Path) -> tuple[str, dict[str, Any]]:
    gold = json.loads((directory / "gold.json").read_text(encoding="utf-8"))
    text = (directory / gold.get("text_file", "article.txt")).read_text(encoding="utf-8")
    return text, gold


def score_seed(gold: dict[str, Any], annotation: Annotation) -> SeedResult:
    result = SeedResult()
    golds = [
        GoldAttribution(
            content=((c["content"]["start"], c["content"]["end"]),),
            content_text=c["content"]["text"],
        )
        for c in gold["claims"]
    ]
    pairs = {gi: pi for gi, pi, _ in match(golds, annotation.claims)}
    result.claims_total = len(golds)
    for gi, claim in enumerate(gold["claims"]):
        if gi not in pairs:
            result.failures.append(f"claim not found: {claim['content']['text']!r}")
            continue
        got = annotation.claims[pairs[gi]].speaker
        if got == claim["speaker"]:
            result.claims_right += 1
        else:
            where = claim["content"]["text"][:40]
            result.failures.append(f"claim {where!r}: speaker {got!r}, gold {claim['speaker']!r}")
    for entity in gold["entities"]:
        result.entities_total += 1
        found = 0
        for m in entity["mentions"]:
            result.mentions_total += 1
            if any(
                e.canonical == entity["canonical"] and e.start < m["end"] and e.end > m["start"]
                for e in annotation.entities
            ):
                found += 1
        result.mentions_found += found
        if found:
            result.entities_found += 1
        else:
            result.failures.append(f"entity not found: {entity['canonical']!r}")
    return result
