"""Quotation marks on the text, and the character geometry claims are cut with.

Quotation marks are found on the text itself (straight, curly, and the ``''`` of some
wires), per paragraph: an unclosed quotation runs to the end of its paragraph. Span
conventions follow PolNeAR: content keeps its quotation marks and the punctuation inside
them, and drops outer punctuation and spaces.
"""

from __future__ import annotations

import re
from bisect import bisect_right

OPEN_QUOTES = "“„«"
CLOSE_QUOTES = "”»"
QUOTE_CHARS = frozenset('"“”„«»')
_QUOTE_MARK = re.compile(r"``|''|[\"“”„«»]")
_TRAIL = frozenset(".,;:!?-–—")

CharRange = tuple[int, int]


def find_quotes(text: str) -> list[CharRange]:
    """Quotation spans (marks included) per paragraph; an unclosed one runs to its end."""
    spans: list[CharRange] = []
    opened: int | None = None
    para_end = text.find("\n")
    for m in _QUOTE_MARK.finditer(text):
        pos, mark = m.start(), m.group(0)
        while para_end != -1 and pos > para_end:
            if opened is not None:
                spans.append((opened, para_end))
                opened = None
            para_end = text.find("\n", para_end + 1)
        before = text[pos - 1] if pos else " "
        after = text[m.end()] if m.end() < len(text) else " "
        closes = not before.isspace() and (after.isspace() or after in ".,;:!?)")
        if opened is None:
            if mark in CLOSE_QUOTES and (after.isspace() or not before.isspace()):
                continue
            opened = pos  # (a closing mark with a word right after it opens: typos)
        elif mark in OPEN_QUOTES and not closes:
            opened = pos  # a stray opener: restart there
        else:
            spans.append((opened, m.end()))
            opened = None
    if opened is not None:
        spans.append((opened, len(text) if para_end == -1 else para_end))
    return spans


class Quotations:
    """The quotations of one text, and lookups by character."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = find_quotes(text)
        self._starts = [s for s, _ in self.spans]

    def at(self, char: int) -> CharRange | None:
        """The quotation holding ``char``, if any."""
        i = bisect_right(self._starts, char) - 1
        if i >= 0 and self.spans[i][0] <= char < self.spans[i][1]:
            return self.spans[i]
        return None

    def paragraph(self, char: int) -> CharRange:
        text = self.text
        start = text.rfind("\n", 0, char) + 1
        end = text.find("\n", char)
        return start, len(text) if end == -1 else end

    def tidy(self, start: int, end: int) -> CharRange:
        """Widen over touched quotations; trim spaces and outer punctuation."""
        for _ in range(2):
            for qs, qe in self.spans:
                if qs < end and qe > start:
                    start, end = min(start, qs), max(end, qe)
        text = self.text
        while start < end and (text[start].isspace() or text[start] in _TRAIL):
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in _TRAIL):
            end -= 1
        return start, end

    def sentence_starts_at(self, char: int) -> bool:
        """A quotation at ``char`` opens a sentence (or follows 'said')."""
        before = self.text[:char].rstrip()
        return not before or before[-1] in ".!?:\n,\"”'" or before.endswith(("said", "says"))

    def ends_mid_sentence(self, quote: CharRange) -> bool:
        """'"...," he said' continues the sentence; '"...." He said' starts a new one."""
        inner = self.text[quote[0] : quote[1]].rstrip("\"“”'»` ")
        return bool(inner) and inner[-1] in ",?!—-"

    def holds_quote_mark(self, start: int, end: int) -> bool:
        content = self.text[start:end]
        return any(c in QUOTE_CHARS for c in content) or "''" in content
