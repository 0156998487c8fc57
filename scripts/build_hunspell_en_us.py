"""Build pipeline/index/hunspell/en_US from Debian's hunspell-en-us (SCOWL) dictionary.

    apt-get download hunspell-en-us && dpkg-deb -x hunspell-en-us_*.deb deb
    .venv/bin/python scripts/build_hunspell_en_us.py deb/usr/share/hunspell

The stock dictionary makes a poor search stemmer: hunspell strips *prefixes* and
*derivational* suffixes as happily as inflections, so "protests" stems to "test",
"reports" to "port", "unhappy" to "happy", "statement" to "state", "leaders" to "lead".
This script keeps inflection (plural, possessive, -ed, -ing, -ion, comparative -est) and
turns every prefixed or derived word into a root of its own, carrying the inflections it
could take, so "protests" -> "protest", "leaders" -> "leader", "statements" -> "statement".
Affix rules that are no longer referenced are dropped from the .aff file.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pipeline" / "index" / "hunspell" / "en_US"

#: Suffix flags kept as inflections (the rest, and all prefixes, become roots).
INFLECTIONS = set("SDGJMTNX")
#: Inflections a derived word takes as a root: derived nouns pluralise and take 's.
DERIVED_FLAGS = {"R": "SM", "Z": "SM", "P": "M", "L": "SM", "H": "SM", "V": "", "Y": "", "B": ""}


@dataclass(frozen=True)
class Rule:
    flag: str
    prefix: bool
    cross: bool
    strip: str
    add: str
    condition: re.Pattern[str]

    def apply(self, word: str) -> str | None:
        if self.prefix:
            if not self.condition.match(word) or not word.startswith(self.strip):
                return None
            return self.add + word[len(self.strip) :]
        if not self.condition.search(word) or not word.endswith(self.strip):
            return None
        return word[: len(word) - len(self.strip)] + self.add


def parse_rules(aff: str) -> dict[str, list[Rule]]:
    rules: dict[str, list[Rule]] = {}
    cross: dict[str, bool] = {}
    for line in aff.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in ("PFX", "SFX") and parts[2] in ("Y", "N"):
            cross[parts[1]] = parts[2] == "Y"
        elif len(parts) >= 5 and parts[0] in ("PFX", "SFX"):
            kind, flag, strip, add, cond = parts[:5]
            prefix = kind == "PFX"
            pattern = re.compile(("^" + cond) if prefix else (cond + "$"))
            rules.setdefault(flag, []).append(
                Rule(
                    flag,
                    prefix,
                    cross[flag],
                    "" if strip == "0" else strip,
                    "" if add == "0" else add,
                    pattern,
                )
            )
    return rules


def build(src: Path) -> tuple[str, str]:
    aff = (src / "en_US.aff").read_text(encoding="utf-8")
    lines = (src / "en_US.dic").read_text(encoding="utf-8").splitlines()[1:]
    rules = parse_rules(aff)
    prefixes = {f for f, rs in rules.items() if rs[0].prefix}
    derivations = set(DERIVED_FLAGS)
    roots: dict[str, str] = {}

    def add_root(word: str, flags: str) -> None:
        merged = "".join(sorted(set(roots.get(word, "")) | set(flags)))
        roots[word] = merged

    for line in lines:
        word, _, flags = line.partition("/")
        kept = "".join(f for f in flags if f not in prefixes and f not in derivations)
        add_root(word, kept)
        inflections = "".join(f for f in flags if f in INFLECTIONS)
        # Prefixed words become roots with the inflections that combine with the prefix.
        for p in (f for f in flags if f in prefixes):
            for rule in rules[p]:
                derived = rule.apply(word)
                if derived:
                    cross_ok = "".join(f for f in inflections if rules[f][0].cross)
                    add_root(derived, cross_ok)
        # Derived words (leader, statement, happiness, quickly) become roots too.
        for d in (f for f in flags if f in derivations):
            for rule in rules[d]:
                derived = rule.apply(word)
                if derived and d == "Z":  # "leaders": the root is "leader", plural by S
                    derived = derived[:-1]
                if derived:
                    add_root(derived, DERIVED_FLAGS[d])

    dic = [f"{len(roots)}"] + [f"{w}/{f}" if f else w for w, f in roots.items()]
    dropped = prefixes | derivations
    out_aff = []
    for line in aff.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("PFX", "SFX") and parts[1] in dropped:
            continue
        out_aff.append(line)
    return "\n".join(out_aff).rstrip() + "\n", "\n".join(dic) + "\n"


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/usr/share/hunspell")
    aff, dic = build(src)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "en_US.aff").write_text(aff, encoding="utf-8")
    (OUT / "en_US.dic").write_text(dic, encoding="utf-8")
    copyright_file = src.parent / "doc" / "hunspell-en-us" / "copyright"
    if copyright_file.exists():
        shutil.copyfile(copyright_file, OUT / "COPYRIGHT")
    print(f"wrote {OUT}: {dic.count(chr(10)) - 1} roots, {len(dic.encode()) // 1024} KiB")


if __name__ == "__main__":
    main()
