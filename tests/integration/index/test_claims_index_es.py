"""The claims index on the real node: the timeline corpus tracked, written twice (the
second time changes nothing), and listed by `wirewatch claims`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from pipeline.claims.tracker import track
from pipeline.cli import cli
from pipeline.evaluation.claim_tracking import enrich_articles, load_articles
from pipeline.index.claims import write_claims
from pipeline.index.templates import Names
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "claim-timeline"


def test_claims_are_written_once_and_listed_as_a_timeline(
    es: Elasticsearch, installed: Names, es_settings: Settings, cli_env: None
) -> None:
    records = enrich_articles(load_articles(CORPUS))
    tracker = track(records)
    first = write_claims(es, es_settings.claims_index, tracker.claims())
    assert first.written == len(tracker.claims()) and first.unchanged == 0
    # a replay: the same claims again, and the stream again into the same tracker
    track(records, tracker)
    again = write_claims(es, es_settings.claims_index, tracker.claims())
    assert again.written == 0 and again.unchanged == len(tracker.claims())
    es.indices.refresh(index=es_settings.claims_index)
    assert es.count(index=es_settings.claims_index)["count"] == len(tracker.claims())

    result = CliRunner().invoke(cli, ["claims", "--speaker", "Gerasimov"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    heads = [line for line in lines if line.startswith("2025-")]
    assert heads == sorted(heads)  # time order
    text = "\n".join(lines)
    assert "4 outlets, 4 articles" in text  # the 86 claim: a01, a02, a03, a02 copied by a04
    assert "86 -> 90 percent" in text
    assert "disputed by Oleksandr Syrskyi" in text and "disputed by Dmytro Lykhovy" in text

    since = CliRunner().invoke(cli, ["claims", "--speaker", "Gerasimov", "--since", "2025-03-15"])
    assert since.exit_code == 0
    assert "86 per cent" not in since.stdout and "90 per cent" in since.stdout
