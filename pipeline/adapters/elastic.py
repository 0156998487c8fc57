"""Elasticsearch clients built from the settings: one client per process, reused.

Auth: an API key wins over basic auth; TLS verification uses ``WIREWATCH_ES_CA_CERTS``
when set. Secrets stay ``SecretStr`` until the moment the client is built and are never
logged (only the URL and the auth *kind* are).
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch

from pipeline.settings import Settings

log = logging.getLogger(__name__)


class ElasticsearchNotConfiguredError(RuntimeError):
    """No Elasticsearch URL in the settings (the CLI decides it: pipeline.cli.servers)."""


NOT_CONFIGURED = (
    "WIREWATCH_ES_URL is not set: set it to the Elasticsearch URL, "
    "or start the managed local stack with `wirewatch stack up`"
)


def es_url(settings: Settings) -> str:
    """The URL of the settings; never a guess (no local fallback here)."""
    if not settings.es_url:
        raise ElasticsearchNotConfiguredError(NOT_CONFIGURED)
    return settings.es_url


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async clients."""
    options: dict[str, Any] = {
        "request_timeout": settings.es_request_timeout_s,
        # Retries are the sink's job (bounded, with backoff and a summary log line); the
        # transport only retries a connection failure once to hop to a healthy node.
        "max_retries": 1,
        "retry_on_timeout": False,
    }
    if settings.es_api_key is not None:
        options["api_key"] = settings.es_api_key.get_secret_value()
    elif settings.es_username and settings.es_password is not None:
        options["basic_auth"] = (settings.es_username, settings.es_password.get_secret_value())
    if settings.es_ca_certs is not None:
        options["ca_certs"] = str(settings.es_ca_certs)
    return options


def _auth_kind(options: dict[str, Any]) -> str:
    return "api_key" if "api_key" in options else "basic" if "basic_auth" in options else "none"


def make_client(settings: Settings) -> Elasticsearch:
    """A synchronous client (CLI commands, setup, tests)."""
    url, options = es_url(settings), client_options(settings)
    log.debug("elasticsearch client: url=%s auth=%s", url, _auth_kind(options))
    return Elasticsearch(url, **options)


def unreachable_message(settings: Settings, exc: Exception) -> str:
    """One line for a CLI user whose cluster does not answer (no URL secrets in it)."""
    try:
        url = es_url(settings)
    except ElasticsearchNotConfiguredError as missing:
        return str(missing)
    return f"cannot reach Elasticsearch at {url}: {exc.__class__.__name__}"


def make_async_client(settings: Settings) -> AsyncElasticsearch:
    """An asyncio client (the Faust worker's sink, replay)."""
    url, options = es_url(settings), client_options(settings)
    log.debug("elasticsearch async client: url=%s auth=%s", url, _auth_kind(options))
    return AsyncElasticsearch(url, **options)
