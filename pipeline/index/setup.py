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
    mappings_updated: list[str] = field(default_factory=list)  # existing indices/aliases
    conflicts: list[str] = field(default_factory=list)  # mapping changes left to a rollover

    def created_kinds(self, names: Names) -> set[str]:
        kinds = {
            names.first_index: "articles",
            names.stories: "stories",
            names.alerts: "alerts",
            names.claims: "claims",
            names.events: "events",
        }
        return {kinds[i] for i in self.created if i in kinds}

    def lines(self) -> list[str]:
        out = [f"index template {name}: installed" for name in self.templates]
        out.append(
            f"lifecycle policy {self.policy}: installed"
            if self.ilm
            else "lifecycle policy: skipped (no ILM on this cluster; roll over with the API)"
        )
        out += [f"index {name}: created" for name in self.created]
        out += [f"mapping of {name}: brought up to date" for name in self.mappings_updated]
        out += [f"mapping conflict, {c}" for c in self.conflicts]
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
    for index in (names.stories, names.alerts, names.claims, names.events):
        if not client.indices.exists(index=index) and _create(client, index):
            report.created.append(index)
    # Indices created from an older template get the fields added since (mappings only grow;
    # a changed analyzer or field type takes effect at the next rollover).
    for kind, target in (
        ("articles", names.alias),
        ("stories", names.stories),
        ("alerts", names.alerts),
        ("claims", names.claims),
        ("events", names.events),
    ):
        if kind not in report.created_kinds(names):
            _update_mapping(client, target, rendered(kind, names)["template"]["mappings"], report)
    for line in report.lines():
        log.info("setup: %s", line)
    return report


def _update_mapping(
    client: Elasticsearch, target: str, mappings: dict, report: SetupReport
) -> None:
    try:
        client.indices.put_mapping(index=target, **mappings)
    except ApiError as exc:
        if exc.meta.status == 404:
            return
        if exc.meta.status == 400:
            # A conflicting change (new type or analyzer for an existing field): existing
            # indices keep their mapping; the next rollover picks up the template.
            report.conflicts.append(f"{target}: {exc.message} (roll over to apply)")
            return
        raise
    report.mappings_updated.append(target)


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
