from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.actors import (
    ActorRegistry,
    Mention,
    RegistryError,
    clean_name,
    resolve_mentions,
)
from pipeline.settings import get_settings


@pytest.fixture()
def registry() -> ActorRegistry:
    return ActorRegistry.load()


def test_bundled_registry_maps_aliases_to_one_canonical(registry: ActorRegistry) -> None:
    assert registry.canonical("Putin") == "Vladimir Putin"
    assert registry.canonical("President Putin") == "Vladimir Putin"
    assert registry.canonical("putin's") == "Vladimir Putin"
    assert "Putin" in registry.aliases("Vladimir Putin")
    assert registry.canonical("Moscow") == "Russia"  # the bundled editorial choice
    assert registry.lookup("Vladimir Putin").wikidata == "Q7747"


def test_unknown_actor_gets_a_stable_cleaned_name(registry: ActorRegistry) -> None:
    assert registry.canonical("General  Ivan Petrov's") == "Ivan Petrov"
    assert registry.canonical("Ivan Petrov") == registry.canonical("Mr. Ivan Petrov")
    assert registry.aliases("Ivan Petrov") == {"Ivan Petrov"}


def test_clean_name_keeps_a_bare_title() -> None:
    assert clean_name("the President") == "President"
    assert clean_name("the Kremlin") == "Kremlin"


def test_env_var_points_at_users_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "actors.yaml"
    path.write_text(
        "actors:\n  - canonical: Jane Roe\n    type: PERSON\n    aliases: [Roe, J. Roe]\n"
    )
    monkeypatch.setenv("WIREWATCH_ACTORS_FILE", str(path))
    get_settings.cache_clear()
    try:
        registry = ActorRegistry.load()
    finally:
        get_settings.cache_clear()
    assert registry.canonical("J. Roe") == "Jane Roe"
    assert registry.lookup("Putin") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("actors: nope\n", "top-level 'actors:' list"),
        ("actors:\n  - canonical: X\n", "needs 'canonical' and 'type'"),
        ("actors:\n  - {canonical: X, type: ORG, aliases: Y}\n", "'aliases' must be a list"),
        ("actors: [\n", "cannot read"),
    ],
)
def test_malformed_registry_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "actors.yaml"
    path.write_text(content)
    with pytest.raises(RegistryError, match=message):
        ActorRegistry.load(path)


def test_within_article_surname_resolves_to_full_name() -> None:
    empty = ActorRegistry()
    mentions = [
        Mention(0, 24, "General Ivan Petrovsky", "PERSON"),
        Mention(30, 39, "Petrovsky", "PERSON"),
        Mention(40, 52, "Petrovsky's", "ORG"),
        Mention(60, 73, "Anna Karenina", "PERSON"),
    ]
    assert resolve_mentions(mentions, empty) == [
        "Ivan Petrovsky",
        "Ivan Petrovsky",
        "Ivan Petrovsky",
        "Anna Karenina",
    ]


def test_same_surname_different_first_names_stay_apart() -> None:
    mentions = [
        Mention(0, 15, "Hillary Clinton", "PERSON"),
        Mention(20, 32, "Bill Clinton", "PERSON"),
        Mention(40, 52, "Mrs. Clinton", "PERSON"),
    ]
    # Which Clinton "Mrs. Clinton" is, the text alone does not settle: left as written.
    assert resolve_mentions(mentions, ActorRegistry()) == [
        "Hillary Clinton",
        "Bill Clinton",
        "Clinton",
    ]
