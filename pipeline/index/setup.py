"""Install the index templates, the lifecycle policy and the first index behind the alias.

Idempotent: templates and policy are PUT (overwritten with the shipped version), the first
index is created only when the alias does not exist yet. ILM is optional: the local node
has no ILM module, so the policy and the component template that attaches it are installed
only where ILM answers; the articles template lists that component as ignorable, so the
template body is the same everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch

from pipeline.index.templates import TEMPLATE_FILES, Names, lifecycle_component, load, rendered
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SetupReport:
    templates: list[str] = field(default_factory=list)
    ilm: bool = False
    policy: str | None = None
    created: list[str] = field(default_factory=list)  # indices created by this run

    def lines(self) -> list[str]:
        out = [f"index template {name}: installed" for name in self.templates]
        out.append(
            f"lifecycle policy {self.policy}: installed"
            if self.ilm
            else "lifecycle policy: skipped (no ILM on this cluster; roll over with the API)"
        )
        out += [f"index {name}: created" for name in self.created]
        return out


def ilm_available(client: Elasticsearch) -> bool:
    """True when the cluster serves the ILM API (production); False on the local node."""
    try:
        client.ilm.get_status()
    except ApiError as exc:
        # No handler for the route: 400 "no handler found" / 404 / 405, depending on version.
        if exc.meta.status in (400, 404, 405, 410):
            return False
        raise
    return True


def install(client: Elasticsearch, settings: Settings) -> SetupReport:
    names = Names.from_settings(settings)
    report = SetupReport()

    if ilm_available(client):
        policy = load("ilm-policy")["policy"]
        client.ilm.put_lifecycle(name=names.policy, policy=policy)
        client.cluster.put_component_template(
            name=names.lifecycle_component, **lifecycle_component(names)
        )
        report.ilm, report.policy = True, names.policy

    for kind in TEMPLATE_FILES:
        name = names.template_name(kind)
        client.indices.put_index_template(name=name, **rendered(kind, names))
        report.templates.append(name)

    write_alias = {names.alias: {"is_write_index": True}}
    if not client.indices.exists_alias(name=names.alias) and _create(
        client, names.first_index, aliases=write_alias
    ):
        report.created.append(names.first_index)
    for index in (names.stories, names.alerts):
        if not client.indices.exists(index=index) and _create(client, index):
            report.created.append(index)
    for line in report.lines():
        log.info("setup: %s", line)
    return report


def _create(client: Elasticsearch, index: str, aliases: dict | None = None) -> bool:
    """Create an index; False when a concurrent setup created it first."""
    try:
        client.indices.create(index=index, aliases=aliases)
    except ApiError as exc:
        if exc.meta.status == 400 and "resource_already_exists" in str(exc.body):
            return False
        raise
    return True


def rollover(client: Elasticsearch, settings: Settings) -> str:
    """Roll the write alias over to a new index now (what ILM does on a schedule)."""
    response = client.indices.rollover(alias=settings.index_alias)
    return response["new_index"]
