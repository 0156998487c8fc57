"""Annotator: one spaCy parse per text, then entities, quantities and claims from it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.enrich.actors import ActorRegistry
from pipeline.enrich.claims import ALL_RULES, RuleSet, extract_claims
from pipeline.enrich.entities import EntityExtractor
from pipeline.enrich.nlp import load_nlp
from pipeline.enrich.quantities import extract_quantities
from pipeline.records import Actor, Claim, Entity, Quantity


@dataclass
class Annotation:
    """What the annotator found in one text."""

    entities: list[Entity] = field(default_factory=list)
    actors: list[Actor] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)


class Annotator:
    """Entities, actors, quantities and claims of a text; offsets index the text as given."""

    def __init__(
        self,
        registry: ActorRegistry | None = None,
        nlp: Language | None = None,
        claim_rules: RuleSet = ALL_RULES,
    ) -> None:
        self.registry = registry if registry is not None else ActorRegistry.load()
        self.claim_rules = claim_rules
        self.nlp = nlp if nlp is not None else load_nlp()
        tokenizer = self.nlp.tokenizer
        self.entities = EntityExtractor(self.registry, lambda s: [t.text for t in tokenizer(s)])

    def annotate(self, text: str) -> Annotation:
        return self.annotate_doc(self.nlp(text))

    def annotate_many(self, texts: Iterable[str], batch_size: int = 32) -> Iterator[Annotation]:
        for doc in self.nlp.pipe(texts, batch_size=batch_size):
            yield self.annotate_doc(doc)

    def annotate_doc(self, doc: Doc) -> Annotation:
        """Annotate an already parsed text (the parse is never redone)."""
        layer = self.entities.extract(doc)
        quantities = extract_quantities(doc, layer.token_actor)
        claims = extract_claims(doc, layer, quantities, self.claim_rules)
        return Annotation(
            entities=layer.entities, actors=layer.actors, claims=claims, quantities=quantities
        )
