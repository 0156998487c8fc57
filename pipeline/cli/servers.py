"""Which Kafka and Elasticsearch a command talks to, decided once, here, at the CLI edge.

Configured addresses (``WIREWATCH_KAFKA_BOOTSTRAP``, ``WIREWATCH_ES_URL``) always win. A
server left unset is taken from the managed local stack only when that server is running
now (`wirewatch stack up`; `wirewatch run` starts it itself). Otherwise the command stops
with one line naming the variable to set: nothing quietly tries 127.0.0.1:9092, where
anything could be listening. The adapters never guess; they read the Settings returned here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click

from pipeline.settings import Settings

EXIT_NOT_CONFIGURED = 2


class ServerNotConfigured(click.ClickException):
    """A server address is missing and no managed stack runs to supply it."""

    exit_code = EXIT_NOT_CONFIGURED


@dataclass(frozen=True)
class Decision:
    """The settings a command runs with and which servers came from the managed stack."""

    settings: Settings
    managed: frozenset[str] = field(default_factory=frozenset)  # "kafka", "elasticsearch"


_decision: Decision | None = None


def decided(default: Settings) -> Decision:
    """The decision this process made (for error lines), else ``default`` as configured."""
    return _decision if _decision is not None else Decision(default)


def stack_options() -> dict[str, Any]:
    """What the managed stack is handed by its users: the index templates' dictionaries."""
    from pipeline.index.templates import hunspell_dictionaries

    return {"hunspell": hunspell_dictionaries()}


def _managed_endpoints(settings: Settings) -> dict[str, str]:
    """{"kafka": bootstrap, "elasticsearch": url} of the managed servers running now."""
    from pipeline.stack import local_stack

    stack = local_stack(settings)
    running = {status.name for status in stack.status() if status.state == "running"}
    endpoints: dict[str, str] = {}
    if "kafka" in running:
        endpoints["kafka"] = stack.kafka_bootstrap
    if "elasticsearch" in running:
        endpoints["elasticsearch"] = stack.es_url
    return endpoints


def resolve(settings: Settings, *, kafka: bool = True, elasticsearch: bool = True) -> Settings:
    """``settings`` with the address of every server the command needs filled in.

    Raises ServerNotConfigured (one line, exit 2) for a needed server that is neither
    configured nor running in the managed stack.
    """
    global _decision
    needed = {
        "kafka": kafka and not settings.kafka_bootstrap,
        "elasticsearch": elasticsearch and not settings.es_url,
    }
    update: dict[str, Any] = {}
    managed: set[str] = set()
    if any(needed.values()):
        endpoints = _managed_endpoints(settings)
        for server, variable, key in (
            ("kafka", "WIREWATCH_KAFKA_BOOTSTRAP", "kafka_bootstrap"),
            ("elasticsearch", "WIREWATCH_ES_URL", "es_url"),
        ):
            if not needed[server]:
                continue
            if server not in endpoints:
                raise ServerNotConfigured(
                    f"{variable} is not set and the managed local stack is not running: "
                    f"set {variable}, or start the stack with `wirewatch stack up`"
                )
            update[key] = endpoints[server]
            managed.add(server)
    resolved = settings.model_copy(update=update) if update else settings
    _decision = Decision(resolved, frozenset(managed))
    return resolved


def embedded(settings: Settings) -> Decision:
    """The embedded default (`wirewatch run` with no servers set): start the managed stack.

    With either server configured this is resolve(): the other one must be configured
    too, or run in the managed stack.
    """
    global _decision
    from pipeline.stack import StackError, ensure_stack

    if not settings.embedded:
        return Decision(resolve(settings), frozenset())
    try:
        stack = ensure_stack(settings, **stack_options())
    except StackError as error:
        raise click.ClickException(str(error)) from error
    resolved = settings.model_copy(
        update={"kafka_bootstrap": stack.kafka_bootstrap, "es_url": stack.es_url}
    )
    _decision = Decision(resolved, frozenset({"kafka", "elasticsearch"}))
    return _decision
