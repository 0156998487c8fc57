"""Content spans: what a cue reports, as character ranges of the text.

A verb cue's content is its clausal complement (the ccomp subtree, "that" included), else
a quotation next to it, else its object, else the sentence around a parenthetical
attribution. Content that touches a quotation is widened to the whole quotation, then to
the quotations that continue it. A content that runs round its own attribution ("The
argument, Devine said, would ...") is returned with that attribution as its ``gap``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spacy.tokens import Doc, Token

from pipeline.enrich.claims.cues import (
    CLAUSE_ONLY_LEMMAS,
    CONTENT_PREPS,
    EXTENDED_OBJECT_LEMMAS,
    OBJECT_PREPS,
    TRIM_DEPS,
    TRIM_MARKS,
    TRIM_PREPS,
    after_comma,
    is_cue,
)
from pipeline.enrich.claims.quotations import QUOTE_CHARS, CharRange, Quotations

if TYPE_CHECKING:
    from pipeline.enrich.claims.rules import RuleSet


@dataclass(frozen=True)
class Content:
    """A content range; ``gap`` is an attribution inside it, left out of its parts."""

    start: int
    end: int
    gap: CharRange | None = None


class ContentSpans:
    """Finds and trims content ranges in one parsed text."""

    def __init__(self, doc: Doc, quotes: Quotations, rules: RuleSet) -> None:
        self.doc = doc
        self.text = doc.text
        self.quotes = quotes
        self.rules = rules
        self._token_starts = [t.idx for t in doc]

    def token_at(self, char: int) -> int:
        """Index of the first token starting at or after ``char``."""
        return bisect_right(self._token_starts, char - 1)

    # --- a verb's content, strategy by strategy ---------------------------------------

    def clause_before(self, verb: Token) -> Content | None:
        """ "Russian forces have retaken 90% of the land, General Gerasimov claimed": the
        parser makes the cue a conjunct of the reported clause; the content is that clause,
        up to the comma before the cue's own subject."""
        doc, head = self.doc, verb.head
        if verb.dep_ != "conj" or head.i >= verb.i or head.pos_ not in ("VERB", "AUX"):
            return None
        if any(c.dep_ in ("cc", "dobj", "ccomp") for c in verb.children):
            return None
        if any(c.dep_ == "cc" and head.i < c.i < verb.i for c in head.children):
            return None  # "... and Smith said": a second clause, not an inverted report
        subj = next((c for c in verb.children if c.dep_ == "nsubj" and c.i < verb.i), None)
        if subj is None or subj.left_edge.i == 0 or doc[subj.left_edge.i - 1].text != ",":
            return None
        start, end = max(head.left_edge.i, verb.sent.start), subj.left_edge.i - 1
        if end - start < 3:
            return None
        return Content(doc[start].idx, doc[end - 1].idx + len(doc[end - 1]))

    def _tokens_range(self, comps: list[Token], verb: Token) -> Content:
        doc = self.doc
        right = [c for c in comps if c.i > verb.i]
        if right and len(right) < len(comps):
            comps = right  # complements on both sides: the left one is a misparse
        start = min(c.left_edge.i for c in comps)
        end = max(c.right_edge.i for c in comps) + 1
        gap = None
        if start < verb.i < end:
            # "The argument would be aided, Devine said, by the calendar": the content runs
            # round an inserted attribution, which becomes the gap between two parts.
            inside = {t.i for c in comps for t in c.subtree}
            own = [t.i for t in verb.subtree if t.i not in inside and start <= t.i < end]
            lo, hi = min(own), max(own)
            gap = (doc[lo].idx, doc[hi].idx + len(doc[hi]))
        return Content(doc[start].idx, doc[end - 1].idx + len(doc[end - 1]), gap)

    def clausal(self, verb: Token) -> Content | None:
        comps = [c for c in verb.children if c.dep_ in ("ccomp", "parataxis")]
        if not comps and self.rules.on("more-clauses"):
            # "said in a statement that ...": a that-clause the parser hung elsewhere.
            comps = [
                c
                for c in verb.children
                if c.i > verb.i
                and c.dep_ in ("advcl", "dep", "conj", "xcomp")
                and any(m.dep_ == "mark" and m.lower_ in ("that", "whether") for m in c.children)
            ]
        if not comps and self.rules.on("more-clauses"):
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
        if not comps and self.rules.on("clause-before"):
            before = self.clause_before(verb)
            if before is not None:
                return before
        if not comps:
            return None
        content = self._tokens_range(comps, verb)
        if not self.rules.on("trim-adverbials"):
            return content
        # ", during his first trip ..." / ", as Moscow waits ...": spaCy hangs the reporting
        # clause's adverbials on the complement; the gold leaves them out.
        end = content.end
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
                        self.rules.on("trim-participles")
                        and child.tag_ == "VBG"
                        and child.left_edge.i == child.i
                    )
                )
                and (head.i == last.i or (head.dep_ == "xcomp" and head.head.i == last.i))
                and child.left_edge.i > 0
                and self.doc[child.left_edge.i - 1].text == ","
                and self.doc[child.left_edge.i - 1].idx > content.start
            ):
                end = min(end, self.doc[child.left_edge.i - 1].idx)
        return Content(content.start, end, content.gap)

    def adjacent_quote(self, verb: Token, subject: Token | None) -> Content | None:
        """A quotation right after "X said:" / "X said," or right before '", X said'."""
        text, quotes = self.text, self.quotes
        sent = verb.sent
        verb_end = verb.idx + len(verb)
        after = text[verb_end : sent.end_char + 1]
        stripped = after.lstrip(" ,:\n\t")
        gap = len(after) - len(stripped)
        if stripped and (stripped[0] in QUOTE_CHARS or stripped.startswith(("''", "``"))):
            q = quotes.at(verb_end + gap)
            if q:
                return Content(*q)
        if self.rules.on("after-object-quote"):
            # 'told Breitbart News host Matt Boyle, "..."': only the addressee in between.
            for qs, _qe in quotes.spans:
                if qs <= verb.idx or qs >= sent.end_char:
                    continue
                lead = text[verb_end:qs].rstrip()
                if not lead.endswith((",", ":")):
                    break
                between = self.doc.char_span(
                    verb_end, verb_end + len(lead), alignment_mode="contract"
                )
                if between is not None and not any(
                    t.pos_ in ("VERB", "AUX") or quotes.at(t.idx) for t in between
                ):
                    q = quotes.at(qs)
                    return Content(*q) if q else None
                break
        # Colon at the end of the sentence: the quotation may open the next paragraph.
        tail = text[verb_end : sent.end_char].strip()
        if tail.endswith(":") or text[verb_end:].startswith(":"):
            nxt = next((q for q in quotes.spans if q[0] >= sent.end_char - 1), None)
            if nxt and nxt[0] - sent.end_char < 5:
                return Content(*nxt)
        # '"...," Gerasimov claimed' / '"...," said Ms. Acosta': only the subject between.
        left = verb.idx
        if subject is not None and subject.i < verb.i:
            left = self.doc[subject.left_edge.i].idx
        gap_text = text[:left].rstrip(" ,\t\xa0")
        q = quotes.at(len(gap_text) - 1) if gap_text else None
        if q is not None and q[1] == len(gap_text) and quotes.ends_mid_sentence(q):
            return Content(*q)
        return None

    def object(self, verb: Token) -> Content | None:
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
        elif self.rules.on("extend-objects"):
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

    def parenthetical(self, verb: Token) -> Content | None:
        """'The golf industry, she said, is "doing much better"': the sentence around an
        attribution set off by commas (kept as the gap between two parts)."""
        doc = self.doc
        if verb.dep_ not in ("parataxis", "ccomp", "advcl", "conj") or verb.head.i == verb.i:
            return None
        own = [t for t in verb.subtree if not t.is_punct]
        lo, hi = own[0].i, own[-1].i
        if lo == 0 or hi + 1 >= len(doc):
            return None
        if doc[lo - 1].text not in (",", "—") or doc[hi + 1].text not in (",", "—"):
            return None
        sent = verb.sent
        pstart, pend = self.quotes.paragraph(verb.idx)
        gap = (doc[lo - 1].idx, doc[hi + 1].idx + 1)
        return Content(max(sent.start_char, pstart), min(sent.end_char, pend), gap)

    # --- trimming and continuing --------------------------------------------------------

    def cut_at_next_cue(self, start: int, end: int, verb: Token) -> int:
        """'..., adding that ...' starts a claim of its own: end the content before it."""
        doc, quotes, rules = self.doc, self.quotes, self.rules
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            return end
        for t in span:
            if (
                rules.on("trim-relative")
                and t.lower_ in ("which", "who")
                and t.i > span.start + 2
                and doc[t.i - 1].text == ","
                and t.head.dep_ == "relcl"
                and quotes.at(t.idx) is None
                and t.head.right_edge.i >= span.end - 2
            ):
                return quotes.tidy(start, doc[t.i - 1].idx)[1]
            if (
                rules.on("cut-conj-cues")
                and t.i > verb.i + 1
                and t.i > span.start + 1
                and t.dep_ == "conj"
                and doc[t.i - 1].lower_ in ("and", "but")
                and is_cue(t)
                and quotes.at(t.idx) is None
            ):
                return quotes.tidy(start, doc[t.i - 1].idx)[1]
            if (
                rules.on("cut-participle-cues")
                and t.i > verb.i
                and t.tag_ == "VBG"
                and t.i > span.start
                and after_comma(t)
                and is_cue(t)
            ):
                return quotes.tidy(start, doc[t.i - 1].idx + len(doc[t.i - 1]))[1]
        return end

    def has_foreign_cue(self, start: int, end: int, verb: Token) -> bool:
        """Another attribution between start and end: a cue with its own subject, or one
        starting a new clause (', adding ...'). Relative clauses describe the source."""
        span = self.doc.char_span(start, end, alignment_mode="expand")
        if span is None:
            return False
        participles = self.rules.on("foreign-participles")
        return any(
            t.i != verb.i
            and t.dep_ != "relcl"
            and is_cue(t)
            and (
                any(c.dep_ in ("nsubj", "nsubjpass") for c in t.children)
                or (participles and t.tag_ == "VBG" and after_comma(t))
            )
            for t in span
        )

    def continue_quotes(self, parts: list[CharRange], cue: Token) -> None:
        """Add quotations that follow in the same paragraph with no cue of their own."""
        quotes = self.quotes
        _, para_end = quotes.paragraph(parts[0][0])
        end = parts[-1][1]
        for nxt in quotes.spans:
            if nxt[0] < end:
                continue
            if nxt[0] >= para_end:
                return
            # Allow only the attribution between ('", he said. "'), never another speaker.
            if nxt[0] - end > 250 or self.has_foreign_cue(end, nxt[0], cue):
                return
            if quotes.sentence_starts_at(nxt[0]):
                parts.append(nxt)
                end = nxt[1]
            # else: a title or scare quote inside the attribution ('told NBC's "Today"')

    def continue_paragraphs(self, parts: list[CharRange]) -> None:
        """Add quoted paragraphs that follow a quotation-ending claim, with no cue of their own."""
        text, quotes = self.text, self.quotes
        end = parts[-1][1]
        _, para_end = quotes.paragraph(max(parts[0][0], end - 1))
        if any(q[0] >= end for q in quotes.spans if q[0] < para_end):
            return
        for _ in range(5):
            nxt = para_end + 1
            while nxt < len(text) and text[nxt].isspace():
                nxt += 1
            q = quotes.at(nxt)
            if q is None or q[0] != nxt:
                return
            _, next_end = quotes.paragraph(nxt)
            para = self.doc.char_span(nxt, next_end, alignment_mode="expand")
            if para is None or any(is_cue(t) and quotes.at(t.idx) is None for t in para):
                return
            parts.extend(q for q in quotes.spans if nxt <= q[0] < next_end)
            para_end = next_end
