"""The query vocabulary search and alerts share: every field is complete, one time syntax."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from pipeline import vocabulary
from pipeline.alerts.esquery import TRANSLATIONS, term_query
from pipeline.alerts.matcher import STREAM_TESTS, IdentityNames
from pipeline.alerts.query import make_term, parse
from pipeline.cli import cli
from pipeline.cli.articles import article_lines, option_fields, vocabulary_options
from pipeline.index.search import Hit


def test_every_field_has_an_es_translation_and_a_stream_test() -> None:
    assert set(TRANSLATIONS) == set(vocabulary.FIELDS)
    assert set(STREAM_TESTS) == set(vocabulary.FIELDS)


def test_every_field_parses_and_translates() -> None:
    for name, field in vocabulary.FIELDS.items():
        value = field.values[0] if field.values else "some value"
        term = parse(f'{name}:"{value}"')
        assert term_query(term, IdentityNames()) and term_query(term, IdentityNames(), True)


@pytest.mark.parametrize(
    ("typed", "bound"),
    [
        ("30d", "now-30d"),
        ("12h", "now-12h"),
        ("now-7d", "now-7d"),
        ("now-1d/d", "now-1d/d"),
        ("2026-11-01", "2026-11-01"),
        ("2026-11-01T08:00:00Z", "2026-11-01T08:00:00Z"),
    ],
)
def test_time_bound_accepts_both_forms(typed: str, bound: str) -> None:
    assert vocabulary.time_bound(typed) == bound


@pytest.mark.parametrize("typed", ["7 days", "now-7x", "yesterday", ""])
def test_time_bound_refuses_with_the_forms_it_takes(typed: str) -> None:
    with pytest.raises(vocabulary.TimeSyntaxError, match="30d"):
        vocabulary.time_bound(typed)


@pytest.mark.parametrize("command", [["search"], ["alerts", "test"]])
def test_search_and_alerts_test_take_the_same_options_and_times(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "kursk", "--since", "last week"])
    assert result.exit_code == 2 and "'30d', 'now-7d'" in result.output
    help_text = CliRunner().invoke(cli, [*command, "--help"])
    for field in vocabulary.optioned_fields():
        assert field.option in help_text.output


def test_a_registered_field_becomes_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        vocabulary.FIELDS, "event", vocabulary.QueryField("event", "an event", option="--event")
    )

    @click.command()
    @vocabulary_options
    def probe(**options: object) -> None:
        click.echo(repr(option_fields(dict(options))["event"]))

    assert CliRunner().invoke(probe, ["--event", "e1", "--event", "e2"]).output.strip() == (
        "('e1', 'e2')"
    )


def test_option_terms_are_the_parsers_terms() -> None:
    assert make_term("actor", "Vladimir  Putin") == parse('actor:"Vladimir Putin"')
    assert make_term("text", "Peace talks") == parse('"Peace talks"')


def test_one_way_of_printing_an_article() -> None:
    hit = Hit(
        id="a",
        title="Putin in <<Kursk>>",
        url="https://example.org/a",
        outlet="Northwind Wire",
        published_at="2026-12-01T08:10:00+00:00",
        cluster_id="c",
        score=None,
        copies=3,
        outlets=["A", "B", "C"],
    )
    lines = article_lines(hit).splitlines()
    assert lines[0] == "2026-12-01 08:10  Northwind Wire: Putin in *Kursk*  [3 copies, 3 outlets]"
    assert lines[-1] == "    https://example.org/a"
