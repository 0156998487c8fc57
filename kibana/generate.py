"""Generate the Kibana assets in this directory. Edit here, then run:

    .venv/bin/python kibana/generate.py

Writes ``saved_objects.ndjson`` (data views, saved searches, Lens charts, the dashboard)
and ``rules/*.json`` (Kibana alerting API bodies, ``.es-query`` rule type, translated from
the stream rules in EXAMPLE_RULES with the same translation ``wirewatch alerts test``
uses). tests/unit/kibana checks that the files on disk equal this output.

Kibana stores searches, panels and options as JSON *strings* inside the objects; they are
built here as Python values and serialised once, so they cannot go stale by hand-editing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAVED_OBJECTS = HERE / "saved_objects.ndjson"
RULES_DIR = HERE / "rules"

ARTICLES_DV = "wirewatch-articles"
ALERTS_DV = "wirewatch-alerts"
CLAIMS_DV = "wirewatch-tracked-claims"  # the claims index: one document per tracked claim
EVENTS_DV = "wirewatch-events"  # the events index: one document per event (issue 15)
CORE_VERSION = "8.8.0"  # the object shape; Kibana 9 migrates forward on import
TYPE_VERSION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}
SEARCH_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
EMPTY_KQL = {"query": "", "language": "kuery"}

#: (id, name, query, languages) of stream rules shipped as Kibana rules too
EXAMPLE_RULES = [
    ("putin-kursk", "Putin and Kursk", 'actor:"Vladimir Putin" AND (Kursk OR ceasefire)', []),
    ("gerasimov-claims", "Claims by Gerasimov", "speaker:Gerasimov", []),
    ("zelensky-talks", "Zelensky on talks", 'actor:Zelensky ("peace talks" OR truce)', ["en"]),
]


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def saved_object(kind: str, object_id: str, attributes: dict, references: list) -> dict:
    return {
        "id": object_id,
        "type": kind,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_VERSION,
        "typeMigrationVersion": TYPE_VERSION[kind],
        "managed": False,
    }


def data_view(object_id: str, pattern: str, time_field: str, name: str) -> dict:
    return saved_object(
        "index-pattern",
        object_id,
        {"title": pattern, "name": name, "timeFieldName": time_field, "allowHidden": False},
        [],
    )


def search(
    object_id: str,
    title: str,
    data_view_id: str,
    kql: str,
    columns: list[str],
    sort: list[list[str]],
    description: str,
) -> dict:
    source = {
        "query": {"query": kql, "language": "kuery"},
        "filter": [],
        "indexRefName": SEARCH_REF,
    }
    return saved_object(
        "search",
        object_id,
        {
            "title": title,
            "description": description,
            "columns": columns,
            "sort": sort,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(source)},
        },
        [{"name": SEARCH_REF, "type": "index-pattern", "id": data_view_id}],
    )


def lens_xy_count(
    object_id: str, title: str, data_view_id: str, x: dict, series: str, horizontal: bool = False
) -> dict:
    """A Lens XY chart of document count over one bucket column ``x``."""
    layer = f"{object_id}-layer"
    count = {
        "label": "Articles",
        "dataType": "number",
        "operationType": "count",
        "isBucketed": False,
        "scale": "ratio",
        "sourceField": "___records___",
        "params": {"emptyAsNull": True},
    }
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {
                    layer: {
                        "columns": {"x": x, "y": count},
                        "columnOrder": ["x", "y"],
                        "incompleteColumns": {},
                    }
                }
            }
        },
        "visualization": {
            "legend": {"isVisible": False, "position": "right"},
            "valueLabels": "hide",
            "preferredSeriesType": series,
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "seriesType": series,
                    "xAccessor": "x",
                    "accessors": ["y"],
                }
            ],
        },
        "query": {"query": "", "language": "kuery"},
        "filters": [],
        "adHocDataViews": {},
        "internalReferences": [],
    }
    return saved_object(
        "lens",
        object_id,
        {
            "title": title,
            "description": "",
            "visualizationType": "lnsXY",
            "state": state,
        },
        [
            {
                "type": "index-pattern",
                "id": data_view_id,
                "name": f"indexpattern-datasource-layer-{layer}",
            }
        ],
    )


def terms_column(field: str, label: str, size: int) -> dict:
    return {
        "label": label,
        "dataType": "string",
        "operationType": "terms",
        "isBucketed": True,
        "scale": "ordinal",
        "sourceField": field,
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": "y"},
            "orderDirection": "desc",
            "otherBucket": False,
            "missingBucket": False,
        },
    }


def dashboard(object_id: str, title: str, panels: list[tuple[str, str, dict]]) -> dict:
    """``panels``: (saved object type, id, gridData) each, placed by reference."""
    panels_json = []
    references = []
    for i, (kind, ref_id, grid) in enumerate(panels):
        name = f"panel_{i}"
        panels_json.append(
            {
                "version": CORE_VERSION,
                "type": kind,
                "gridData": {**grid, "i": str(i)},
                "panelIndex": str(i),
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": name,
            }
        )
        references.append({"name": name, "type": kind, "id": ref_id})
    return saved_object(
        "dashboard",
        object_id,
        {
            "title": title,
            "description": "What the wires carry: volume, actors, alerts, claims, events.",
            "panelsJSON": dumps(panels_json),
            "optionsJSON": dumps(
                {"useMargins": True, "syncColors": False, "hidePanelTitles": False}
            ),
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": dumps({"query": EMPTY_KQL, "filter": []})
            },
        },
        references,
    )


def saved_objects() -> list[dict]:
    objects = [
        data_view(ARTICLES_DV, "wirewatch-articles-*", "ingested_at", "Wirewatch articles"),
        data_view(ALERTS_DV, "wirewatch-alerts*", "fired_at", "Wirewatch alerts"),
        data_view(CLAIMS_DV, "wirewatch-claims*", "first_seen", "Wirewatch tracked claims"),
        data_view(EVENTS_DV, "wirewatch-events*", "last_seen", "Wirewatch events"),
        search(
            "wirewatch-events-across-outlets",
            "Events across outlets",
            EVENTS_DV,
            "outlet_count >= 2",
            [
                "title",
                "outlet_count",
                "story_count",
                "article_count",
                "outlets",
                "actor",
                "claim_count",
                "first_seen",
            ],
            [["last_seen", "desc"]],
            "One row per event several outlets reported in their own words, latest first; "
            "search --event ID lists its articles.",
        ),
        search(
            "wirewatch-claim-timeline",
            "Claim timeline: Valery Gerasimov",
            CLAIMS_DV,
            'speaker : "Valery Gerasimov"',
            ["speaker", "content", "outlet_count", "source_count", "quantities.text", "last_seen"],
            [["first_seen", "asc"]],
            "One row per distinct claim of a speaker, oldest first; change the name for another.",
        ),
        search(
            "wirewatch-claims-changed-disputed",
            "Changed and disputed claims",
            CLAIMS_DV,
            "changed : true or disputed : true",
            [
                "speaker",
                "content",
                "quantities.text",
                "updates.old",
                "updates.new",
                "disputed_by.speaker",
                "outlet_count",
            ],
            [["last_seen", "desc"]],
            "Claims whose figure a later claim changed, or that another speaker disputes.",
        ),
        search(
            "wirewatch-claims-gerasimov",
            "Claims by Valery Gerasimov",
            ARTICLES_DV,
            'claim_speaker : "Valery Gerasimov"',
            ["title", "outlet", "claim_speaker", "claim_count", "story.cluster_id"],
            [["ingested_at", "desc"]],
            "Articles with a claim attributed to Gerasimov; change the name for another actor.",
        ),
        search(
            "wirewatch-claims-gerasimov-numbers",
            "Claims by Valery Gerasimov containing a number",
            ARTICLES_DV,
            'claims : { speaker : "Valery Gerasimov" and has_quantity : true }',
            ["title", "outlet", "claims.content", "claims.quantities.text"],
            [["ingested_at", "desc"]],
            "One nested query: the speaker and the number are in the same claim.",
        ),
        search(
            "wirewatch-top-stories",
            "Stories with the most outlets",
            ARTICLES_DV,
            "story.is_canonical : true and story.outlet_count >= 2",
            ["title", "story.outlet_count", "story.size", "story.outlets", "actor"],
            [["story.outlet_count", "desc"], ["ingested_at", "desc"]],
            "One row per story (its canonical copy), widest syndication first.",
        ),
        search(
            "wirewatch-claims-table",
            "Claims",
            ARTICLES_DV,
            "has_claims : true",
            ["title", "claim_speaker", "claim_count", "outlet", "published_at"],
            [["ingested_at", "desc"]],
            "Articles with attributed claims and who made them.",
        ),
        search(
            "wirewatch-latest-alerts",
            "Latest alerts",
            ALERTS_DV,
            "",
            ["rule_name", "title", "outlet", "copies", "matched_terms", "url"],
            [["fired_at", "desc"]],
            "One row per rule and story cluster; copies counts the later copies.",
        ),
        lens_xy_count(
            "wirewatch-volume",
            "Article volume",
            ARTICLES_DV,
            {
                "label": "Ingested",
                "dataType": "date",
                "operationType": "date_histogram",
                "isBucketed": True,
                "scale": "interval",
                "sourceField": "ingested_at",
                "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
            },
            "bar_stacked",
        ),
        lens_xy_count(
            "wirewatch-top-actors",
            "Top actors",
            ARTICLES_DV,
            terms_column("actor", "Actor", 15),
            "bar_horizontal",
        ),
        lens_xy_count(
            "wirewatch-top-outlets",
            "Top outlets",
            ARTICLES_DV,
            terms_column("outlet", "Outlet", 15),
            "bar_horizontal",
        ),
    ]
    objects.append(
        dashboard(
            "wirewatch-overview",
            "Wirewatch overview",
            [
                ("lens", "wirewatch-volume", {"x": 0, "y": 0, "w": 48, "h": 12}),
                ("lens", "wirewatch-top-actors", {"x": 0, "y": 12, "w": 24, "h": 15}),
                ("lens", "wirewatch-top-outlets", {"x": 24, "y": 12, "w": 24, "h": 15}),
                ("search", "wirewatch-latest-alerts", {"x": 0, "y": 27, "w": 48, "h": 15}),
                ("search", "wirewatch-claims-table", {"x": 0, "y": 42, "w": 48, "h": 18}),
                (
                    "search",
                    "wirewatch-claims-changed-disputed",
                    {"x": 0, "y": 60, "w": 48, "h": 15},
                ),
                (
                    "search",
                    "wirewatch-events-across-outlets",
                    {"x": 0, "y": 75, "w": 48, "h": 15},
                ),
            ],
        )
    )
    return objects


def rule_files() -> dict[str, dict]:
    from pipeline.alerts.esquery import kibana_rule
    from pipeline.enrich.actors import DEFAULT_ACTORS_FILE, ActorRegistry
    from pipeline.records import AlertRule

    registry = ActorRegistry.load(DEFAULT_ACTORS_FILE)
    out = {}
    for rule_id, name, query, languages in EXAMPLE_RULES:
        rule = AlertRule(id=rule_id, name=name, query=query, languages=languages)
        out[f"{rule_id}.json"] = kibana_rule(rule, registry)
    return out


def render_saved_objects() -> str:
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in saved_objects())


def render_rule(body: dict) -> str:
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def main() -> None:
    SAVED_OBJECTS.write_text(render_saved_objects())
    RULES_DIR.mkdir(exist_ok=True)
    for name, body in rule_files().items():
        (RULES_DIR / name).write_text(render_rule(body))
    print(f"wrote {SAVED_OBJECTS.name} and {len(rule_files())} rules")


if __name__ == "__main__":
    main()
