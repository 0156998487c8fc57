from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("annotate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--jsonl", is_flag=True, help='Read {"id", "text"} JSON lines from stdin.')
@click.option(
    "--actors",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Actor registry YAML (default: WIREWATCH_ACTORS_FILE or the bundled one).",
)
@click.option("--batch-size", default=32, show_default=True, help="Texts per spaCy batch.")
def command(files: tuple[Path, ...], jsonl: bool, actors: Path | None, batch_size: int) -> None:
    """Print entities and claims as one JSON line per FILE (or per stdin line with --jsonl).

    Offsets are character offsets into the text as given, first line included. Inputs that
    cannot be read are reported on stderr and the exit status is 1; the others still print.
    """
    if jsonl == bool(files):
        raise click.UsageError("give FILE arguments or --jsonl (not both)")
    from pipeline.enrich.actors import ActorRegistry, RegistryError
    from pipeline.enrich.annotate import Annotator
    from pipeline.enrich.output import AnnotationLine

    try:
        annotator = Annotator(ActorRegistry.load(actors))
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    failed = 0
    inputs: list[tuple[str, str]] = []
    source = _stdin_items() if jsonl else _file_items(files)
    for item in source:
        if isinstance(item, str):
            click.echo(f"wirewatch annotate: {item}", err=True)
            failed += 1
        else:
            inputs.append(item)
    ids = [i for i, _ in inputs]
    for id_, annotation in zip(
        ids, annotator.annotate_many((t for _, t in inputs), batch_size=batch_size), strict=True
    ):
        click.echo(AnnotationLine.of(id_, annotation).model_dump_json())
    if failed:
        sys.exit(1)


def _file_items(files: tuple[Path, ...]):
    for path in files:
        try:
            # newline="": keep \r\n as written so offsets index the file's own text.
            with open(path, encoding="utf-8", newline="") as fh:
                yield path.stem, fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            yield f"{path}: cannot read: {exc}"


def _stdin_items():
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"stdin line {lineno}: not JSON: {exc}"
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            yield f'stdin line {lineno}: expected an object with a string "text"'
            continue
        yield str(obj.get("id", lineno)), obj["text"]
