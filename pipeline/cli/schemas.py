from __future__ import annotations

import json

import click

from pipeline import schemas
from pipeline.topics import ALL_TOPICS


@click.group("schemas")
def command() -> None:
    """Export or check the JSON Schemas of every topic's value (schemas/)."""


@command.command("export")
def export() -> None:
    """Write schemas/*.schema.json from pipeline.records."""
    for path in schemas.export():
        click.echo(path)


@command.command("check")
def check() -> None:
    """Exit non-zero if schemas/ differs from what pipeline.records generates."""
    stale = []
    for topic in ALL_TOPICS:
        path = schemas.SCHEMA_DIR / topic.schema
        on_disk = json.loads(path.read_text()) if path.exists() else None
        if on_disk != schemas.generated_schema(topic.name):
            stale.append(topic.schema)
    if stale:
        raise click.ClickException(
            f"stale schemas: {', '.join(stale)}; run `wirewatch schemas export` and commit"
        )
    click.echo("schemas up to date")
