"""Sources and speakers: who a claim is attributed to.

The source is the span as written ("Gerasimov", "he", "the spokesperson"): the cue verb's
subject, inherited up through "..., adding that" and relative clauses, or the agent of a
passive. The speaker is the canonical actor it refers to: an entity inside the source, the
antecedent of a relative pronoun, the last speaker or person before a pronoun, the holder
of a title noun, else the source's own cleaned text.
"""

from __future__ import annotations

from collections.abc import Sequence

from spacy.tokens import Doc, Span, Token

from pipeline.enrich.actors import clean_name
from pipeline.enrich.claims.quotations import CharRange, Quotations
from pipeline.enrich.entities import AGENT_LABELS, EntityLayer

PRONOUNS_PERSON = frozenset({"he", "she", "him", "her"})
PRONOUNS_OTHER = frozenset({"they", "it", "we", "i"})
RELATIVES = frozenset({"who", "that", "which"})
SUBJECT_DEPS = ("nsubj", "nsubjpass")
# Dependencies through which a cue inherits the subject of the clause it hangs on.
INHERITING_DEPS = ("advcl", "xcomp", "conj", "pcomp", "acl")


def subject(verb: Token) -> Token | None:
    """The verb's subject, else the one of the clause it continues; a passive's agent."""
    tok: Token | None = verb
    for _ in range(4):
        if tok is None:
            return None
        subjects = [c for c in tok.children if c.dep_ in SUBJECT_DEPS]
        # Two subjects: '..., said Alan Abramowitz' -- the one after the verb speaks; both
        # before it ('Chief of the General Staff Valery Gerasimov claimed', a title parsed
        # as a subject of its own) -- the one next to the verb is the named person.
        subj = None
        if len(subjects) > 1:
            after = [c for c in subjects if c.i > tok.i]
            subj = after[0] if after else max(subjects, key=lambda c: c.i)
        subj = subj or (subjects[0] if subjects else None)
        if subj is not None:
            if subj.dep_ == "nsubjpass":
                agent = next((c for c in tok.children if c.dep_ == "agent"), None)
                if agent is None:
                    return None
                return next((c for c in agent.children if c.dep_ == "pobj"), None)
            return subj  # "who" of a relative clause: the resolver looks through it
        if tok.dep_ in INHERITING_DEPS and tok.head is not tok:
            tok = tok.head
        else:
            return None
    return None


def source_span(subj: Token) -> Span:
    """The subject's phrase, without trailing punctuation."""
    doc = subj.doc
    left, right = subj.left_edge.i, subj.right_edge.i + 1
    while right - 1 > left and doc[right - 1].is_punct:
        right -= 1
    return doc[left:right]


def fallback_source(verb: Token, parts: Sequence[CharRange], quotes: Quotations) -> Span | None:
    """No subject reached through the parse ("..., telling reporters"): the sentence's
    subject, else its last agent-like entity before the cue, outside the content."""

    def free(span: Span) -> bool:
        return not any(s < span.end_char and e > span.start_char for s, e in parts) and (
            quotes.at(span.start_char) is None
        )

    sent = verb.sent
    subj = next((c for c in sent.root.children if c.dep_ in SUBJECT_DEPS), None)
    if subj is not None and subj.i < verb.i and subj.lower_ not in RELATIVES:
        span = source_span(subj)
        if free(span):
            return span
    for ent in reversed([e for e in sent.ents if e.end <= verb.i]):
        if ent.label_ in AGENT_LABELS and free(ent):
            return ent
    return None


class SpeakerResolver:
    """Canonical speakers of sources, in text order (pronouns look back)."""

    def __init__(self, doc: Doc, layer: EntityLayer) -> None:
        self.doc = doc
        self.layer = layer
        self.person_names = {name for _, name in layer.persons}
        #: (token index of the cue, speaker) of the last claim with a resolved source
        self.last: tuple[int, str] | None = None
        #: start of the paragraph of that claim's cue
        self.last_paragraph: int | None = None

    def note(self, cue: Token, speaker: str) -> None:
        """Remember the speaker of a claim, for the pronouns that follow."""
        self.last = (cue.i, speaker)

    def resolve(self, source: Span | None) -> str | None:
        if source is None:
            return None
        layer = self.layer
        found = [layer.token_actor[t.i] for t in source if t.i in layer.token_actor]
        found = [f for f in found if f[1] in AGENT_LABELS]
        if found:
            person = next((name for name, label in found if label == "PERSON"), None)
            head = layer.token_actor.get(source.root.i)
            if person is None and head is not None and head[1] in AGENT_LABELS:
                person = head[0]  # "Dmytro Lykhovy, a spokesman for Ukraine's ...": the head
            if person is None:
                # "Ukraine's commander-in-chief, Oleksandr Syrskyi, said": the appositive
                # names who speaks, whatever label the tagger gave it.
                appos = [
                    layer.token_actor[t.i]
                    for c in source.root.children
                    if c.dep_ == "appos"
                    for t in c.subtree
                    if t.i in layer.token_actor and layer.token_actor[t.i][1] in AGENT_LABELS
                ]
                person = appos[0][0] if appos else None
            return person or found[0][0]
        root = source.root
        lower = root.lower_
        if lower in RELATIVES and root.head.dep_ == "relcl" and root.head.head.i != root.i:
            noun = root.head.head  # "Mr. Reid, who said ..." speaks for Mr. Reid
            return self.resolve(self.doc[noun.left_edge.i : noun.i + 1])
        if lower in PRONOUNS_PERSON:
            last = self.last
            if last and root.i - last[0] < 250 and last[1] in self.person_names:
                return last[1]
            prev = [name for i, name in layer.persons if i < root.i]
            return prev[-1] if prev else None
        if lower in PRONOUNS_OTHER:
            return self.last[1] if self.last else None
        holders = layer.titles.get(root.lemma_.lower())
        if holders:
            before = [name for i, name in holders if i < root.i]
            return before[-1] if before else holders[0][1]
        return clean_name(source.text) or None
