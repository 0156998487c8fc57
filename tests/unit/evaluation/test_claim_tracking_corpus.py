from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.evaluation.claim_tracking import CorpusError, load_articles, load_gold

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "claim-timeline"


def test_the_fixture_corpus_loads_in_publication_order() -> None:
    articles = load_articles(CORPUS)
    assert len(articles) >= 12
    times = [a.published_at for a in articles]
    assert times == sorted(times)
    gold = load_gold(CORPUS, {a.id for a in articles})
    assert ("updates", "gerasimov-90", "gerasimov-86") in gold.links


def test_a_header_without_its_blank_line_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "x.txt").write_text("id: x\nurl: https://a.example/x\n")
    with pytest.raises(CorpusError, match="no blank line"):
        load_articles(tmp_path)


def test_the_command_names_what_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "claim-tracking", str(tmp_path)])
    assert result.exit_code == 1
    assert "no *.txt articles" in result.output
