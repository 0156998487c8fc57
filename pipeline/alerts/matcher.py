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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from pipeline import vocabulary
from pipeline.alerts.query import And, Node, Not, Or, Term, iter_terms, words
from pipeline.records import ClaimLink, EnrichedArticle


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
    claim_links: set[str] = field(default_factory=set)  # "changed"/"disputed": a ClaimLink

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

    @classmethod
    def of_link(cls, link: ClaimLink, registry: ActorNames) -> ArticleView:
        """A claim link as the rules see it: ``claim:`` its kind, the speakers of both
        claims, words of both claims' wordings (body) and of the article's title."""
        title = words(link.title)
        body = [w for content in link.contents for w in words(content)]
        domain = (urlsplit(link.url).hostname or "").casefold()
        speakers = _resolved(set(link.speakers), registry)
        return cls(
            title_words=set(title),
            body_words=set(body),
            all_words=set(title) | set(body),
            title_joined=f" {' '.join(title)} ",
            body_joined=" " + " | ".join(" ".join(words(c)) for c in link.contents) + " ",
            actors=set(speakers),
            speakers=speakers,
            outlet=(link.outlet or "").casefold(),
            domain=domain.removeprefix("www."),
            lang="",
            claim_links={link.kind},
        )


def _resolved(names: set[str], registry: ActorNames) -> set[str]:
    out: set[str] = set()
    for name in names:
        out.add(name.casefold())
        out.add(registry.canonical(name).casefold())
    return out


Test = Callable[[ArticleView], bool]
TestBuilder = Callable[[Term, frozenset[str]], Test]
#: one builder per vocabulary field (pipeline.vocabulary): term and its names -> a test
STREAM_TESTS: dict[str, TestBuilder] = {}


def stream_test(*names: str) -> Callable[[TestBuilder], TestBuilder]:
    """Register how terms of the vocabulary fields ``names`` test an ArticleView."""

    def register(builder: TestBuilder) -> TestBuilder:
        for name in names:
            if name not in vocabulary.FIELDS:
                raise ValueError(f"{name!r} is not a field of pipeline.vocabulary")
            STREAM_TESTS[name] = builder
        return builder

    return register


@stream_test("text", "title", "body")
def _words_test(term: Term, names: frozenset[str]) -> Test:
    """A closure specialised for the term's field: no dispatch left at evaluation time."""
    field_ = term.field
    if len(term.tokens) > 1:
        # every word present (set lookups) before the substring search over the text
        phrase, need = f" {' '.join(term.tokens)} ", frozenset(term.tokens)
        if field_ == "title":
            return lambda v: need <= v.title_words and phrase in v.title_joined
        if field_ == "body":
            return lambda v: need <= v.body_words and phrase in v.body_joined
        return lambda v: need <= v.all_words and (
            phrase in v.title_joined or phrase in v.body_joined
        )
    (word,) = term.tokens
    if field_ == "title":
        return lambda v: word in v.title_words
    if field_ == "body":
        return lambda v: word in v.body_words
    return lambda v: word in v.all_words


@stream_test("actor")
def _actor_test(term: Term, names: frozenset[str]) -> Test:
    return lambda v: not names.isdisjoint(v.actors)


@stream_test("speaker")
def _speaker_test(term: Term, names: frozenset[str]) -> Test:
    return lambda v: not names.isdisjoint(v.speakers)


@stream_test("claim")
def _claim_test(term: Term, names: frozenset[str]) -> Test:
    (value,) = names
    return lambda v: value in v.claim_links


@stream_test("outlet")
def _outlet_test(term: Term, names: frozenset[str]) -> Test:
    (value,) = names
    return lambda v: v.outlet == value


@stream_test("domain")
def _domain_test(term: Term, names: frozenset[str]) -> Test:
    (value,) = names
    suffix = "." + value
    return lambda v: v.domain == value or v.domain.endswith(suffix)


@stream_test("lang")
def _lang_test(term: Term, names: frozenset[str]) -> Test:
    (value,) = names
    prefix = value + "-"
    return lambda v: v.lang == value or v.lang.startswith(prefix)


@stream_test("tag")
def _tag_test(term: Term, names: frozenset[str]) -> Test:
    (value,) = names
    return lambda v: value in v.tags


def _term_test(term: Term, names: frozenset[str]) -> Test:
    builder = STREAM_TESTS.get(term.field)
    if builder is None:
        raise ValueError(f"unknown field {term.field!r}")  # the parser refuses these
    return builder(term, names)


class CompiledTerm:
    """A term with its registry lookups done once, when the rule is loaded."""

    __slots__ = ("matches", "names", "term")

    def __init__(self, term: Term, registry: ActorNames) -> None:
        self.term = term
        if vocabulary.FIELDS[term.field].actor:
            self.names = actor_names(registry, term.value)
        else:
            self.names = frozenset({" ".join(term.value.split()).casefold()})
        self.matches: Test = _term_test(term, self.names)


class Matcher:
    """One rule's query compiled to nested closures: ``matches(view)``, and the terms that
    made it match. Compiling once per rule keeps per-article work to set lookups."""

    def __init__(self, node: Node, registry: ActorNames) -> None:
        self.node = node
        self.terms: dict[int, CompiledTerm] = {
            id(term): CompiledTerm(term, registry) for term, _ in iter_terms(node)
        }
        self.positive = [
            (str(term), self.terms[id(term)].matches)
            for term, negated in iter_terms(node)
            if not negated
        ]
        self.matches: Test = self._compile(node)

    def _compile(self, node: Node) -> Test:
        if isinstance(node, Term):
            return self.terms[id(node)].matches
        if isinstance(node, Not):
            inner = self._compile(node.child)
            return lambda v: not inner(v)
        if isinstance(node, And | Or):
            parts = tuple(self._compile(c) for c in node.children)
            if len(parts) == 2:
                a, b = parts
                if isinstance(node, And):
                    return lambda v: a(v) and b(v)
                return lambda v: a(v) or b(v)
            if isinstance(node, And):
                return lambda v: all(p(v) for p in parts)
            return lambda v: any(p(v) for p in parts)
        raise TypeError(f"not a query node: {node!r}")

    def matched_terms(self, view: ArticleView) -> list[str]:
        """The non-negated terms present in the article, for the alert's explanation."""
        seen: list[str] = []
        for label, test in self.positive:
            if label not in seen and test(view):
                seen.append(label)
        return seen


def matches(node: Node, enriched: EnrichedArticle, registry: ActorNames | None = None) -> bool:
    """Convenience for one-off checks; the engine compiles rules once instead."""
    registry = registry or IdentityNames()
    return Matcher(node, registry).matches(ArticleView.of(enriched, registry))
