"""Named entities of a parsed article, resolved to canonical actors.

spaCy's NER gives the mentions; the actor registry's aliases are also matched on the tokens
(a curated name beats the statistical model where they disagree, e.g. "Trump's Special
Middle East" becomes "Trump" and "Middle East"). Cheap: one pass over the tokens, no
re-parse.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spacy.tokens import Doc, Span

from pipeline.enrich.actors import ActorRegistry, Mention, majority_labels, resolve_mentions
from pipeline.records import Actor, Entity

#: spaCy labels kept as entities; numbers, dates and times go to quantities or nowhere.
NAMED_LABELS = frozenset(
    {
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)
#: Labels that can speak (be a claim's speaker).
AGENT_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP"})


@dataclass
class EntityLayer:
    """Entities plus the token-level lookups claim extraction needs."""

    entities: list[Entity] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    #: token index -> (canonical, label) for tokens inside an entity mention
    token_actor: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: (token index of mention root, canonical) of person mentions, in text order
    persons: list[tuple[int, str]] = field(default_factory=list)
    #: title noun lemma ("spokesperson") -> [(token index, canonical)] of who holds it
    titles: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


class EntityExtractor:
    def __init__(self, registry: ActorRegistry, tokenize) -> None:
        self.registry = registry
        self.index = registry.token_index(tokenize)
        self.first_words = {k[0] for k in self.index}
        self.max_len = max((len(k) for k in self.index), default=0)

    def _registry_spans(self, doc: Doc) -> list[tuple[int, int, str]]:
        texts = [t.text for t in doc]
        found = []
        i = 0
        while i < len(texts):
            if texts[i] in self.first_words:
                for n in range(min(self.max_len, len(texts) - i), 0, -1):
                    canonical = self.index.get(tuple(texts[i : i + n]))
                    if canonical is not None:
                        found.append((i, i + n, canonical))
                        i += n - 1
                        break
            i += 1
        return found

    def _mentions(self, doc: Doc) -> list[tuple[Span, str | None]]:
        """(span, registry canonical or None), spaCy's and the registry's merged."""
        reg = self._registry_spans(doc)
        reg_tokens = {t: (s, e, c) for s, e, c in reg for t in range(s, e)}
        taken: set[int] = set()
        out: list[tuple[Span, str | None]] = []
        for ent in doc.ents:
            if ent.label_ not in NAMED_LABELS:
                continue
            if ent[0].lower_ == "the" and len(ent) > 1:
                ent = ent[1:]
            hits = {reg_tokens[t] for t in range(ent.start, ent.end) if t in reg_tokens}
            entry = self.registry.lookup(ent.text)
            if hits and entry is None:
                continue  # the registry's names inside it replace it
            out.append((ent, entry.canonical if entry else None))
            taken.update(range(ent.start, ent.end))
        for s, e, canonical in reg:
            if not taken.intersection(range(s, e)):
                label = self.registry.entries[canonical].type
                out.append((Span(doc, s, e, label=label), canonical))
        out.sort(key=lambda m: m[0].start)
        return out

    def extract(self, doc: Doc) -> EntityLayer:
        layer = EntityLayer()
        found = self._mentions(doc)
        if not found:
            return layer
        mentions = [
            Mention(span.start_char, span.end_char, span.text, span.label_) for span, _ in found
        ]
        # A surname tagged ORG or PRODUCT ("Trump") is a person when the article names one.
        surnames = {m.text.split()[-1] for m in mentions if m.label == "PERSON" and " " in m.text}
        mentions = [
            Mention(m.start, m.end, m.text, "PERSON")
            if m.label != "PERSON" and m.text in surnames
            else m
            for m in mentions
        ]
        names = resolve_mentions(mentions, self.registry)
        names = [reg or name for (_, reg), name in zip(found, names, strict=True)]
        labels = majority_labels(zip(names, (m.label for m in mentions), strict=True))
        for name in labels:
            entry = self.registry.entries.get(name)
            if entry is not None:
                labels[name] = entry.type
        counts = Counter(names)
        for (span, _), name in zip(found, names, strict=True):
            label = labels[name]
            layer.entities.append(
                Entity(
                    start=span.start_char,
                    end=span.end_char,
                    text=span.text,
                    label=label,
                    canonical=name,
                )
            )
            for t in range(span.start, span.end):
                layer.token_actor[t] = (name, label)
            if label == "PERSON":
                layer.persons.append((span.root.i, name))
                self._note_titles(span, name, layer)
        for name, n in counts.items():
            entry = self.registry.entries.get(name)
            layer.actors.append(
                Actor(
                    canonical=name,
                    type=labels[name],
                    mentions=n,
                    wikidata=entry.wikidata if entry else None,
                )
            )
        return layer

    @staticmethod
    def _note_titles(span: Span, name: str, layer: EntityLayer) -> None:
        """Remember "spokesperson" in "Kremlin spokesperson Dmitry Peskov" (and appositions)."""
        root = span.root
        nouns = [t for t in root.subtree if t.i < span.start and t.pos_ == "NOUN"] + [
            c for c in root.children if c.dep_ == "appos" and c.pos_ == "NOUN"
        ]
        if root.dep_ == "appos" and root.head.pos_ == "NOUN":
            nouns.append(root.head)
        for noun in nouns:
            layer.titles.setdefault(noun.lemma_.lower(), []).append((root.i, name))
