"""The rule language parser: structure, precedence, and errors that point at the problem."""

from __future__ import annotations

import pytest

from pipeline.alerts.query import And, Not, Or, QuerySyntaxError, Term, iter_terms, parse


def test_field_phrase_and_implicit_and() -> None:
    node = parse('actor:"Vladimir Putin" Kursk')
    assert isinstance(node, And)
    actor, word = node.children
    assert actor == Term("actor", "Vladimir Putin", True, 0, ())
    assert word.field == "text" and word.tokens == ("kursk",)


def test_precedence_not_binds_tightest_then_and_then_or() -> None:
    node = parse("a OR b AND NOT c d")
    assert isinstance(node, Or)
    left, right = node.children
    assert isinstance(left, Term) and left.value == "a"
    assert isinstance(right, And) and len(right.children) == 3
    assert isinstance(right.children[1], Not)
    assert str(node) == "a OR (b AND NOT c AND d)"


def test_parentheses_group() -> None:
    node = parse("(ceasefire OR truce) AND outlet:Reuters")
    assert isinstance(node, And)
    assert isinstance(node.children[0], Or)
    assert node.children[1] == Term("outlet", "Reuters", False, 25, ())


def test_phrase_tokens_escapes_and_field_aliases() -> None:
    node = parse('title:"peace \\"talks\\"" language:en')
    assert isinstance(node, And)
    title, lang = node.children
    assert title.tokens == ("peace", "talks") and title.value == 'peace "talks"'
    assert lang.field == "lang"


def test_lowercase_operators_are_words() -> None:
    node = parse("putin and kursk")
    assert isinstance(node, And)
    assert [t.value for t, _ in iter_terms(node)] == ["putin", "and", "kursk"]


def test_negation_is_tracked() -> None:
    assert [(t.value, n) for t, n in iter_terms(parse("a NOT (b OR NOT c)"))] == [
        ("a", False),
        ("b", True),
        ("c", False),
    ]


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("", 0, "empty rule"),
        ("putin AND", 9, "found end of rule"),
        ("putin OR OR kursk", 9, "found OR"),
        ("(putin OR kursk", 15, "expected ')' to close the '(' at position 0"),
        ("putin) kursk", 5, "')' without a matching '('"),
        ('actor:"Vladimir Putin', 6, "unterminated quote"),
        ("actr:Putin", 0, "unknown field 'actr'"),
        ("actor: AND x", 7, "expected a word or a quoted phrase after actor:"),
        ("actor:(Putin)", 6, "found '('"),
        ("kursk :x", 6, "':' must follow a field name"),
        ('""', 0, "empty phrase"),
        ("putin NOT", 9, "found end of rule"),
        ("a AND )", 6, "found ')'"),
        ("!!!", 0, "no letters or digits"),
    ],
)
def test_errors_carry_position_and_caret(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    error = info.value
    assert error.position == position
    assert fragment in error.message
    lines = str(error).splitlines()
    assert lines[1] == f"  {query}"
    assert lines[2] == "  " + " " * position + "^"


def test_bounds_keep_a_rule_cheap() -> None:
    with pytest.raises(QuerySyntaxError, match="nested deeper than 32") as info:
        parse("(" * 40 + "kursk" + ")" * 40)
    assert info.value.position == 32
    with pytest.raises(QuerySyntaxError, match="nested deeper"):
        parse("NOT " * 40 + "kursk")
    assert str(parse("(" * 30 + "kursk" + ")" * 30)) == "kursk"
    with pytest.raises(QuerySyntaxError, match="more than 200 terms"):
        parse(" OR ".join(f"w{i}" for i in range(201)))
    with pytest.raises(QuerySyntaxError, match="longer than 4000"):
        parse("kursk " * 1000)
