"""What a claim is about, read off the parse while it is at hand: its content words and
its polarity.

Claim tracking (``pipeline.claims``) runs after enrichment, without the parse, and matches
claims across outlets' own wordings by these: the lemmas of the content words ("retaken"
and "retook" are both "retake"), named actors as their canonical names ("Kyiv" and
"Ukraine" alike when the registry says so), no numbers (quantities are compared apart,
with their units). ``negated`` is true when the claim denies its content ("denied that
...", "had not recaptured"), so that "X" and "not X" are never one claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from spacy.tokens import Doc

TERM_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ"})
#: cue verbs whose content is what the speaker says is false
DENIAL_LEMMAS = frozenset(
    {"deny", "dismiss", "reject", "refute", "dispute", "rebut", "disavow", "contradict"}
)
#: content words that say nothing about the subject ("had said", "would be")
EMPTY_LEMMAS = frozenset({"be", "have", "do", "say", "tell", "claim", "add", "make", "get"})


def claim_terms(
    doc: Doc,
    pieces: Iterable[tuple[int, int]],
    token_actor: Mapping[int, tuple[str, str]],
    quantities: Iterable[tuple[int, int]] = (),
) -> list[str]:
    """The content words of the character ranges ``pieces``, outside the ``quantities``
    ranges ("per cent" is the unit's): lemmas, lower case, actors as canonical names; each
    once, in text order."""
    skip = list(quantities)
    out: dict[str, None] = {}
    for start, end in pieces:
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            continue
        for tok in span:
            if any(s <= tok.idx < e for s, e in skip):
                continue
            actor = token_actor.get(tok.i)
            if actor is not None:
                out[actor[0].lower()] = None
            elif tok.is_alpha and not tok.is_stop and tok.pos_ in TERM_POS and not tok.like_num:
                lemma = tok.lemma_.lower()
                if lemma not in EMPTY_LEMMAS and len(lemma) > 1:
                    out[lemma] = None
    return list(out)


def claim_negated(doc: Doc, cue_lemma: str | None, start: int, end: int) -> bool:
    """The claim says its content is not so: a denial cue, or a negated main verb of the
    content (not both: "denied that it had not" affirms)."""
    denial = cue_lemma in DENIAL_LEMMAS
    span = doc.char_span(start, end, alignment_mode="expand")
    negated = False
    if span is not None:
        roots = [t for t in span if t.head.i == t.i or not (span.start <= t.head.i < span.end)]
        negated = any(c.dep_ == "neg" for r in roots for c in r.children)
    return denial != negated
