"""Text and URL normalisation, content hashes and shingles: the inputs of every dedup layer.

Normalisation removes what outlets change without changing the story: case, Unicode
variants of quotes and dashes, punctuation and whitespace. Digits are kept: "86%" and "68%"
are different claims.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit

from pipeline.urls import InvalidURL, normalize_url

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` after Unicode compatibility folding."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(folded)


def normalize_text(text: str) -> str:
    """The body as the content hash sees it: words only, single spaces."""
    return " ".join(words(text))


def content_hash(text: str) -> str:
    """sha1 hex of the normalised body: equal for copies that differ only in layout."""
    return hash_words(words(text))


def hash_words(tokens: list[str]) -> str:
    """``content_hash`` of a text already split by ``words``."""
    return hashlib.sha1(" ".join(tokens).encode()).hexdigest()


def shingles(tokens: list[str], size: int) -> set[bytes]:
    """Overlapping ``size``-word shingles; a text shorter than ``size`` is one shingle."""
    if len(tokens) <= size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def url_key(url: str) -> str:
    """A comparable form of a URL (used for ``canonical_url``, which arrives unnormalised).

    ``pipeline.urls.normalize_url`` (the one normaliser, with its tracking parameters),
    then what does not select the content for dedup: the scheme, ``www.`` and a trailing
    slash. A string that is no http(s) URL is compared as written.
    """
    try:
        parts = urlsplit(normalize_url(url))
    except InvalidURL:
        return url.strip()
    host = parts.netloc.removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return host + path + (f"?{parts.query}" if parts.query else "")
