"""Load PolNeAR-style brat standoff: ``attributions/*.ann`` beside ``text/*.txt``.

Each attribution is an ``E`` line tying an Attribution trigger to Source, Cue and Content
text-bound (``T``) annotations; spans may be discontinuous (``start end;start end``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

Fragments = tuple[tuple[int, int], ...]

#: brat event types that are attributions; "-no-source" ones have Content and Cue only.
ATTRIBUTION_TYPES = {"Attribution", "Attribution-no-source"}


_ID = re.compile(r"([TE])\d+\t")


class BratError(ValueError):
    """A malformed .ann line, with file and line number."""


@dataclass(frozen=True)
class GoldAttribution:
    content: Fragments
    content_text: str
    cue: Fragments = ()
    source: Fragments = ()
    source_text: str = ""


@dataclass
class GoldDocument:
    name: str
    text: str
    attributions: list[GoldAttribution] = field(default_factory=list)


def _fragments(spec: str) -> Fragments:
    parts = []
    for piece in spec.split(";"):
        start, end = piece.split()
        parts.append((int(start), int(end)))
    return tuple(parts)


def parse_ann(content: str, text: str, name: str = "<ann>") -> list[GoldAttribution]:
    """Parse one .ann file's content; span texts are cut from ``text`` (the .txt file)."""
    spans: dict[str, Fragments] = {}
    events: list[dict[str, str]] = []
    for lineno, line in enumerate(content.splitlines(), 1):
        kind = _ID.match(line)
        if kind is None:
            continue  # notes, blank lines, and continuation lines of multi-line span texts
        cols = line.split("\t")
        try:
            if kind.group(1) == "T":
                _label, spec = cols[1].split(" ", 1)
                spans[cols[0]] = _fragments(spec)
            elif kind.group(1) == "E":
                args = dict(arg.split(":", 1) for arg in cols[1].split())
                trigger_type = cols[1].split(":", 1)[0]
                if trigger_type in ATTRIBUTION_TYPES:
                    events.append(args)
        except (IndexError, ValueError) as exc:
            raise BratError(f"{name}:{lineno}: cannot parse {line!r}: {exc}") from exc

    def cut(frags: Fragments) -> str:
        return " ".join(text[s:e] for s, e in frags)

    out = []
    for args in events:
        content_id = args.get("Content")
        if content_id is None or content_id not in spans:
            continue  # an attribution without content cannot be scored
        source = spans.get(args.get("Source", ""), ())
        out.append(
            GoldAttribution(
                content=spans[content_id],
                content_text=cut(spans[content_id]),
                cue=spans.get(args.get("Cue", ""), ()),
                source=source,
                source_text=cut(source),
            )
        )
    return out


def load_corpus(directory: Path) -> Iterator[GoldDocument]:
    """Yield each article of a PolNeAR split, sorted by name.

    Some articles were annotated twice (two ``.ann`` files, annotator id suffix); the first
    by name is used so every article counts once.
    """
    text_dir = directory / "text"
    ann_dir = directory / "attributions"
    if not text_dir.is_dir() or not ann_dir.is_dir():
        raise FileNotFoundError(f"{directory}: expected text/ and attributions/ subdirectories")
    anns: dict[str, Path] = {}
    for ann in sorted(ann_dir.glob("*.ann")):
        stem = ann.stem.rsplit("_", 1)[0]
        anns.setdefault(stem, ann)
    for txt in sorted(text_dir.glob("*.txt")):
        ann = anns.get(txt.stem)
        if ann is None:
            continue
        with open(txt, encoding="utf-8", newline="") as fh:  # offsets count \r too
            text = fh.read()
        attributions = parse_ann(ann.read_text(encoding="utf-8"), text, str(ann))
        yield GoldDocument(name=txt.stem, text=text, attributions=attributions)
