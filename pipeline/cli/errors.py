"""One plain line for a server that does not answer, for every command.

Commands let client exceptions propagate; the ``wirewatch`` group (pipeline.cli) hands any
exception to ``server_error_line`` and, when it names an unreachable Kafka, Elasticsearch or
Kibana, prints that line instead of a traceback and exits 1. A command may also raise
``ServerUnreachable`` itself. The line names the server, its address and what to fix, never
a secret (only URLs from the settings, which carry no credentials of ours).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click

from pipeline.cli.servers import decided
from pipeline.settings import Settings, get_settings

EXIT_UNREACHABLE = 1


class ServerUnreachable(click.ClickException):
    exit_code = EXIT_UNREACHABLE


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _kafka_line(settings: Settings) -> str:
    from pipeline.adapters.kafka import KafkaNotConfiguredError, bootstrap_servers

    decision = decided(settings)
    try:
        where = bootstrap_servers(decision.settings)
    except KafkaNotConfiguredError as missing:
        return str(missing)
    fix = (
        "the managed local broker stopped: `wirewatch stack up` starts it again"
        if "kafka" in decision.managed
        else "check WIREWATCH_KAFKA_BOOTSTRAP and that the brokers are up"
    )
    return f"cannot reach Kafka at {where}; {fix}"


def _es_line(settings: Settings) -> str:
    from pipeline.adapters.elastic import ElasticsearchNotConfiguredError, es_url

    decision = decided(settings)
    try:
        where = es_url(decision.settings)
    except ElasticsearchNotConfiguredError as missing:
        return str(missing)
    fix = (
        "the managed local node stopped: `wirewatch stack up` starts it again"
        if "elasticsearch" in decision.managed
        else "check WIREWATCH_ES_URL and that the cluster is up"
    )
    return f"cannot reach Elasticsearch at {where}; {fix}"


def _kafka_security_line(settings: Settings) -> str | None:
    """On SSL/SASL, why the brokers refuse us (bad CA, wrong password), if that is why."""
    chosen = decided(settings).settings
    if chosen.kafka_security_protocol == "PLAINTEXT":
        return None
    from pipeline.adapters.kafka_probe import diagnose

    return diagnose(chosen)


_NAMED = re.compile(r"name='([^']+)'")


def _kafka_acl_line(link: BaseException, settings: Settings) -> str:
    chosen = decided(settings).settings
    user = chosen.kafka_username or "(anonymous)"
    named = _NAMED.search(str(link))
    what = f" on {named.group(1)}" if named else ""
    return (
        f"Kafka user {user!r} is not allowed this{what} ({type(link).__name__}): grant the ACL "
        "(k8s/base/kafka/users.yaml) or set WIREWATCH_KAFKA_USERNAME to the service's own user"
    )


def _es_security_line(link: BaseException, settings: Settings) -> str | None:
    from elastic_transport import TlsError
    from elasticsearch import AuthenticationException, AuthorizationException

    chosen = decided(settings).settings
    if isinstance(link, TlsError):
        trusted = chosen.es_ca_certs or "the system's CAs"
        return (
            f"Elasticsearch at {chosen.es_url} presents a certificate that {trusted} does not "
            "trust: set WIREWATCH_ES_CA_CERTS to the CA that signed the cluster's certificate"
        )
    if isinstance(link, AuthenticationException):
        who = "the API key" if chosen.es_api_key is not None else f"user {chosen.es_username!r}"
        return (
            f"Elasticsearch refused the login of {who} (401): check WIREWATCH_ES_USERNAME and "
            "WIREWATCH_ES_PASSWORD (or WIREWATCH_ES_API_KEY)"
        )
    if isinstance(link, AuthorizationException):
        return (
            f"Elasticsearch user {chosen.es_username!r} is not allowed this (403): grant its "
            "role the privilege (k8s/base/elastic/roles.yml) or set WIREWATCH_ES_USERNAME to "
            "the service's own user"
        )
    return None


def _is_kafka_authorization(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module.startswith("kafka.errors"):
        from kafka.errors import AuthorizationError

        return isinstance(exc, AuthorizationError)
    if module.startswith("aiokafka.errors"):
        return type(exc).__name__.endswith("AuthorizationFailedError")
    return False


def _kibana_line(url: str) -> str:
    return f"cannot reach Kibana at {url}; check --url/--kibana-url or WIREWATCH_KIBANA_URL"


def _is_kafka(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    if module.startswith("kafka.errors"):
        from kafka import errors

        # kafka-python 3 has no NoBrokersAvailable: it raises KafkaTimeoutError instead.
        kinds = tuple(
            getattr(errors, name)
            for name in ("KafkaConnectionError", "KafkaTimeoutError", "NoBrokersAvailable")
            if hasattr(errors, name)
        )
        return isinstance(exc, kinds)
    if module.startswith("aiokafka.errors"):
        from aiokafka.errors import KafkaConnectionError as AioConnectionError
        from aiokafka.errors import KafkaTimeoutError as AioTimeoutError

        return isinstance(exc, AioConnectionError | AioTimeoutError)
    return False


def server_error_line(exc: BaseException, settings: Settings | None = None) -> str | None:
    """The one line for an exception that means "a server does not answer", else None."""
    from elastic_transport import ConnectionError as EsConnectionError
    from elastic_transport import ConnectionTimeout as EsTimeout

    from pipeline.adapters.elastic import ElasticsearchNotConfiguredError
    from pipeline.adapters.kafka import KafkaNotConfiguredError

    settings = settings or get_settings()
    for link in _chain(exc):
        if isinstance(link, KafkaNotConfiguredError | ElasticsearchNotConfiguredError):
            return str(link)
        es_security = _es_security_line(link, settings)
        if es_security is not None:
            return es_security
        if isinstance(link, EsConnectionError | EsTimeout):
            return _es_line(settings)
        if _is_kafka_authorization(link):
            return _kafka_acl_line(link, settings)
        if _is_kafka(link):
            return _kafka_security_line(settings) or _kafka_line(settings)
        if type(link).__module__.startswith("httpx"):
            import httpx

            if isinstance(link, httpx.TransportError):
                try:
                    url = link.request.url
                    where = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
                except RuntimeError:  # raised before a request existed
                    where = settings.kibana_url or "?"
                return _kibana_line(where)
    return None
