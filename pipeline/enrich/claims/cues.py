"""Cues: the words a claim is anchored on (reporting verbs, cue nouns, "according to").

The verb lexicon is ``pipeline/data/cue_lemmas.txt`` (chosen on PolNeAR train; see its
header). The smaller lexicons below steer how a cue's content is found.
"""

from __future__ import annotations

from pathlib import Path

from spacy.tokens import Token

CUE_LEMMAS_FILE = Path(__file__).resolve().parents[2] / "data" / "cue_lemmas.txt"


def _read_lemmas(path: Path) -> frozenset[str]:
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words.extend(line.split("#", 1)[0].split())
    return frozenset(words)


CUE_LEMMAS = _read_lemmas(CUE_LEMMAS_FILE)
# Verbs whose object is not their content ("told reporters", "said it"): clause or quote only.
CLAUSE_ONLY_LEMMAS = frozenset(
    {"say", "tell", "add", "note", "seem", "appear", "sound"}
    # object taken as content was right under 30% of the time on PolNeAR train
    | {"find", "view", "maintain", "write", "post", "identify", "answer", "press", "issue"}
    | {"warn", "demand", "worry", "charge", "signal", "read", "explain", "continue", "promote"}
)
# Verbs that keep what follows their object: "called Fields 'delusional' for the accusation".
EXTENDED_OBJECT_LEMMAS = frozenset(
    {"call", "describe", "accuse", "criticize", "praise", "blame", "mock", "attack", "urge"}
)
# Base-form uses that were mostly not attributions on PolNeAR train ("a bid to support",
# "to find out"): the dependency and the lemmas with under 20% precision there.
WEAK_BASE_DEPS = frozenset({"ccomp", "acl", "pcomp", "csubj"})
WEAK_BASE_LEMMAS = frozenset(
    {"support", "find", "ask", "push", "seek", "convince", "oppose", "promote", "write", "tweet"}
)
# Nouns that make a cue with their verb: "raised the possibility of", "voiced concern that".
CUE_NOUNS = frozenset(
    {
        "possibility",
        "prospect",
        "idea",
        "notion",
        "concern",
        "claim",
        "suggestion",
        "argument",
        "fear",
        "warning",
        "assurance",
        "question",
        "point",
        "case",
    }
)
# Prepositions after an object that still belong to the content: "portrayed him as ...".
OBJECT_PREPS = frozenset({"as", "for", "about", "of", "to", "against", "with", "over"})
# Prepositions that introduce content after an object verb: "called for", "referring to".
CONTENT_PREPS = frozenset({"for", "to", "about", "of", "on", "against", "as"})
# Adverbials of the reporting clause that spaCy hangs on the content.
TRIM_DEPS = frozenset({"advcl", "prep"})
TRIM_PREPS = frozenset({"during", "after", "before", "amid", "despite"})
TRIM_MARKS = frozenset({"as", "while", "although", "though", "because"})
QUOTE_TOKENS = frozenset({'"', "“", "”", "''", "``"})


def is_cue(tok: Token) -> bool:
    """A reporting verb of the lexicon (not a weak base-form use), or "according" + "to"."""
    if tok.pos_ == "VERB" and tok.lemma_.lower() in CUE_LEMMAS:
        if tok.tag_ == "VB" and (
            tok.dep_ in WEAK_BASE_DEPS or tok.lemma_.lower() in WEAK_BASE_LEMMAS
        ):
            return False
        # "the so-called 'bracket'" is no attribution
        return not (tok.i >= 2 and tok.nbor(-1).text == "-" and tok.nbor(-2).lower_ == "so")
    return tok.lower_ == "according" and tok.i + 1 < len(tok.doc) and tok.nbor().lower_ == "to"


def after_comma(tok: Token) -> bool:
    """The token follows a comma (or a dash), possibly one closing a quotation: '...," adding'."""
    doc, i = tok.doc, tok.i
    prev = doc[i - 1] if i > 0 else None
    if prev is not None and prev.text in QUOTE_TOKENS and i > 1:
        return doc[i - 2].text in (",", ";") or prev.text.startswith(",")
    return prev is not None and prev.text in (",", ";", "—", "--")
