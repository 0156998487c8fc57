"""`--help` texts and docs/operations.md say what the code does (issue 14).

Settings named in a help text exist, and a default a help text or the guide's tables give is
the Settings default; a help text naming a path under ~/.wirewatch also names the
$WIREWATCH_HOME it comes from (run --help and the feeds options named only ~/.wirewatch
while the code uses $WIREWATCH_HOME); every `wirewatch ...` command the guide shows exists.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import COMMANDS, cli
from pipeline.settings import Settings

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
VARIABLES = {f"WIREWATCH_{name.upper()}": name for name in Settings.model_fields}
# Environment variables that are not settings: read by the test fixtures only.
NOT_SETTINGS = {"WIREWATCH_KEEP_STACK"}


def _commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


HELP_PATHS = [(), *_commands()]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _default(name: str) -> object:
    return Settings.model_fields[name].get_default(call_default_factory=True)


def _agrees(stated: str, default: object) -> bool:
    stated = stated.strip().rstrip(".").removesuffix(" s").strip()
    if isinstance(default, Path):
        return Path(stated).expanduser() == default
    if isinstance(default, bool):
        return stated == str(default).lower()
    if isinstance(default, int | float):
        try:
            return float(stated) == float(default)
        except ValueError:
            return False
    return stated == str(default)


@pytest.mark.parametrize("path", HELP_PATHS, ids=[" ".join(p) or "wirewatch" for p in HELP_PATHS])
def test_help_names_real_settings_with_their_defaults(path: tuple[str, ...]) -> None:
    text = _help(path)
    for variable in set(re.findall(r"\bWIREWATCH_[A-Z_]+[A-Z]\b", text)) - NOT_SETTINGS:
        assert variable in VARIABLES, f"`{' '.join(path)} --help` names {variable}: no such setting"
    for variable, stated in re.findall(r"\b(WIREWATCH_[A-Z_]+)[ ,(]+default:? ([^),;]+)", text):
        default = _default(VARIABLES[variable])
        assert _agrees(stated, default), (
            f"`{' '.join(path)} --help`: {variable} default {stated!r}, the code's is {default!r}"
        )
    for below in re.findall(r"~/\.wirewatch/([\w./-]*\w)", text):
        assert f"$WIREWATCH_HOME/{below}" in text, (
            f"`{' '.join(path)} --help` names ~/.wirewatch/{below}; the code uses "
            f"$WIREWATCH_HOME/{below}"
        )


def test_the_guide_tables_give_the_code_defaults() -> None:
    rows = re.findall(
        r"^\| ((?:`WIREWATCH_\w+`(?: / )?)+) \| ([^|]*) \|", GUIDE.read_text(), flags=re.M
    )
    assert len(rows) > 40
    checked = 0
    for names_cell, defaults_cell in rows:
        names = re.findall(r"`(WIREWATCH_\w+)`", names_cell)
        cells = [c.strip() for c in defaults_cell.split(" / ")]
        if len(cells) != len(names):
            cells = [defaults_cell.strip()] * len(names)
        for variable, cell in zip(names, cells, strict=True):
            assert variable in VARIABLES, f"operations.md documents {variable}: no such setting"
            default = _default(VARIABLES[variable])
            literal = re.fullmatch(r"`([^`]*)`", cell)
            if literal is None:  # words: "unset ...", "empty", "from the pod name"
                if cell.startswith("unset"):
                    assert default is None, (
                        f"{variable}: unset in the guide, {default!r} in the code"
                    )
                elif cell.strip("()") == "empty":
                    assert default == "", f"{variable}: empty in the guide, {default!r} in the code"
                continue
            if "<" in literal.group(1) or "..." in literal.group(1):
                continue  # a pattern (`<home>/feeds.yaml`), not a value
            assert _agrees(literal.group(1), default), (
                f"operations.md: {variable} default `{literal.group(1)}`, the code's {default!r}"
            )
            checked += 1
    assert checked > 30


def test_every_command_the_guide_shows_exists() -> None:
    shown = re.findall(r"`wirewatch ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", GUIDE.read_text())
    assert shown
    ctx = click.Context(cli)
    for name, sub in shown:
        assert name in COMMANDS, f"operations.md shows `wirewatch {name}`: no such command"
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group) and sub:
            assert sub in command.list_commands(ctx), (
                f"operations.md shows `wirewatch {name} {sub}`: no such subcommand"
            )


def test_output_to_a_file_is_written_line_by_line(tmp_path: Path) -> None:
    """A worker killed -9 keeps every line it logged (Faust logs to stdout): no block buffer."""
    script = (
        "import os, sys\n"
        "from pipeline.cli import cli\n"
        "try:\n"
        "    cli(['schemas', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('the last line before a kill')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = tmp_path / "out.log"
    with out.open("wb") as sink:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        subprocess.run([sys.executable, "-c", script], stdout=sink, env=env, check=False)
    assert out.read_text().endswith("the last line before a kill\n")
