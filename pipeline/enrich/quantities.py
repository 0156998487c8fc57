"""Quantities and percentages: spaCy's numeric entities, widened to what they count.

"430" in "430 Ukrainian soldiers" becomes the whole phrase with unit "soldier"; "more than
86 per cent" keeps its qualifier and gets unit "percent".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from spacy.tokens import Doc, Span

from pipeline.records import Quantity

QUANTITY_LABELS = frozenset({"PERCENT", "MONEY", "QUANTITY", "CARDINAL"})
# spaCy tags durations as DATE/TIME ("40 days", "six months"): a figure all the same.
DURATION_LABELS = frozenset({"DATE", "TIME"})
DURATION_UNITS = frozenset({"minute", "hour", "day", "week", "month", "year"})
_CURRENCIES = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₽": "RUB", "₴": "UAH"}
_CURRENCY_WORDS = {
    "dollar": "USD",
    "dollars": "USD",
    "pound": "GBP",
    "pounds": "GBP",
    "euro": "EUR",
    "euros": "EUR",
    "rouble": "RUB",
    "roubles": "RUB",
    "ruble": "RUB",
    "rubles": "RUB",
}
_SCALES = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "bn": 1e9,
    "m": 1e6,
    "k": 1e3,
}
_WORDS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def parse_value(text: str) -> float | None:
    """The number a quantity states, or None when it is not plain."""
    lowered = text.lower().replace("-", " ")
    match = _NUMBER.search(lowered)
    value: float | None = None
    if match:
        raw = match.group(0)
        # "1,500" is a thousands separator; "1,5" would be a decimal comma (rare in English).
        raw = raw.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw) else raw
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            return None
    else:
        total = 0
        for word in lowered.split():
            if word in _WORDS:
                total += _WORDS[word]
            elif word in _TENS:
                total += _TENS[word]
            elif word == "hundred" and total:
                total *= 100
        value = float(total) if total else None
    if value is not None:
        for word in lowered.split():
            if word in _SCALES and word not in ("m", "k"):
                value *= _SCALES[word]
    return value


def _currency(ent: Span) -> str | None:
    symbol = next((c for c in ent.text if c in _CURRENCIES), None)
    word = next((t.lower_ for t in ent if t.lower_ in _CURRENCY_WORDS), None)
    return _CURRENCIES.get(symbol or "") or _CURRENCY_WORDS.get(word or "")


def _about(span: Span, actors: Mapping[int, tuple[str, str]]) -> str | None:
    """The actor a quantity belongs to: one named inside its phrase ("430 Ukrainian
    soldiers"), else the subject of the clause it sits in ("Trump received 37 percent")."""
    for t in span:
        if t.i in actors:
            return actors[t.i][0]
    tok = span.root
    for _ in range(6):
        if tok.pos_ in ("VERB", "AUX"):
            subj = next((c for c in tok.children if c.dep_ in ("nsubj", "nsubjpass")), None)
            if subj is not None:
                named = [actors[t.i][0] for t in subj.subtree if t.i in actors]
                return named[-1] if named else None
        if tok.head.i == tok.i:
            return None
        tok = tok.head
    return None


def extract_quantities(
    doc: Doc, actors: Mapping[int, tuple[str, str]] | None = None
) -> list[Quantity]:
    """Numeric entities widened to what they count; ``actors`` maps token index to
    (canonical, label) of entity tokens, for the quantity's ``about``."""
    actors = actors or {}
    out = []
    for found in doc.ents:
        label = found.label_
        if label in DURATION_LABELS:
            unit = found[-1].lemma_.lower()
            value = parse_value(found.text)
            if unit in DURATION_UNITS and value is not None and found[0].lower_ != "the":
                out.append(
                    Quantity(
                        start=found.start_char,
                        end=found.end_char,
                        text=found.text,
                        value=value,
                        unit=unit,
                        about=_about(found, actors),
                    )
                )
            continue
        if label not in QUANTITY_LABELS:
            continue
        start, end = found.start, found.end
        # "no more than" tagged alone, its number left outside: take the number in.
        while end < len(doc) and doc[end].like_num and parse_value(doc[start:end].text) is None:
            end += 1
        ent = doc[start:end] if end > found.end else found
        unit: str | None = None
        text_l = ent.text.lower()
        if label == "PERCENT" or "%" in text_l or "per cent" in text_l:
            unit = "percent"
        elif label == "MONEY" and _currency(ent):
            unit = _currency(ent)
        else:
            if label == "MONEY":
                label = "CARDINAL"  # "no more than 50 per cent" tagged MONEY: no currency
            head = ent.root.head
            nxt = doc[end] if end < len(doc) else None
            if (
                nxt is not None
                and nxt.lower_ in ("percent", "per")
                and (
                    nxt.lower_ == "percent"
                    or (end + 1 < len(doc) and doc[end + 1].lower_ == "cent")
                )
            ):
                end = end + (1 if nxt.lower_ == "percent" else 2)
                unit = "percent"
            elif (
                label == "CARDINAL"
                and ent.root.dep_ == "nummod"
                and head.i >= end
                and (head.pos_ in ("NOUN", "PROPN") and head.i - end <= 3)
            ):
                end = head.i + 1
                unit = head.lemma_.lower()
            elif label == "QUANTITY":
                unit = ent[-1].lemma_.lower()
        span = doc[start:end]
        out.append(
            Quantity(
                start=span.start_char,
                end=span.end_char,
                text=span.text,
                value=parse_value(ent.text),
                unit=unit,
                about=_about(span, actors),
            )
        )
    # a duration the tagger missed altogether ("would last no more than 10 days")
    covered = [(q.start, q.end) for q in out]
    for tok in doc[:-1]:
        nxt = doc[tok.i + 1]
        if not (tok.like_num and nxt.lemma_.lower() in DURATION_UNITS):
            continue
        if any(s <= tok.idx < e for s, e in covered):
            continue
        value = parse_value(tok.text)
        if value is None:
            continue
        span = doc[tok.i : tok.i + 2]
        out.append(
            Quantity(
                start=span.start_char,
                end=span.end_char,
                text=span.text,
                value=value,
                unit=nxt.lemma_.lower(),
                about=_about(span, actors),
            )
        )
    out.sort(key=lambda q: q.start)
    return out
