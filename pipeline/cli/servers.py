"""Which Kafka and Elasticsearch a command talks to, decided once, here, at the CLI edge.

Configured addresses (``WIREWATCH_KAFKA_BOOTSTRAP``, ``WIREWATCH_ES_URL``) always win. A
server left unset is taken from the managed local stack only when that server is running
now (`wirewatch stack up`; `wirewatch run` starts it itself). Otherwise the command stops
with one line naming the variable to set: nothing quietly tries 127.0.0.1:9092, where
anything could be listening. The adapters never guess; they read the Settings returned here.

A secured managed stack (`wirewatch stack up --secure`) also hands each command the
credentials of the service it acts as (``pipeline.stack.security.SERVICES``: the poller logs
in as wirewatch-poller, the worker as wirewatch-worker, ...), exactly as the manifests give
each pod its own user; `wirewatch run` passes each child its service's variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
from pydantic import SecretStr

from pipeline.settings import Settings

EXIT_NOT_CONFIGURED = 2

#: Not a production identity: the managed stack's own admin, for `wirewatch run`'s progress
#: watcher (it reads every topic's keys, the dead letters too, which no service may).
STACK_ADMIN = "stack-admin"


class ServerNotConfigured(click.ClickException):
    """A server address is missing and no managed stack runs to supply it."""

    exit_code = EXIT_NOT_CONFIGURED


class ServerRefusesUs(click.ClickException):
    """A secured server does not trust us: wrong CA, user or password (one line, exit 2)."""

    exit_code = EXIT_NOT_CONFIGURED


def check_security(settings: Settings, *, kafka: bool, elasticsearch: bool) -> None:
    """Before any client is built: on a secured server, is the CA right and the login
    accepted? A refusal is one line naming the setting (exit 2); an unreachable server is
    left to the command (its "cannot reach" line, or its retries)."""
    if kafka and settings.kafka_bootstrap and settings.kafka_security_protocol != "PLAINTEXT":
        from pipeline.adapters import kafka_probe

        line = kafka_probe.diagnose(settings)
        if line:
            raise ServerRefusesUs(line)
    if elasticsearch and settings.es_url:
        from pipeline.adapters import elastic_probe

        line = elastic_probe.diagnose(settings)
        if line:
            raise ServerRefusesUs(line)


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


def _managed(settings: Settings, service: str) -> dict[str, dict[str, Any]]:
    """{"kafka": {...}, "elasticsearch": {...}}: Settings fields of each managed server
    running now, its address and (secured stack) ``service``'s credentials."""
    from pipeline.stack import local_stack

    stack = local_stack(settings)
    running = {status.name for status in stack.status() if status.state == "running"}
    return _server_fields(stack, service, running)


def _server_fields(stack: Any, service: str, servers: set[str]) -> dict[str, dict[str, Any]]:
    credentials = _service_credentials(stack, service)
    fields: dict[str, dict[str, Any]] = {}
    if "kafka" in servers:
        fields["kafka"] = {"kafka_bootstrap": stack.kafka_bootstrap} | {
            k: v for k, v in credentials.items() if k.startswith("kafka_")
        }
    if "elasticsearch" in servers:
        fields["elasticsearch"] = {"es_url": stack.es_url} | {
            k: v for k, v in credentials.items() if k.startswith("es_")
        }
    return fields


def _service_credentials(stack: Any, service: str) -> dict[str, Any]:
    if not stack.secure:
        return {}
    if service == STACK_ADMIN:
        from pipeline.stack import security

        return stack.service_settings("setup") | {
            "kafka_username": security.KAFKA_ADMIN,
            "kafka_password": SecretStr(stack.credentials.kafka(security.KAFKA_ADMIN)),
            "es_username": security.ES_ADMIN,
            "es_password": SecretStr(stack.credentials.es(security.ES_ADMIN)),
        }
    return dict(stack.service_settings(service))


def resolve(
    settings: Settings,
    *,
    kafka: bool = True,
    elasticsearch: bool = True,
    service: str = "ops",
) -> Settings:
    """``settings`` with the address of every server the command needs filled in.

    A server taken from a secured managed stack comes with the credentials of ``service``
    (a key of ``pipeline.stack.security.SERVICES``). Raises ServerNotConfigured (one line,
    exit 2) for a needed server that is neither configured nor running in the managed stack.
    """
    global _decision
    needed = {
        "kafka": kafka and not settings.kafka_bootstrap,
        "elasticsearch": elasticsearch and not settings.es_url,
    }
    update: dict[str, Any] = {}
    managed: set[str] = set()
    if any(needed.values()):
        fields = _managed(settings, service)
        for server, variable in (
            ("kafka", "WIREWATCH_KAFKA_BOOTSTRAP"),
            ("elasticsearch", "WIREWATCH_ES_URL"),
        ):
            if not needed[server]:
                continue
            if server not in fields:
                raise ServerNotConfigured(
                    f"{variable} is not set and the managed local stack is not running: "
                    f"set {variable}, or start the stack with `wirewatch stack up`"
                )
            update |= fields[server]
            managed.add(server)
    resolved = settings.model_copy(update=update) if update else settings
    _decision = Decision(resolved, frozenset(managed))
    check_security(resolved, kafka=kafka, elasticsearch=elasticsearch)
    return resolved


def embedded(settings: Settings, service: str = "setup") -> Decision:
    """The embedded default (`wirewatch run` with no servers set): start the managed stack.

    With either server configured this is resolve(): the other one must be configured
    too, or run in the managed stack.
    """
    global _decision
    from pipeline.stack import StackError, ensure_stack

    if not settings.embedded:
        return Decision(resolve(settings, service=service), frozenset())
    try:
        stack = ensure_stack(settings, **stack_options())
    except StackError as error:
        raise click.ClickException(str(error)) from error
    update: dict[str, Any] = {}
    for server_fields in _server_fields(stack, service, {"kafka", "elasticsearch"}).values():
        update |= server_fields
    resolved = settings.model_copy(update=update)
    _decision = Decision(resolved, frozenset({"kafka", "elasticsearch"}))
    check_security(resolved, kafka=True, elasticsearch=True)
    return _decision


def service_settings(decision: Decision, service: str) -> Settings:
    """The decided settings, logged in as ``service`` on the managed servers (if secured)."""
    if not decision.managed:
        return decision.settings
    from pipeline.stack import local_stack

    stack = local_stack(decision.settings)
    update: dict[str, Any] = {}
    for server_fields in _server_fields(stack, service, set(decision.managed)).values():
        update |= server_fields
    return decision.settings.model_copy(update=update)


def service_env(decision: Decision, service: str) -> dict[str, str]:
    """Environment variables that give a child process the decided servers as ``service``:
    the addresses and, on a secured managed stack, that service's users (as the manifests
    hand a pod its Secrets). Configured servers are the child's own environment's affair."""
    env = {
        "WIREWATCH_KAFKA_BOOTSTRAP": decision.settings.kafka_bootstrap or "",
        "WIREWATCH_ES_URL": decision.settings.es_url or "",
    }
    if not decision.managed:
        return env
    chosen = service_settings(decision, service)
    for key in _CREDENTIAL_FIELDS:
        value = getattr(chosen, key)
        if value is None or (key.startswith("es_") and "elasticsearch" not in decision.managed):
            continue
        if key.startswith("kafka_") and "kafka" not in decision.managed:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[f"WIREWATCH_{key.upper()}"] = str(value)
    return env


_CREDENTIAL_FIELDS = (
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_username",
    "kafka_password",
    "kafka_ssl_cafile",
    "es_username",
    "es_password",
    "es_ca_certs",
)
