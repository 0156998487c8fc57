"""The event terms' stop words are spaCy's English list, copied (pipeline.events.stop_words)."""

from __future__ import annotations

import subprocess
import sys

from spacy.lang.en.stop_words import STOP_WORDS as SPACY_STOP_WORDS

from pipeline.events.stop_words import STOP_WORDS


def test_the_copy_is_spacys_list() -> None:
    # A spaCy upgrade that changes its list fails here: events would cluster differently.
    assert frozenset(SPACY_STOP_WORDS) == STOP_WORDS


def test_the_events_stage_does_not_import_spacy() -> None:
    # The worker process runs no model; importing spaCy there cost each start a second or two.
    code = "import sys, pipeline.worker.events_agent; print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
