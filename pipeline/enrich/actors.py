"""Actors: who a mention refers to, within one article and across all of them.

The registry is a YAML file users edit (canonical name, aliases, type, optional Wikidata
id); ``ActorRegistry.load()`` reads WIREWATCH_ACTORS_FILE or the bundled default. Within an
article, ``resolve_mentions`` folds "Gerasimov" into "General Valery Gerasimov" and strips
titles, so an actor the registry does not know still gets a stable canonical name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_ACTORS_FILE = Path(__file__).resolve().parent.parent / "data" / "actors.yaml"

# Titles and honorifics dropped from the front of a name before it becomes canonical.
TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "gen",
        "general",
        "lt",
        "col",
        "colonel",
        "maj",
        "major",
        "capt",
        "captain",
        "adm",
        "admiral",
        "sgt",
        "president",
        "vice",
        "prime",
        "minister",
        "secretary",
        "senator",
        "sen",
        "rep",
        "representative",
        "gov",
        "governor",
        "mayor",
        "judge",
        "justice",
        "chancellor",
        "king",
        "queen",
        "prince",
        "princess",
        "pope",
        "sheikh",
        "ambassador",
        "commander",
        "chief",
        "marshal",
        "chairman",
        "chairwoman",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "former",
        "acting",
        "deputy",
        "foreign",
        "defence",
        "defense",
        "state",
        "special",
        "envoy",
        "minority",
        "majority",
        "leader",
        "speaker",
        "attorney",
        "u.s.",
        "us",
    ]
)
_SPACE = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")


class RegistryError(ValueError):
    """The actors file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class ActorEntry:
    canonical: str
    type: str
    aliases: frozenset[str] = frozenset()
    wikidata: str | None = None


def _key(name: str) -> str:
    return _SPACE.sub(" ", name).strip().casefold()


def clean_name(name: str) -> str:
    """Drop whitespace runs, a possessive, a leading "the" and leading titles."""
    words = _SPACE.sub(" ", name).strip().split(" ")
    if words and words[-1]:
        words[-1] = _POSSESSIVE.sub("", words[-1])
    while len(words) > 1 and words[0].lower().rstrip(".") in TITLES | {"the"}:
        words = words[1:]
    return " ".join(w for w in words if w)


@dataclass
class ActorRegistry:
    entries: dict[str, ActorEntry] = field(default_factory=dict)
    _by_alias: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> ActorRegistry:
        """Read ``path``, else WIREWATCH_ACTORS_FILE, else the bundled default."""
        if path is None:
            from pipeline.settings import get_settings

            path = get_settings().actors_file or DEFAULT_ACTORS_FILE
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RegistryError(f"{path}: cannot read actors file: {exc}") from exc
        items = data.get("actors") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise RegistryError(f"{path}: expected a top-level 'actors:' list")
        registry = cls()
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not item.get("canonical") or not item.get("type"):
                raise RegistryError(f"{path}: actors[{i}]: needs 'canonical' and 'type'")
            aliases = item.get("aliases") or []
            if not isinstance(aliases, list):
                raise RegistryError(f"{path}: actors[{i}]: 'aliases' must be a list")
            registry.add(
                ActorEntry(
                    canonical=str(item["canonical"]),
                    type=str(item["type"]),
                    aliases=frozenset(str(a) for a in aliases),
                    wikidata=str(item["wikidata"]) if item.get("wikidata") else None,
                )
            )
        return registry

    def add(self, entry: ActorEntry) -> None:
        if entry.canonical in self.entries:
            raise RegistryError(f"duplicate actor {entry.canonical!r}")
        self.entries[entry.canonical] = entry
        for name in (entry.canonical, *entry.aliases):
            self._by_alias.setdefault(_key(name), entry.canonical)

    def lookup(self, name: str) -> ActorEntry | None:
        """The registry entry a name is written for, trying it as written, then cleaned."""
        canonical = self._by_alias.get(_key(name)) or self._by_alias.get(_key(clean_name(name)))
        return self.entries.get(canonical) if canonical else None

    def canonical(self, name: str) -> str:
        """Canonical name: the registry's if it knows the name, else the cleaned name."""
        entry = self.lookup(name)
        return entry.canonical if entry else clean_name(name)

    def aliases(self, canonical: str) -> set[str]:
        """Every way of writing the actor, itself included (just itself when unknown)."""
        entry = self.entries.get(canonical) or self.lookup(canonical)
        if entry is None:
            return {canonical}
        return {entry.canonical, *entry.aliases}

    def token_index(self, tokenize: Callable[[str], Sequence[str]]) -> dict[tuple[str, ...], str]:
        """Aliases as token tuples (case kept) -> canonical, for scanning parsed text."""
        index: dict[tuple[str, ...], str] = {}
        for entry in self.entries.values():
            for name in (entry.canonical, *entry.aliases):
                words = tuple(tokenize(name))
                if words and words[0].lower() == "the":
                    words = words[1:]
                if words:
                    index.setdefault(words, entry.canonical)
        return index


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    text: str
    label: str


def resolve_mentions(mentions: Sequence[Mention], registry: ActorRegistry) -> list[str]:
    """Canonical name per mention, consistent within one article.

    Registry names win. Otherwise a person named by one word resolves to the longest name in
    the article ending (or starting) with that word: "Gerasimov" -> "Valery Gerasimov".
    """
    cleaned = [clean_name(m.text) for m in mentions]
    # Longest full name per surname among person mentions; a surname two different people
    # share in the article ("Bill Clinton", "Hillary Clinton") resolves to neither.
    by_surname: dict[str, str] = {}
    ambiguous: set[str] = set()
    for m, name in zip(mentions, cleaned, strict=True):
        if m.label != "PERSON" or " " not in name:
            continue
        surname = name.split(" ")[-1]
        known = by_surname.get(surname)
        if known is not None and known.split(" ")[0] != name.split(" ")[0]:
            ambiguous.add(surname)
        if len(name) > len(known or ""):
            by_surname[surname] = name
    for surname in ambiguous:
        del by_surname[surname]
    out = []
    for m, name in zip(mentions, cleaned, strict=True):
        entry = registry.lookup(m.text) or registry.lookup(name)
        if entry is not None:
            out.append(entry.canonical)
            continue
        if m.label in ("PERSON", "ORG") and " " not in name and name in by_surname:
            full = by_surname[name]
            entry = registry.lookup(full)
            out.append(entry.canonical if entry else full)
        elif m.label == "PERSON" and name.split(" ")[-1] in by_surname:
            full = by_surname[name.split(" ")[-1]]
            entry = registry.lookup(full)
            # "Hillary Clinton" and "Bill Clinton" stay apart: only fold a prefix of the name.
            out.append((entry.canonical if entry else full) if full.endswith(name) else name)
        else:
            out.append(name)
    return out


def majority_labels(labels: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Most frequent label per canonical name (ties: first seen)."""
    counts: dict[str, Counter[str]] = {}
    for canonical, label in labels:
        counts.setdefault(canonical, Counter())[label] += 1
    return {c: cnt.most_common(1)[0][0] for c, cnt in counts.items()}
