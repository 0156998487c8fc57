"""Why a secured Elasticsearch refuses us, in one line naming the setting to fix.

Asked once at the CLI edge before any client is built (pipeline.cli.servers): one request to
``/_security/_authenticate`` with the configured CA and credentials. An untrusted certificate
or a refused login is then one line at once, instead of the client's retries, warnings and
traceback. The line never carries the password or API key.
"""

from __future__ import annotations

import ssl

import httpx

from pipeline.settings import Settings


def _secured(settings: Settings) -> bool:
    url = settings.es_url or ""
    return (
        url.startswith("https://")
        or settings.es_api_key is not None
        or (settings.es_username is not None and settings.es_password is not None)
    )


def diagnose(settings: Settings, timeout_s: float = 10.0) -> str | None:
    """One line saying which security setting keeps us out, or None if none does.

    None also when the cluster cannot be reached at all or answers something else: the
    command's own "cannot reach" line (or its real work) follows.
    """
    if not settings.es_url or not _secured(settings):
        return None
    url = settings.es_url.rstrip("/")
    verify: ssl.SSLContext | bool = True
    if url.startswith("https://"):
        cafile = str(settings.es_ca_certs) if settings.es_ca_certs else None
        try:
            verify = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as error:
            return (
                f"cannot read the CA file {cafile} ({error.__class__.__name__}): "
                "check WIREWATCH_ES_CA_CERTS"
            )
    headers: dict[str, str] = {}
    auth: tuple[str, str] | None = None
    who = "anonymous"
    if settings.es_api_key is not None:
        headers["Authorization"] = f"ApiKey {settings.es_api_key.get_secret_value()}"
        who = "the API key"
    elif settings.es_username and settings.es_password is not None:
        auth = (settings.es_username, settings.es_password.get_secret_value())
        who = f"user {settings.es_username!r}"
    try:
        response = httpx.get(
            f"{url}/_security/_authenticate",
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=timeout_s,
        )
    except httpx.ConnectError as error:
        if isinstance(error.__cause__, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in str(
            error
        ):
            trusted = settings.es_ca_certs or "the system's CAs"
            return (
                f"Elasticsearch at {url} presents a certificate that {trusted} does not trust: "
                "set WIREWATCH_ES_CA_CERTS to the CA that signed the cluster's certificate"
            )
        return None
    except httpx.HTTPError:
        return None
    if response.status_code == 401:
        return (
            f"Elasticsearch refused the login of {who} (401): check WIREWATCH_ES_USERNAME and "
            "WIREWATCH_ES_PASSWORD (or WIREWATCH_ES_API_KEY)"
        )
    return None
