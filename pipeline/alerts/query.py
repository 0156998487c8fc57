"""The alert rule language: a small boolean query over words, phrases and fields.

    actor:"Vladimir Putin" AND (Kursk OR ceasefire) NOT outlet:RT
    title:"peace talks" lang:en

Grammar (implicit AND binds like AND; NOT binds tightest; AND, OR, NOT upper case only,
so a lower-case "and" is an ordinary word, as in Lucene)::

    query    := or_expr EOF
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*
    unary    := "NOT" unary | primary
    primary  := "(" or_expr ")" | [FIELD ":"] (WORD | "PHRASE")

A hand-written recursive-descent parser: the grammar is six lines, and it lets every
error name the character position and what was expected in the analyst's terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipeline import vocabulary

#: the fields a rule may name, shared with `wirewatch search` (pipeline.vocabulary)
FIELDS = vocabulary.FIELDS
FIELD_ALIASES = vocabulary.FIELD_ALIASES

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The tokens that word and phrase terms match against, in order, case-folded."""
    return _WORD.findall(text.casefold())


class QuerySyntaxError(ValueError):
    """A rule that does not parse; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message = message
        self.query = query
        self.position = position
        super().__init__(str(self))

    @property
    def caret(self) -> str:
        return " " * self.position + "^"

    def __str__(self) -> str:
        one_line = self.query.replace("\n", " ").replace("\t", " ")
        return f"{self.message} at position {self.position}\n  {one_line}\n  {self.caret}"


# --- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    field: str  # a key of FIELDS
    value: str  # as written, quotes removed
    phrase: bool  # written in quotes
    position: int
    tokens: tuple[str, ...]  # words(value) for text fields; () otherwise

    def __str__(self) -> str:
        value = f'"{self.value}"' if self.phrase or " " in self.value else self.value
        return value if self.field == "text" else f"{self.field}:{value}"


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.child)}"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrap(c) for c in self.children)


Node = Term | Not | And | Or


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or) else str(node)


def iter_terms(node: Node, negated: bool = False) -> Iterator[tuple[Term, bool]]:
    """Every term with whether it sits under an odd number of NOTs."""
    if isinstance(node, Term):
        yield node, negated
    elif isinstance(node, Not):
        yield from iter_terms(node.child, not negated)
    else:
        for child in node.children:
            yield from iter_terms(child, negated)


# --- lexer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # LPAREN RPAREN AND OR NOT FIELD WORD PHRASE EOF
    text: str
    position: int


_KEYWORDS = {"AND", "OR", "NOT"}
_BARE = re.compile(r'[^\s()":]+')


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token("LPAREN" if char == "(" else "RPAREN", char, i))
            i += 1
        elif char == '"':
            start, i, chars = i, i + 1, []
            while i < n and query[i] != '"':
                if query[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(query[i])
                i += 1
            if i >= n:
                raise QuerySyntaxError("unterminated quote", query, start)
            tokens.append(_Token("PHRASE", "".join(chars), start))
            i += 1
        elif char == ":":
            raise QuerySyntaxError("':' must follow a field name such as actor:", query, i)
        else:
            match = _BARE.match(query, i)
            assert match is not None  # any other character starts a bare word
            text = match.group()
            if match.end() < n and query[match.end()] == ":":
                tokens.append(_Token("FIELD", text, i))
                i = match.end() + 1
            else:
                tokens.append(_Token(text if text in _KEYWORDS else "WORD", text, i))
                i = match.end()
    tokens.append(_Token("EOF", "", n))
    return tokens


# --- parser -----------------------------------------------------------------------------------

_STARTS_OPERAND = {"LPAREN", "NOT", "FIELD", "WORD", "PHRASE"}
_DESCRIBE = {
    "RPAREN": "')'",
    "AND": "AND",
    "OR": "OR",
    "EOF": "end of rule",
    "FIELD": "a field",
    "LPAREN": "'('",
}


#: bounds that keep one rule from costing a worker much: length, nesting, terms
MAX_LENGTH = 4000
MAX_DEPTH = 32
MAX_TERMS = 200


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        if len(query) > MAX_LENGTH:
            raise QuerySyntaxError(f"rule longer than {MAX_LENGTH} characters", query, MAX_LENGTH)
        self.tokens = _lex(query)
        self.i = 0
        self.depth = 0
        self.terms = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, token: _Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, token.position)

    def parse(self) -> Node:
        if self.peek().kind == "EOF":
            raise self.error("empty rule", self.peek())
        node = self.or_expr()
        token = self.peek()
        if token.kind == "RPAREN":
            raise self.error("')' without a matching '('", token)
        if token.kind != "EOF":  # pragma: no cover - and_expr consumes every operand
            raise self.error(f"unexpected {token.text!r}", token)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in _STARTS_OPERAND:
                break
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        if self.peek().kind == "NOT":
            token = self.take()
            self.enter(token)
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", token)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "LPAREN":
            self.enter(token)
            node = self.or_expr()
            self.depth -= 1
            closing = self.peek()
            if closing.kind != "RPAREN":
                raise self.error(
                    f"expected ')' to close the '(' at position {token.position}, "
                    f"found {_describe(closing)}",
                    closing,
                )
            self.take()
            return node
        if token.kind == "FIELD":
            known_field = vocabulary.field_named(token.text)
            if known_field is None:
                known = ", ".join(f"{f}:" for f in FIELDS)
                raise self.error(f"unknown field {token.text!r} (known: {known})", token)
            name = known_field.name
            value = self.take()
            if value.kind not in ("WORD", "PHRASE"):
                raise self.error(
                    f"expected a word or a quoted phrase after {token.text}:, "
                    f"found {_describe(value)}",
                    value,
                )
            return self.term(name, value, token.position)
        if token.kind in ("WORD", "PHRASE"):
            return self.term("text", token, token.position)
        raise self.error(f"expected a word, a phrase or '(', found {_describe(token)}", token)

    def term(self, field: str, token: _Token, start: int) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.error(f"more than {MAX_TERMS} terms", token)
        value = " ".join(token.text.split())
        if not value:
            raise self.error("empty phrase", token)
        allowed = FIELDS[field].values
        if allowed and value.casefold() not in allowed:
            raise self.error(f"{field}: takes {' or '.join(allowed)}, not {value!r}", token)
        tokens: tuple[str, ...] = ()
        if FIELDS[field].words:
            tokens = tuple(words(value))
            if not tokens:
                raise self.error(f"{token.text!r} has no letters or digits to match", token)
        return Term(field, value, token.kind == "PHRASE", start, tokens)


def _describe(token: _Token) -> str:
    if token.kind in ("WORD", "PHRASE"):
        return repr(token.text)
    if token.kind == "NOT":
        return "NOT"
    return _DESCRIBE.get(token.kind, token.kind)


def parse(query: str) -> Node:
    """Parse a rule; raise QuerySyntaxError (with position and caret line) if malformed."""
    return _Parser(query).parse()


def make_term(field: str, value: str) -> Term:
    """A term built from a command-line option (``--actor Putin``), as the parser would."""
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}")
    value = " ".join(value.split())
    tokens = tuple(words(value)) if FIELDS[field].words else ()
    if not value or (FIELDS[field].words and not tokens):
        raise QuerySyntaxError(f"empty value for {field}:", value, 0)
    return Term(field, value, " " in value, 0, tokens)


def any_of(field: str, values: Sequence[str]) -> Node:
    """``field:v1 OR field:v2 ...`` (what a repeated option means)."""
    terms = tuple(make_term(field, v) for v in values)
    return terms[0] if len(terms) == 1 else Or(terms)


def all_of(nodes: Sequence[Node | None]) -> Node | None:
    """The nodes joined with AND (None for none)."""
    present = tuple(n for n in nodes if n is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


def positive_only(node: Node) -> bool:
    """True when at least one term is not negated: a rule of only NOTs matches nearly all."""
    return any(not negated for _, negated in iter_terms(node))
