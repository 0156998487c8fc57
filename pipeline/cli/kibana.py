"""``wirewatch kibana import``: load the dashboards, searches and alerting rules into Kibana."""

from __future__ import annotations

import json
import uuid
from hashlib import sha256
from pathlib import Path

import click

from pipeline.settings import get_settings

DEFAULT_ASSETS = Path(__file__).resolve().parents[2] / "kibana"


@click.group()
def command() -> None:
    """Kibana assets (kibana/ in the repository)."""


def kibana_rule_id(name: str) -> str:
    """A stable UUID (v4-shaped) per rule: re-imports update instead of duplicating, and
    Kibana versions that accept only UUIDs as custom rule ids take it."""
    return str(uuid.UUID(bytes=sha256(f"wirewatch:{name}".encode()).digest()[:16], version=4))


def rule_bodies(assets: Path) -> dict[str, dict]:
    """rule name -> Kibana rule body, from <assets>/rules/*.json."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((assets / "rules").glob("*.json"))}


@command.command("import")
@click.option("--url", help="Kibana base URL (default: WIREWATCH_KIBANA_URL).")
@click.option("--space", help="Kibana space id (default space if unset).")
@click.option(
    "--assets",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEFAULT_ASSETS,
    show_default=True,
)
@click.option("--rules/--no-rules", default=True, help="Also create the alerting rules.")
@click.option(
    "--stream-rules", is_flag=True, help="Also translate the live stream rules into Kibana rules."
)
def import_(url: str | None, space: str | None, assets: Path, rules: bool, stream_rules: bool):
    """Import saved objects (overwriting ours) and create or update the alerting rules."""
    from pipeline.adapters.kibana import KibanaClient, KibanaError

    settings = get_settings()
    bodies = rule_bodies(assets) if rules else {}
    if stream_rules:
        from pipeline.alerts.esquery import kibana_rule
        from pipeline.alerts.rules import RuleStore
        from pipeline.enrich.actors import ActorRegistry

        registry = ActorRegistry.load(settings.actors_file)
        for rule in RuleStore(settings).list():
            bodies[f"stream-{rule.id}"] = kibana_rule(rule, registry)
    try:
        client = KibanaClient.from_settings(settings, url=url, space=space)
        try:
            result = client.import_saved_objects((assets / "saved_objects.ndjson").read_bytes())
            click.echo(f"imported {result.get('successCount', 0)} saved objects")
            for name, body in bodies.items():
                rule_id = kibana_rule_id(name)
                click.echo(f"rule {name} ({rule_id}): {client.put_rule(rule_id, body)}")
        finally:
            client.close()
    except KibanaError as exc:
        raise click.ClickException(str(exc)) from exc
