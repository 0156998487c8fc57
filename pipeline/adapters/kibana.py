"""Kibana's HTTP API, for importing our assets: saved objects and alerting rules.

Auth from the settings: an API key wins over basic auth. Every write sends ``kbn-xsrf``
(Kibana refuses writes without it). A space other than the default is addressed by the
``/s/<space>`` path prefix, as Kibana's API documents.
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.settings import Settings

#: fields PUT /api/alerting/rule/{id} accepts (the create body has more)
RULE_UPDATE_FIELDS = ("name", "tags", "schedule", "params", "actions", "throttle", "notify_when")


class KibanaError(RuntimeError):
    """Kibana refused a request; the message carries its status and answer."""


class KibanaClient:
    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        space: str | None = None,
        verify: bool | str = True,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = url.rstrip("/") + (f"/s/{space}" if space and space != "default" else "")
        headers = {"kbn-xsrf": "wirewatch"}
        auth = None
        if api_key:
            headers["Authorization"] = f"ApiKey {api_key}"
        elif username:
            auth = httpx.BasicAuth(username, password or "")
        self.http = httpx.Client(
            base_url=base,
            headers=headers,
            auth=auth,
            verify=verify,
            timeout=timeout_s,
            transport=transport,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, url: str | None = None, space: str | None = None
    ) -> KibanaClient:
        url = url or settings.kibana_url
        if not url:
            raise KibanaError("no Kibana URL: pass --url or set WIREWATCH_KIBANA_URL")
        return cls(
            url,
            api_key=settings.kibana_api_key.get_secret_value() if settings.kibana_api_key else None,
            username=settings.kibana_username,
            password=(
                settings.kibana_password.get_secret_value() if settings.kibana_password else None
            ),
            space=space,
            verify=str(settings.kibana_ca_certs) if settings.kibana_ca_certs else True,
        )

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            raise KibanaError(f"{what}: HTTP {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else {}

    def import_saved_objects(self, ndjson: bytes, overwrite: bool = True) -> dict[str, Any]:
        """POST /api/saved_objects/_import; raises unless every object was imported."""
        response = self.http.post(
            "/api/saved_objects/_import",
            params={"overwrite": "true" if overwrite else "false"},
            files={"file": ("wirewatch.ndjson", ndjson, "application/ndjson")},
        )
        result = self._check(response, "saved objects import")
        if not result.get("success", False):
            errors = [
                f"{e.get('type')}/{e.get('id')}: {e.get('error', {}).get('type')}"
                for e in result.get("errors", [])
            ]
            raise KibanaError(f"saved objects import incomplete: {'; '.join(errors)}")
        return result

    def put_rule(self, rule_id: str, body: dict[str, Any]) -> str:
        """Create the rule under ``rule_id``, or update it if it exists: 'created'/'updated'."""
        path = f"/api/alerting/rule/{rule_id}"
        response = self.http.post(path, json=body)
        if response.status_code == 409:
            update = {k: body[k] for k in RULE_UPDATE_FIELDS if k in body}
            self._check(self.http.put(path, json=update), f"update rule {rule_id}")
            return "updated"
        self._check(response, f"create rule {rule_id}")
        return "created"
