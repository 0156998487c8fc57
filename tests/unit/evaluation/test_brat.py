from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation.brat import BratError, load_corpus, parse_ann

TEXT = '"It works," said Ann Lee. "Really." Polls show gains.\nA multi\nline span.'
ANN = (
    'T1\tContent 0 11;26 35\t"It works," "Really."\n'
    "T2\tCue 12 16\tsaid\n"
    "T3\tSource 17 24\tAnn Lee\n"
    "T4\tAttribution 12 16\tsaid\n"
    "E1\tAttribution:T4 Content:T1 Cue:T2 Source:T3\n"
    "T5\tContent 36 52\tPolls show gains\n"
    "T6\tCue 42 46\tshow\n"
    "T7\tAttribution-no-source 42 46\tshow\n"
    "E2\tAttribution-no-source:T7 Content:T5 Cue:T6\n"
    "T8\tContent 54 72\tA multi\n"
    "line span.\n"
    "#1\tAnnotatorNotes T8\ta note\n"
    "T9\tDiscuss 0 4\tx\n"
)


def test_parse_ann_reads_discontinuous_and_sourceless_attributions() -> None:
    first, second = parse_ann(ANN, TEXT)
    assert first.content == ((0, 11), (26, 35))
    assert first.content_text == '"It works," "Really."'
    assert first.source_text == "Ann Lee"
    assert first.cue == ((12, 16),)
    assert second.source == ()
    assert second.content_text == "Polls show gains"


def test_malformed_line_names_file_and_line() -> None:
    with pytest.raises(BratError, match=r"x\.ann:2"):
        parse_ann("T1\tContent 0 4\tx\nT2\tContent zero four\tx\n", TEXT, "x.ann")


def test_load_corpus_pairs_text_and_first_annotator(tmp_path: Path) -> None:
    (tmp_path / "text").mkdir()
    (tmp_path / "attributions").mkdir()
    (tmp_path / "text" / "story.txt").write_bytes(TEXT.replace("\n", "\r\n").encode())
    (tmp_path / "attributions" / "story_aaaa.ann").write_text(ANN)
    (tmp_path / "attributions" / "story_bbbb.ann").write_text("")
    (docs,) = list(load_corpus(tmp_path))
    assert docs.name == "story"
    assert len(docs.attributions) == 2  # the first annotator's file, not the empty second
    assert "\r\n" in docs.text  # offsets index the file as written


def test_load_corpus_needs_both_directories(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(load_corpus(tmp_path))
