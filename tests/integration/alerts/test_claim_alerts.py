"""The claims stage through a real worker on the real broker and node (issue 16 items 1-5):
the timeline corpus, enriched here, goes onto the enriched topic; the worker's claims stage
tracks it into the claims index and its links raise ``claim:`` alerts, indexed and posted
like any alert. A changed figure and a dispute make exactly one alert each; replaying
every article adds nothing anywhere."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from alert_support import Receiver, Worker, json_body, produce
from elasticsearch import Elasticsearch
from helpers import wait_until

from pipeline.alerts.rules import RuleStore
from pipeline.evaluation.claim_tracking import enrich_articles, load_articles
from pipeline.index import samples
from pipeline.records import AlertRule, Delivery, EnrichedArticle
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "claim-timeline"


@pytest.fixture(scope="module")
def timeline() -> list[EnrichedArticle]:
    """The corpus in publication order, with the stories dedup would give: a04 is a copy of
    a02, and a02 comes again under another URL from its own outlet (a re-publication)."""
    records = {r.article.id: r for r in enrich_articles(load_articles(CORPUS))}
    a02 = records["a02"]
    copy_story = a02.story.model_copy(update={"match": "near", "size": 2})
    records["a04"] = records["a04"].model_copy(update={"story": copy_story})
    again = a02.model_copy(
        update={
            "article": a02.article.model_copy(
                update={"id": "a02-again", "url": a02.article.url + "?amp=1"}
            ),
            "story": a02.story.model_copy(update={"match": "url", "size": 3}),
        }
    )
    ordered = sorted(records.values(), key=lambda r: (r.article.published_at, r.article.id))
    return [*ordered, again]


def metric(worker: Worker, name: str, **labels: str) -> float:
    total = 0.0
    for line in httpx.get(f"{worker.web}/metrics", timeout=5).text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(
            f'{k}="{v}"' in line for k, v in labels.items()
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def claims_docs(es: Elasticsearch, index: str) -> dict[str, tuple[int, dict]]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}}, size=500, version=True)
    return {h["_id"]: (h["_version"], h["_source"]) for h in hits["hits"]["hits"]}


def alert_docs(es: Elasticsearch, index: str, claims: bool = False) -> list[dict]:
    """The alerts indexed (``claims``: only those of claim rules)."""
    es.indices.refresh(index=index)
    hits = es.search(index=index, query={"match_all": {}}, size=100)["hits"]["hits"]
    docs = sorted((h["_source"] for h in hits), key=lambda d: d["rule_id"])
    return [d for d in docs if d.get("pair_key")] if claims else docs


def test_claim_links_alert_once_per_pair_and_a_replay_adds_nothing(
    alert_settings: Settings,
    es: Elasticsearch,
    receiver: Receiver,
    claims_worker: Worker,
    timeline: list[EnrichedArticle],
) -> None:
    hook = [Delivery(type="webhook", url=f"{receiver.url}/ok", secret_env="HOOK_SECRET")]
    store = RuleStore(alert_settings)
    for rule_id, query in [
        ("changed", "claim:changed speaker:Gerasimov"),
        ("disputed", 'claim:disputed speaker:"Oleksandr Syrskyi"'),
    ]:
        store.add(AlertRule(id=rule_id, name=rule_id, query=query, deliver=hook))
    # The worker reads the rules topic in order (a GlobalTable): once an article rule added
    # last has fired, the claim rules before it are loaded too.
    store.add(AlertRule(id="probe", name="Probe", query="zanzibarprobe"))
    probe = samples.enriched(1, title="zanzibarprobe", claims=False)
    produce(alert_settings, [probe], partition=0)
    wait_until(lambda: alert_docs(es, alert_settings.alerts_index), timeout=90, message="probe")
    messages = sum(1 for r in timeline if any(c.speaker for c in r.claims))
    assert messages >= 20

    def processed() -> float:
        return metric(claims_worker, "wirewatch_stream_records_total", stage="claims",
                      outcome="processed")  # fmt: skip

    def links_made() -> float:
        return metric(claims_worker, "wirewatch_claim_events_total", outcome="changed") + metric(
            claims_worker, "wirewatch_claim_events_total", outcome="disputed"
        )

    def links_evaluated() -> float:
        return metric(claims_worker, "wirewatch_alert_events_total", outcome="claim_matched") + (
            metric(claims_worker, "wirewatch_alert_events_total", outcome="claim_no_match")
        )

    produce(alert_settings, timeline, partition=0)  # one partition: the order is the test's
    wait_until(lambda: processed() == messages, timeout=240, message="statements tracked")
    links = links_made()
    assert links == 7  # the corpus's links: 3 changes, 4 disputes (eval claim-tracking)
    wait_until(lambda: links_evaluated() == links, timeout=60, message="links evaluated")
    alerts = wait_until(
        lambda: (d := alert_docs(es, alert_settings.alerts_index, True)) and len(d) == 2 and d,
        timeout=60,
        message="two claim alerts indexed",
    )
    wait_until(lambda: len(receiver.received("/ok")) == 2, timeout=60, message="two webhooks")

    changed, disputed = alerts
    assert changed["rule_id"] == "changed" and changed["pair_key"].startswith("updates:")
    assert changed["title"] == "Valery Gerasimov changed a figure: 86 -> 90 percent"
    assert changed["copies"] == 1 and changed["article_id"] in {"a09", "a10"}
    assert disputed["rule_id"] == "disputed" and disputed["pair_key"].startswith("disputed:")
    assert disputed["title"] == "Oleksandr Syrskyi disputes Valery Gerasimov: 40 vs 86 percent"
    posted = sorted(
        (json_body(r)["alert"]["rule_id"], json_body(r)["alert"]["pair_key"])
        for r in receiver.received("/ok")
    )
    assert posted == [("changed", changed["pair_key"]), ("disputed", disputed["pair_key"])]

    claims = claims_docs(es, alert_settings.claims_index)
    (g86,) = [
        doc
        for _, doc in claims.values()
        if doc["speaker"] == "Valery Gerasimov"
        and "a01" in {s["article_id"] for s in doc["sources"]}
        and doc["quantities"]
    ]
    # four outlets' articles (a04 a syndicated copy); the re-publication of a02 adds nothing
    assert sorted(s["article_id"] for s in g86["sources"]) == ["a01", "a02", "a03", "a04"]
    assert g86["source_count"] == 4 and g86["outlet_count"] == 4
    assert g86["changed"] and g86["disputed"]
    updates = [doc for _, doc in claims.values() if doc["updates"]]
    assert {u["claim_id"] for doc in updates for u in doc["updates"]} >= {g86["claim_id"]}

    # a replay of every article: nothing new in the claims index, no link, no alert
    produce(alert_settings, timeline, partition=0)
    wait_until(lambda: processed() == 2 * messages, timeout=240, message="replay tracked")
    assert links_made() == links
    assert links_evaluated() == links
    assert claims_docs(es, alert_settings.claims_index) == claims  # same versions, same docs
    assert alert_docs(es, alert_settings.alerts_index, claims=True) == alerts
    assert len(receiver.received("/ok")) == 2
