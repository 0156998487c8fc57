"""Evaluate a parsed rule against one EnrichedArticle.

Word and phrase terms match whole words of the title and body, case-insensitively: both
sides go through the same tokenizer (``query.words``), a word is a set lookup and a phrase
a substring search in the space-joined token string, so "Putin" never matches "Putinism"
and no regular expression is ever built from rule text (no pathological backtracking).

Actor terms match the canonical actors the enrichment stage extracted, never raw text:
``actor:Putin`` resolves through the actor registry to "Vladimir Putin" and matches an
article whose actors (or entities) resolve to the same canonical name or one of its aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pipeline.alerts.query import And, Node, Not, Or, Term, iter_terms, words
from pipeline.records import EnrichedArticle


class ActorNames(Protocol):
    """What the matcher needs of pipeline.enrich.actors.ActorRegistry."""

    def canonical(self, name: str) -> str: ...

    def aliases(self, canonical: str) -> set[str]: ...


class IdentityNames:
    """No registry: every name is its own canonical and has no aliases."""

    def canonical(self, name: str) -> str:
        return name

    def aliases(self, canonical: str) -> set[str]:
        return set()


def actor_names(registry: ActorNames, name: str) -> frozenset[str]:
    """Every case-folded name an actor term accepts: as written, canonical, aliases."""
    canonical = registry.canonical(name)
    names = {name, canonical, *registry.aliases(canonical)}
    return frozenset(" ".join(n.split()).casefold() for n in names if n.strip())


@dataclass
class ArticleView:
    """The features of one article that terms test, computed once per article."""

    title_words: set[str]
    body_words: set[str]
    all_words: set[str]
    title_joined: str  # " w1 w2 ... " for phrase search on word boundaries
    body_joined: str
    actors: set[str]  # case-folded, as extracted and as the registry resolves them
    speakers: set[str]
    outlet: str
    domain: str
    lang: str
    tags: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, enriched: EnrichedArticle, registry: ActorNames) -> ArticleView:
        article = enriched.article
        title = words(article.title)
        body = words(article.text)
        raw_actors = {a.canonical for a in enriched.actors} | {
            e.canonical for e in enriched.entities
        }
        raw_speakers = {c.speaker for c in enriched.claims if c.speaker}
        return cls(
            title_words=set(title),
            body_words=set(body),
            all_words=set(title) | set(body),
            title_joined=f" {' '.join(title)} ",
            body_joined=f" {' '.join(body)} ",
            actors=_resolved(raw_actors, registry),
            speakers=_resolved(raw_speakers, registry),
            outlet=(article.outlet or "").casefold(),
            domain=article.domain.casefold(),
            lang=(article.language or "").casefold(),
            tags={t.casefold() for t in article.tags},
        )


def _resolved(names: set[str], registry: ActorNames) -> set[str]:
    out: set[str] = set()
    for name in names:
        out.add(name.casefold())
        out.add(registry.canonical(name).casefold())
    return out


class CompiledTerm:
    """A term with its registry lookups done once, when the rule is loaded."""

    __slots__ = ("names", "phrase", "term")

    def __init__(self, term: Term, registry: ActorNames) -> None:
        self.term = term
        self.phrase = f" {' '.join(term.tokens)} " if len(term.tokens) > 1 else ""
        if term.field in ("actor", "speaker"):
            self.names = actor_names(registry, term.value)
        else:
            self.names = frozenset({" ".join(term.value.split()).casefold()})

    def matches(self, view: ArticleView) -> bool:
        field_ = self.term.field
        if field_ in ("text", "title", "body"):
            if self.phrase:
                return (field_ != "body" and self.phrase in view.title_joined) or (
                    field_ != "title" and self.phrase in view.body_joined
                )
            (word,) = self.term.tokens
            if field_ == "text":
                return word in view.all_words
            return word in (view.title_words if field_ == "title" else view.body_words)
        if field_ == "actor":
            return not self.names.isdisjoint(view.actors)
        if field_ == "speaker":
            return not self.names.isdisjoint(view.speakers)
        (value,) = self.names
        if field_ == "outlet":
            return view.outlet == value
        if field_ == "domain":
            return view.domain == value or view.domain.endswith("." + value)
        if field_ == "lang":
            return view.lang == value or view.lang.startswith(value + "-")
        if field_ == "tag":
            return value in view.tags
        raise ValueError(f"unknown field {field_!r}")  # the parser refuses these


class Matcher:
    """One rule's query, compiled: ``matches(view)`` and the terms that made it match."""

    def __init__(self, node: Node, registry: ActorNames) -> None:
        self.node = node
        self.terms: dict[int, CompiledTerm] = {
            id(term): CompiledTerm(term, registry) for term, _ in iter_terms(node)
        }

    def matches(self, view: ArticleView) -> bool:
        return self._eval(self.node, view)

    def _eval(self, node: Node, view: ArticleView) -> bool:
        if isinstance(node, Term):
            return self.terms[id(node)].matches(view)
        if isinstance(node, Not):
            return not self._eval(node.child, view)
        if isinstance(node, And):
            return all(self._eval(c, view) for c in node.children)
        if isinstance(node, Or):
            return any(self._eval(c, view) for c in node.children)
        raise TypeError(f"not a query node: {node!r}")

    def matched_terms(self, view: ArticleView) -> list[str]:
        """The non-negated terms present in the article, for the alert's explanation."""
        seen: list[str] = []
        for term, negated in iter_terms(self.node):
            if not negated and self.terms[id(term)].matches(view) and str(term) not in seen:
                seen.append(str(term))
        return seen


def matches(node: Node, enriched: EnrichedArticle, registry: ActorNames | None = None) -> bool:
    """Convenience for one-off checks; the engine compiles rules once instead."""
    registry = registry or IdentityNames()
    return Matcher(node, registry).matches(ArticleView.of(enriched, registry))
