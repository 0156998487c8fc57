"""Claims: who said what, from one parse of the article.

A claim is anchored on a cue: a reporting verb (lemma in ``CUE_LEMMAS``: said, told,
claimed, ...) or "according to". Its source is the verb's subject (inherited through
"..., adding that" and relative clauses); its content is the verb's clausal complement
(the ccomp subtree, "that" included), else a quotation next to it, else its object.
Quotation marks are found on the text (straight, curly, and the ``''`` of some wires),
and content that touches a quotation is widened to the whole quotation, closing mark
included, then to the quotations that continue it in the same paragraph.

Span conventions follow PolNeAR (the gold the gate scores against): content keeps its
quotation marks and the punctuation inside them, drops a final period outside them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import Doc, Span, Token

from pipeline.enrich.entities import AGENT_LABELS, EntityLayer
from pipeline.records import Claim, Quantity
from pipeline.records import Span as TextSpan

CUE_LEMMAS_FILE = Path(__file__).resolve().parent.parent / "data" / "cue_lemmas.txt"


def _read_lemmas(path: Path) -> frozenset[str]:
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words.extend(line.split("#", 1)[0].split())
    return frozenset(words)


# Cue verbs: see the file's header for how the list was made.
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
TRIM_ADVERBIALS = True
TRIM_PARTICIPLES = True
TRIM_RELATIVE = True
COLON_RULE = True
MORE_CLAUSES = True
SOURCE_FALLBACK = True
DROP_NESTED = True
CUT_CONJ_CUES = True
HEADLINE_RULE = True
AFTER_OBJECT_QUOTES = True
PARENTHETICAL_RULE = True
EXTEND_ALL_OBJECTS = True
OBJECT_PREPS = frozenset({"as", "for", "about", "of", "to", "against", "with", "over"})
FOREIGN_PARTICIPLES = True
QUOTE_TOKENS = frozenset({'"', "“", "”", "''", "``"})
INVERTED_RULE = True
TRIM_DEPS = frozenset({"advcl", "prep"})
TRIM_PREPS = frozenset({"during", "after", "before", "amid", "despite"})
TRIM_MARKS = frozenset({"as", "while", "although", "though", "because"})
# Prepositions that introduce content after an object verb: "called for", "referring to".
CONTENT_PREPS = frozenset({"for", "to", "about", "of", "on", "against", "as"})

OPEN_QUOTES = "“„«"
CLOSE_QUOTES = "”»"
TOGGLE_QUOTES = ('"', "''")
_QUOTE_MARK = re.compile(r"``|''|[\"“”„«»]")
QUOTE_CHARS = frozenset('"“”„«»')
PRONOUNS_PERSON = frozenset({"he", "she", "him", "her"})
PRONOUNS_OTHER = frozenset({"they", "it", "we", "i"})
RELATIVES = frozenset({"who", "that", "which"})
_TRAIL = frozenset(".,;:!?-–—")


def find_quotes(text: str) -> list[tuple[int, int]]:
    """Quotation spans (marks included) per paragraph; an unclosed one runs to its end."""
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    para_end = text.find("\n")
    for m in _QUOTE_MARK.finditer(text):
        pos, mark = m.start(), m.group(0)
        while para_end != -1 and pos > para_end:
            if opened is not None:
                spans.append((opened, para_end))
                opened = None
            para_end = text.find("\n", para_end + 1)
        before = text[pos - 1] if pos else " "
        after = text[m.end()] if m.end() < len(text) else " "
        closes = not before.isspace() and (after.isspace() or after in ".,;:!?)")
        if opened is None:
            if mark in CLOSE_QUOTES and (after.isspace() or not before.isspace()):
                continue
            opened = pos  # (a closing mark with a word right after it opens: typos)
        elif mark in OPEN_QUOTES and not closes:
            opened = pos  # a stray opener: restart there
        else:
            spans.append((opened, m.end()))
            opened = None
    if opened is not None:
        spans.append((opened, len(text) if para_end == -1 else para_end))
    return spans


@dataclass
class _Draft:
    source: Span | None
    cue: tuple[int, int]
    content: tuple[int, int]
    speaker: str | None
    parts: list[tuple[int, int]] | None = None
    rule: str = ""  # which pattern found it (for error analysis)


def _outermost(drafts: list[_Draft]) -> list[_Draft]:
    """Drop claims whose cue sits inside another claim's content ("Murphy said he supports
    the bill": not "he supports the bill"). On PolNeAR train such nested claims were right
    under 20% of the time."""

    def inside(char: int, d: _Draft) -> bool:
        return any(s <= char < e for s, e in (d.parts or [d.content]))

    return [
        b
        for b in drafts
        if not any(a is not b and inside(b.cue[0], a) and not inside(a.cue[0], b) for a in drafts)
    ]


class ClaimExtractor:
    def __init__(self, doc: Doc, layer: EntityLayer, quantities: list[Quantity]) -> None:
        self.doc = doc
        self.text = doc.text
        self.layer = layer
        self.quantities = quantities
        self.quotes = find_quotes(self.text)
        self.quote_starts = [s for s, _ in self.quotes]
        self.last_speaker: tuple[int, str] | None = None
        self.person_names = {name for _, name in layer.persons}
        self._inserted: tuple[int, int] | None = None
        self.token_starts = [t.idx for t in doc]

    # --- spans ----------------------------------------------------------------------

    def _quote_at(self, char: int) -> tuple[int, int] | None:
        i = bisect_right(self.quote_starts, char) - 1
        if i >= 0 and self.quotes[i][0] <= char < self.quotes[i][1]:
            return self.quotes[i]
        return None

    def _token_at(self, char: int) -> int:
        """Index of the first token starting at or after ``char``."""
        return bisect_right(self.token_starts, char - 1)

    def _paragraph(self, char: int) -> tuple[int, int]:
        start = self.text.rfind("\n", 0, char) + 1
        end = self.text.find("\n", char)
        return start, len(self.text) if end == -1 else end

    def _tidy(self, start: int, end: int) -> tuple[int, int]:
        """Widen over touched quotations; trim spaces and outer punctuation."""
        for _ in range(2):
            for qs, qe in self.quotes:
                if qs < end and qe > start:
                    start, end = min(start, qs), max(end, qe)
        text = self.text
        while start < end and (text[start].isspace() or text[start] in _TRAIL):
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAIL):
            end -= 1
        return start, end

    def _continue_quotes(self, parts: list[tuple[int, int]], verb: Token) -> None:
        """Add quotations that follow in the same paragraph with no cue of their own."""
        _, para_end = self._paragraph(parts[0][0])
        end = parts[-1][1]
        for nxt in self.quotes:
            if nxt[0] < end:
                continue
            if nxt[0] >= para_end:
                return
            # Allow only the attribution between ('", he said. "'), never another speaker.
            if nxt[0] - end > 250 or self._has_foreign_cue(end, nxt[0], verb):
                return
            if self._sentence_starts_quote(nxt[0]):
                parts.append(nxt)
                end = nxt[1]
            # else: a title or scare quote inside the attribution ('told NBC's "Today"')

    def _cut_at_next_cue(self, start: int, end: int, verb: Token) -> int:
        """'..., adding that ...' starts a claim of its own: end the content before it."""
        span = self.doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            return end
        for t in span:
            if (
                TRIM_RELATIVE
                and t.lower_ in ("which", "who")
                and t.i > span.start + 2
                and self.doc[t.i - 1].text == ","
                and t.head.dep_ == "relcl"
                and self._quote_at(t.idx) is None
                and t.head.right_edge.i >= span.end - 2
            ):
                return self._tidy(start, self.doc[t.i - 1].idx)[1]
            if (
                CUT_CONJ_CUES
                and t.i > verb.i + 1
                and t.i > span.start + 1
                and t.dep_ == "conj"
                and self.doc[t.i - 1].lower_ in ("and", "but")
                and self._is_cue(t)
                and self._quote_at(t.idx) is None
            ):
                return self._tidy(start, self.doc[t.i - 1].idx)[1]
            if (
                t.i > verb.i
                and t.tag_ == "VBG"
                and t.i > span.start
                and self._after_comma(t.i)
                and self._is_cue(t)
            ):
                return self._tidy(start, self.doc[t.i - 1].idx + len(self.doc[t.i - 1]))[1]
        return end

    def _continue_paragraphs(self, parts: list[tuple[int, int]]) -> None:
        """Add quoted paragraphs that follow a quotation-ending claim, with no cue of their own."""
        text = self.text
        end = parts[-1][1]
        _, para_end = self._paragraph(max(parts[0][0], end - 1))
        if any(q[0] >= end for q in self.quotes if q[0] < para_end):
            return
        for _ in range(5):
            nxt = para_end + 1
            while nxt < len(text) and text[nxt].isspace():
                nxt += 1
            q = self._quote_at(nxt)
            if q is None or q[0] != nxt:
                return
            _, next_end = self._paragraph(nxt)
            para = self.doc.char_span(nxt, next_end, alignment_mode="expand")
            if para is None or any(self._is_cue(t) and self._quote_at(t.idx) is None for t in para):
                return
            parts.extend(q for q in self.quotes if nxt <= q[0] < next_end)
            para_end = next_end

    def _sentence_starts_quote(self, char: int) -> bool:
        before = self.text[:char].rstrip()
        return not before or before[-1] in ".!?:\n,\"”'" or before.endswith(("said", "says"))

    def _after_comma(self, i: int) -> bool:
        """Token i follows a comma (or a dash), possibly one closing a quotation: '...," adding'."""
        prev = self.doc[i - 1] if i > 0 else None
        if prev is not None and prev.text in QUOTE_TOKENS and i > 1:
            return self.doc[i - 2].text in (",", ";") or prev.text.startswith(",")
        return prev is not None and prev.text in (",", ";", "—", "--")

    def _has_foreign_cue(self, start: int, end: int, verb: Token) -> bool:
        """Another attribution between start and end: a cue with its own subject, or one
        starting a new clause (', adding ...'). Relative clauses describe the source."""
        span = self.doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            return False
        return any(
            t.i != verb.i
            and t.dep_ != "relcl"
            and self._is_cue(t)
            and (
                any(c.dep_ in ("nsubj", "nsubjpass") for c in t.children)
                or (FOREIGN_PARTICIPLES and t.tag_ == "VBG" and self._after_comma(t.i))
            )
            for t in span
        )

    # --- cues -----------------------------------------------------------------------

    @staticmethod
    def _is_cue(tok: Token) -> bool:
        if tok.pos_ == "VERB" and tok.lemma_.lower() in CUE_LEMMAS:
            if tok.tag_ == "VB" and (
                tok.dep_ in WEAK_BASE_DEPS or tok.lemma_.lower() in WEAK_BASE_LEMMAS
            ):
                return False
            # "the so-called 'bracket'" is no attribution
            return not (tok.i >= 2 and tok.nbor(-1).text == "-" and tok.nbor(-2).lower_ == "so")
        return tok.lower_ == "according" and tok.i + 1 < len(tok.doc) and tok.nbor().lower_ == "to"

    def _subject(self, verb: Token) -> Token | None:
        tok: Token | None = verb
        for _ in range(4):
            if tok is None:
                return None
            subjects = [c for c in tok.children if c.dep_ in ("nsubj", "nsubjpass")]
            # Two subjects: '..., said Alan Abramowitz' -- the one after the verb speaks.
            subj = next((c for c in subjects if c.i > tok.i), None) if len(subjects) > 1 else None
            subj = subj or (subjects[0] if subjects else None)
            if subj is not None:
                if subj.dep_ == "nsubjpass":
                    agent = next((c for c in tok.children if c.dep_ == "agent"), None)
                    pobj = (
                        next((c for c in agent.children if c.dep_ == "pobj"), None)
                        if agent
                        else None
                    )
                    return pobj
                return subj  # "who" of a relative clause: _speaker looks through it
            if tok.dep_ in ("advcl", "xcomp", "conj", "pcomp", "acl") and tok.head is not tok:
                tok = tok.head
            else:
                return None
        return None

    def _source_span(self, subj: Token) -> Span:
        left, right = subj.left_edge.i, subj.right_edge.i + 1
        while right - 1 > left and self.doc[right - 1].is_punct:
            right -= 1
        return self.doc[left:right]

    def _tokens_range(self, comps: list[Token], verb: Token) -> tuple[int, int]:
        doc = self.doc
        right = [c for c in comps if c.i > verb.i]
        if right and len(right) < len(comps):
            comps = right  # complements on both sides: the left one is a misparse
        start = min(c.left_edge.i for c in comps)
        end = max(c.right_edge.i for c in comps) + 1
        self._inserted = None
        if start < verb.i < end:
            # "The argument would be aided, Devine said, by the calendar": the content runs
            # round an inserted attribution, which becomes the gap between two parts.
            inside = {t.i for c in comps for t in c.subtree}
            own = [t.i for t in verb.subtree if t.i not in inside and start <= t.i < end]
            lo, hi = min(own), max(own)
            self._inserted = (doc[lo].idx, doc[hi].idx + len(doc[hi]))
        return doc[start].idx, doc[end - 1].idx + len(doc[end - 1])

    def _clausal(self, verb: Token) -> tuple[int, int] | None:
        comps = [c for c in verb.children if c.dep_ in ("ccomp", "parataxis")]
        if not comps and MORE_CLAUSES:
            # "said in a statement that ...": a that-clause the parser hung elsewhere.
            comps = [
                c
                for c in verb.children
                if c.i > verb.i
                and c.dep_ in ("advcl", "dep", "conj", "xcomp")
                and any(m.dep_ == "mark" and m.lower_ in ("that", "whether") for m in c.children)
            ]
        if not comps and MORE_CLAUSES:
            # "The promise ... appeals to whites, said Alan Abramowitz": the parser made the
            # reported clause a second subject; the subject after the verb is the speaker.
            subjects = [c for c in verb.children if c.dep_ == "nsubj"]
            before = [c for c in subjects if c.i < verb.i]
            if (
                len(subjects) > 1
                and before
                and any(c.i > verb.i for c in subjects)
                and verb.i > 0
                and self.doc[verb.i - 1].text == ","
            ):
                comps = before
        if not comps:
            return None
        start, end = self._tokens_range(comps, verb)
        if TRIM_ADVERBIALS:
            # ", during his first trip ..." / ", as Moscow waits ...": spaCy hangs the reporting
            # clause's adverbials on the complement; the gold leaves them out.
            last = max(comps, key=lambda c: c.i)
            for child in last.subtree:
                head = child.head
                if (
                    child.i > head.i
                    and child.dep_ in TRIM_DEPS
                    and (child.lower_ in TRIM_PREPS or child.dep_ == "advcl")
                    and (
                        child.dep_ != "advcl"
                        or any(m.dep_ == "mark" and m.lower_ in TRIM_MARKS for m in child.children)
                        or (
                            TRIM_PARTICIPLES
                            and child.tag_ == "VBG"
                            and child.left_edge.i == child.i
                        )
                    )
                    and (head.i == last.i or (head.dep_ == "xcomp" and head.head.i == last.i))
                    and child.left_edge.i > 0
                    and self.doc[child.left_edge.i - 1].text == ","
                    and self.doc[child.left_edge.i - 1].idx > start
                ):
                    end = min(end, self.doc[child.left_edge.i - 1].idx)
        return start, end

    def _object(self, verb: Token) -> tuple[int, int] | None:
        lemma = verb.lemma_.lower()
        if lemma in CLAUSE_ONLY_LEMMAS:
            return None
        comps = [c for c in verb.children if c.dep_ in ("dobj", "xcomp", "oprd", "attr")]
        if not comps:
            for c in verb.children:
                if c.dep_ == "prep" and c.lower_ in CONTENT_PREPS and c.i > verb.i:
                    comps.extend(g for g in c.children if g.dep_ in ("pobj", "pcomp"))
        if not comps:
            return None
        if lemma in EXTENDED_OBJECT_LEMMAS:
            # Keep what follows the object too: "called Fields 'delusional' for it".
            comps.extend(
                c
                for c in verb.children
                if c.i > verb.i and c.dep_ in ("oprd", "xcomp", "ccomp", "prep") and c not in comps
            )
        elif EXTEND_ALL_OBJECTS:
            # "portrayed Mr. Trump as a nasty ...": complements after the object, not times
            # or places ("on Monday", "in Iowa").
            last = max(c.i for c in comps)
            comps.extend(
                c
                for c in verb.children
                if c.i > last
                and (
                    c.dep_ in ("oprd", "xcomp", "ccomp", "acomp")
                    or (c.dep_ == "prep" and c.lower_ in OBJECT_PREPS)
                )
            )
        return self._tokens_range(comps, verb)

    def _parenthetical(self, verb: Token) -> tuple[int, int] | None:
        """'The golf industry, she said, is "doing much better"': the sentence around an
        attribution set off by commas (kept as the gap between two parts)."""
        if verb.dep_ not in ("parataxis", "ccomp", "advcl", "conj") or verb.head.i == verb.i:
            return None
        own = [t for t in verb.subtree if not t.is_punct]
        lo, hi = own[0].i, own[-1].i
        if lo == 0 or hi + 1 >= len(self.doc):
            return None
        if self.doc[lo - 1].text not in (",", "—") or self.doc[hi + 1].text not in (",", "—"):
            return None
        sent = verb.sent
        pstart, pend = self._paragraph(verb.idx)
        start, end = max(sent.start_char, pstart), min(sent.end_char, pend)
        self._inserted = (self.doc[lo - 1].idx, self.doc[hi + 1].idx + 1)
        return start, end

    def _adjacent_quote(self, verb: Token) -> tuple[int, int] | None:
        """A quotation right after "X said:" / "X said," or right before '", X said'."""
        sent = verb.sent
        after = self.text[verb.idx + len(verb) : sent.end_char + 1]
        stripped = after.lstrip(" ,:\n\t")
        gap = len(after) - len(stripped)
        if stripped and (stripped[0] in QUOTE_CHARS or stripped.startswith(("''", "``"))):
            q = self._quote_at(verb.idx + len(verb) + gap)
            if q:
                return q
        if AFTER_OBJECT_QUOTES:
            # 'told Breitbart News host Matt Boyle, "..."': only the addressee in between.
            for qs, _qe in self.quotes:
                if qs <= verb.idx or qs >= sent.end_char:
                    continue
                verb_end = verb.idx + len(verb)
                lead = self.text[verb_end:qs].rstrip()
                if not lead.endswith((",", ":")):
                    break
                between = self.doc.char_span(
                    verb_end, verb_end + len(lead), alignment_mode="contract"
                )
                if between is not None and not any(
                    t.pos_ in ("VERB", "AUX") or self._quote_at(t.idx) for t in between
                ):
                    return self._quote_at(qs)
                break
        # Colon at the end of the sentence: the quotation may open the next paragraph.
        tail = self.text[verb.idx + len(verb) : sent.end_char].strip()
        if tail.endswith(":") or self.text[verb.idx + len(verb) :].startswith(":"):
            nxt = next((q for q in self.quotes if q[0] >= sent.end_char - 1), None)
            if nxt and nxt[0] - sent.end_char < 5:
                return nxt
        # '"...," Gerasimov claimed' / '"...," said Ms. Acosta': only the subject between.
        subj = self._subject(verb)
        left = verb.idx
        if subj is not None and subj.i < verb.i:
            left = self.doc[subj.left_edge.i].idx
        gap_text = self.text[:left].rstrip(" ,\t\xa0")
        q = self._quote_at(len(gap_text) - 1) if gap_text else None
        if q is not None and q[1] == len(gap_text) and self._ends_mid_sentence(q):
            return q
        return None

    def _ends_mid_sentence(self, quote: tuple[int, int]) -> bool:
        """'"...," he said' continues the sentence; '"...." He said' starts a new one."""
        inner = self.text[quote[0] : quote[1]].rstrip("\"“”'»` ")
        return bool(inner) and inner[-1] in ",?!—-"

    def _fallback_source(self, verb: Token, parts: list[tuple[int, int]]) -> Span | None:
        """No subject reached through the parse ("..., telling reporters"): the sentence's
        subject, else its last agent-like entity before the cue, outside the content."""

        def free(span: Span) -> bool:
            return not any(s < span.end_char and e > span.start_char for s, e in parts) and (
                self._quote_at(span.start_char) is None
            )

        sent = verb.sent
        subj = next((c for c in sent.root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subj is not None and subj.i < verb.i and subj.lower_ not in RELATIVES:
            span = self._source_span(subj)
            if free(span):
                return span
        for ent in reversed([e for e in sent.ents if e.end <= verb.i]):
            if ent.label_ in AGENT_LABELS and free(ent):
                return ent
        return None

    # --- speakers -------------------------------------------------------------------

    def _speaker(self, source: Span | None) -> str | None:
        if source is None:
            return None
        layer = self.layer
        found: list[tuple[str, str]] = [
            layer.token_actor[t.i] for t in source if t.i in layer.token_actor
        ]
        found = [f for f in found if f[1] in AGENT_LABELS]
        if found:
            person = next((name for name, label in found if label == "PERSON"), None)
            return person or found[0][0]
        root = source.root
        lower = root.lower_
        if lower in RELATIVES and root.head.dep_ == "relcl" and root.head.head.i != root.i:
            noun = root.head.head  # "Mr. Reid, who said ..." speaks for Mr. Reid
            return self._speaker(self.doc[noun.left_edge.i : noun.i + 1])
        if lower in PRONOUNS_PERSON:
            last = self.last_speaker
            if last and root.i - last[0] < 250 and last[1] in self.person_names:
                return last[1]
            prev = [name for i, name in layer.persons if i < root.i]
            return prev[-1] if prev else None
        if lower in PRONOUNS_OTHER:
            return self.last_speaker[1] if self.last_speaker else None
        holders = layer.titles.get(root.lemma_.lower())
        if holders:
            before = [name for i, name in holders if i < root.i]
            return before[-1] if before else holders[0][1]
        from pipeline.enrich.actors import clean_name

        return clean_name(source.text) or None

    # --- main -----------------------------------------------------------------------

    def extract(self) -> list[Claim]:
        drafts: list[_Draft] = []
        seen_content: set[tuple[int, int]] = set()
        for tok in self.doc:
            if self._is_cue(tok):
                draft = self._according(tok) if tok.lower_ == "according" else self._verb(tok)
            elif tok.pos_ == "VERB" and tok.dep_ != "amod":
                draft = self._noun_cue(tok)
            else:
                continue
            if draft is None or draft.content in seen_content:
                continue
            if draft.content[1] - draft.content[0] < 2:
                continue
            seen_content.add(draft.content)
            drafts.append(draft)
        if COLON_RULE:
            drafts.extend(self._colon_quotes(drafts))
        if INVERTED_RULE:
            drafts.extend(self._inverted_quotes(drafts))
        if HEADLINE_RULE:
            drafts.extend(self._headline_colons(drafts))
        drafts.sort(key=lambda d: d.content[0])
        if DROP_NESTED:
            drafts = _outermost(drafts)
        return [self._to_claim(d) for d in drafts]

    def _headline_colons(self, drafts: list[_Draft]) -> list[_Draft]:
        """Headline style 'Lynch: No outside influence on FBI probe': a short name, a colon,
        the claim to the end of the line."""
        out: list[_Draft] = []
        covered = [d.content for d in drafts]
        text = self.text
        pos = 0
        while pos < len(text):
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end == -1 else line_end
            colon = text.find(": ", pos, line_end)
            if colon != -1 and colon - pos <= 60 and line_end - colon > 10:
                head = self.doc.char_span(pos, colon, alignment_mode="contract")
                if (
                    head is not None
                    and 0 < len(head) <= 5
                    and all(t.pos_ in ("PROPN", "NOUN", "PUNCT", "ADJ", "DET") for t in head)
                    and any(t.pos_ in ("PROPN", "NOUN") for t in head)
                    and head[0].text[:1].isupper()
                ):
                    start, end = self._tidy(colon + 2, line_end)
                    if end - start > 5 and not any(cs < end and ce > start for cs, ce in covered):
                        out.append(
                            _Draft(
                                head,
                                (colon, colon + 1),
                                (start, end),
                                self._speaker(head),
                                None,
                                "headline",
                            )
                        )
            pos = line_end + 1
        return out

    def _inverted_quotes(self, drafts: list[_Draft]) -> list[_Draft]:
        """'"Go back to Univision," Trump barked': any verb with a subject right after a
        quotation that ends mid-sentence is its cue, lexicon or not."""
        covered = [d.content for d in drafts]
        out: list[_Draft] = []
        for qs, qe in self.quotes:
            if any(cs < qe and ce > qs for cs, ce in covered):
                continue
            if not self._ends_mid_sentence((qs, qe)) or not self._sentence_starts_quote(qs):
                continue
            tail = self.doc.char_span(qe, min(len(self.text), qe + 80), alignment_mode="contract")
            if tail is None:
                continue
            verb = None
            for t in tail[:8]:
                if "\n" in t.text or t.text in ".;" or self._quote_at(t.idx) is not None:
                    break
                subj = next((c for c in t.children if c.dep_ == "nsubj"), None)
                if subj is not None and subj.lower_ in RELATIVES:
                    break
                if t.pos_ == "VERB" and subj is not None and subj.i > t.i - 8:
                    # Only the subject may stand between quote and verb ('," Trump barked'),
                    # or come after the verb ('," said Ms. Lee').
                    first = self._token_at(qe)
                    lead = [x for x in self.doc[first : t.i] if not x.is_punct]
                    if subj.i < t.i and lead and lead[0].i < subj.left_edge.i:
                        break
                    if subj.i > t.i and lead:
                        break
                    verb = t
                    break
            if verb is None:
                continue
            subj = next(c for c in verb.children if c.dep_ == "nsubj")
            source = self._source_span(subj)
            parts = [(qs, qe)]
            self._continue_quotes(parts, verb)
            covered.append((qs, parts[-1][1]))
            cue_end = verb.idx + len(verb)
            out.append(
                _Draft(
                    source,
                    (verb.idx, cue_end),
                    (qs, parts[-1][1]),
                    self._speaker(source),
                    parts,
                    "inverted",
                )
            )
        return out

    def _colon_quotes(self, drafts: list[_Draft]) -> list[_Draft]:
        """'Mark Blumenthal and Jon Cohen: "..."', 'Trump went further: "..."'."""
        covered = [d.content for d in drafts]
        out: list[_Draft] = []
        for qs, qe in self.quotes:
            if any(cs < qe and ce > qs for cs, ce in covered):
                continue
            before = self.text[:qs].rstrip()
            if not before.endswith(":"):
                continue
            colon = self.doc.char_span(len(before) - 1, len(before), alignment_mode="expand")
            if colon is None or len(colon) != 1:
                continue
            tok = colon[0]
            if tok.i == 0 or "\n" in self.text[len(before) : qs].replace("\n", "", 1):
                continue  # more than one line break away
            subj = None
            for head in (tok.head, tok.sent.root):  # the clause the colon ends
                subj = subj or next(
                    (c for c in head.children if c.dep_ in ("nsubj", "nsubjpass")), None
                )
            if subj is not None and subj.i < tok.i:
                source = self._source_span(subj)
            else:
                prev = self.doc[tok.i - 1]
                if prev.pos_ not in ("PROPN", "NOUN"):
                    continue
                source = self.doc[prev.left_edge.i : prev.i + 1]
            parts = [(qs, qe)]
            self._continue_quotes(parts, tok)
            self._continue_paragraphs(parts)
            covered.append((qs, parts[-1][1]))
            speaker = self._speaker(source)
            out.append(
                _Draft(source, (tok.idx, tok.idx + 1), (qs, parts[-1][1]), speaker, parts, "colon")
            )
        return out

    def _verb(self, verb: Token) -> _Draft | None:
        # Inside a quotation, a verb is the quoted speaker's, not a new attribution.
        q = self._quote_at(verb.idx)
        if q is not None and q[0] < verb.idx:
            return None
        self._inserted = None
        rule = "clause"
        content = self._clausal(verb)
        if content is None:
            rule, content = "quote", self._adjacent_quote(verb)
        if content is None:
            rule, content = "object", self._object(verb)
        if content is None and PARENTHETICAL_RULE:
            rule, content = "parenthetical", self._parenthetical(verb)
        if content is None:
            return None
        inserted = self._inserted
        pstart, pend = self._paragraph(verb.idx)
        if content[0] < pend and content[1] > pstart:
            # spaCy does not always break sentences at newlines: stay in the cue's paragraph.
            content = (max(content[0], pstart), min(content[1], pend))
        start, end = self._tidy(*content)
        end = self._cut_at_next_cue(start, end, verb)
        if end <= start:
            return None
        parts = [(start, end)]
        if inserted is not None and inserted[1] < end:
            left, right = self._tidy(start, inserted[0]), self._tidy(inserted[1], end)
            if inserted[0] <= start:
                left = (0, 0)  # the reporting clause opens the sentence: content follows it
            parts = [p for p in (left, right) if p[1] > p[0]] or parts
            start = parts[0][0]
        if self._quote_at(start) is not None or self.text[end - 1] in QUOTE_CHARS | {"'"}:
            self._continue_quotes(parts, verb)
            self._continue_paragraphs(parts)
        end = parts[-1][1]
        subj = self._subject(verb)
        source = self._source_span(subj) if subj is not None else None
        inside = start <= verb.idx < end
        if (
            source is not None
            and source.start_char < end
            and source.end_char > start
            and not inside
        ):
            source = None  # the parse put the subject inside the content
        if source is not None and self._quote_at(source.start_char) is not None:
            source = None  # a subject inside a quotation is the quotation's, not the cue's
        if source is None and SOURCE_FALLBACK:
            source = self._fallback_source(verb, parts)
        cue_end = verb.idx + len(verb)
        # "said in a statement"? keep the verb alone; particles join: "pointed out".
        for c in verb.children:
            if c.dep_ == "prt" and c.i == verb.i + 1:
                cue_end = c.idx + len(c)
        speaker = self._speaker(source)
        if speaker and source is not None:
            self.last_speaker = (verb.i, speaker)
        return _Draft(source, (verb.idx, cue_end), (start, end), speaker, parts, rule)

    def _noun_cue(self, verb: Token) -> _Draft | None:
        """ "raised the possibility of ...", "expressed concern that ...": verb + cue noun."""
        noun = next(
            (c for c in verb.children if c.dep_ == "dobj" and c.lemma_.lower() in CUE_NOUNS),
            None,
        )
        if noun is None or noun.i < verb.i:
            return None
        comp = next(
            (
                c
                for c in noun.children
                if c.i > noun.i
                and ((c.dep_ == "prep" and c.lower_ == "of") or c.dep_ in ("acl", "ccomp"))
            ),
            None,
        )
        if comp is None:
            return None
        start, end = self._tidy(comp.left_edge.idx, comp.right_edge.idx + len(comp.right_edge))
        if end <= start or self._quote_at(verb.idx) is not None:
            return None
        subj = self._subject(verb)
        source = self._source_span(subj) if subj is not None else None
        speaker = self._speaker(source)
        return _Draft(source, (verb.idx, noun.idx + len(noun)), (start, end), speaker, None, "noun")

    def _according(self, tok: Token) -> _Draft | None:
        to = tok.nbor()
        pobj = next((c for c in to.children if c.dep_ == "pobj"), None)
        if pobj is None:
            return None
        source = self._source_span(pobj)
        sent = tok.sent
        pstart, pend = self._paragraph(tok.idx)
        s_start, s_end = max(sent.start_char, pstart), min(sent.end_char, pend)
        # After a colon, only the part after it is reported ("...: London was ...").
        colon = self.text.rfind(": ", s_start, tok.idx)
        if colon != -1:
            s_start = colon + 2
        p_start, p_end = tok.idx, source.end_char
        # Content is the sentence around the "according to X" phrase.
        left = self._tidy(s_start, p_start) if p_start > s_start else (0, 0)
        right = self._tidy(p_end, s_end) if p_end < s_end else (0, 0)
        pieces = [p for p in (left, right) if p[1] - p[0] > 1]
        if not pieces:
            return None
        cs, ce = pieces[0][0], pieces[-1][1]
        parts = pieces if len(pieces) > 1 else None
        speaker = self._speaker(source)
        return _Draft(source, (tok.idx, to.idx + len(to)), (cs, ce), speaker, parts, "according")

    def _to_claim(self, d: _Draft) -> Claim:
        text = self.text
        cs, ce = d.content
        content_text = text[cs:ce]
        has_quote = any(c in QUOTE_CHARS for c in content_text) or "''" in content_text
        if has_quote:
            pieces = d.parts if d.parts else [d.content]
            direct = all(self._quote_at(ps) == (ps, pe) for ps, pe in pieces)
            kind = "direct" if direct else "mixed"
        else:
            kind = "indirect"
        return Claim(
            source=None
            if d.source is None
            else TextSpan(start=d.source.start_char, end=d.source.end_char, text=d.source.text),
            cue=TextSpan(start=d.cue[0], end=d.cue[1], text=text[d.cue[0] : d.cue[1]]),
            content=TextSpan(start=cs, end=ce, text=content_text),
            content_parts=[]
            if not d.parts or len(d.parts) < 2
            else [TextSpan(start=s, end=e, text=text[s:e]) for s, e in d.parts],
            speaker=d.speaker,
            kind=kind,
            quantities=[q for q in self.quantities if q.start >= cs and q.end <= ce],
        )


def extract_claims(doc: Doc, layer: EntityLayer, quantities: list[Quantity]) -> list[Claim]:
    return ClaimExtractor(doc, layer, quantities).extract()
