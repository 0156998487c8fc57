"""The alert stage against the real broker and node: the rules topic, a Faust worker
running the agents, the alerts index and webhooks delivered to a loopback receiver."""

from __future__ import annotations

import json

import pytest
from alert_support import (
    Receiver,
    Worker,
    cli_settings,
    dead_letters,
    json_body,
    produce,
)
from elasticsearch import Elasticsearch
from helpers import index_articles, wait_until

from pipeline.alerts.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from pipeline.alerts.query import QuerySyntaxError
from pipeline.alerts.rules import RuleStore
from pipeline.index import samples
from pipeline.records import AlertRule, Delivery
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


def test_rules_topic_round_trip(alert_settings: Settings, es: Elasticsearch) -> None:
    store = RuleStore(alert_settings)
    store.ensure_topic()
    assert store.list() == []
    first = AlertRule(id="putin", name="Putin", query='actor:"Vladimir Putin" kursk')
    second = AlertRule(
        id="talks",
        name="Talks",
        query='"peace talks"',
        deliver=[Delivery(type="webhook", url="https://example.org/h", secret_env="S")],
    )
    store.add(first)
    store.add(second)
    assert [r.id for r in store.list()] == ["putin", "talks"]
    assert store.get("talks") == second
    with pytest.raises(QuerySyntaxError) as info:
        store.add(AlertRule(id="bad", name="Bad", query="kursk AND (ceasefire"))
    assert info.value.position == 20
    assert store.remove("putin") is True
    assert store.remove("putin") is False
    assert [r.id for r in store.list()] == ["talks"]  # the tombstone deleted it; bad never written


def test_alerts_cli_add_list_remove(
    alert_settings: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli

    with cli_settings(alert_settings, monkeypatch):
        runner = CliRunner()
        added = runner.invoke(
            cli,
            ["alerts", "add", "Putin in Kursk", "actor:Putin AND kursk", "--lang", "en",
             "--webhook", "https://hooks.example.org/x", "--secret-env", "HOOK_SECRET"],
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "added putin-in-kursk" in added.output
        again = runner.invoke(cli, ["alerts", "add", "Putin in Kursk", "kursk"])
        assert again.exit_code == 1 and "--replace" in again.output
        listed = runner.invoke(cli, ["alerts", "list", "--json"])
        (rule,) = [AlertRule.model_validate_json(line) for line in listed.output.splitlines()]
        assert rule.languages == ["en"] and rule.deliver[0].secret_env == "HOOK_SECRET"
        assert runner.invoke(cli, ["alerts", "remove", "putin-in-kursk"]).exit_code == 0
        assert runner.invoke(cli, ["alerts", "list"]).output == ""
        assert runner.invoke(cli, ["alerts", "remove", "putin-in-kursk"]).exit_code == 1


def test_stream_alerts_once_per_cluster_to_index_and_webhooks(
    alert_settings: Settings, es: Elasticsearch, receiver: Receiver, alert_worker: Worker
) -> None:
    store = RuleStore(alert_settings)
    store.add(
        AlertRule(
            id="putin",
            name="Putin in Kursk",
            query="actor:Putin AND kursk",
            deliver=[
                Delivery(type="webhook", url=f"{receiver.url}/ok", secret_env="HOOK_SECRET"),
                Delivery(type="slack", url=f"{receiver.url}/slack"),
                Delivery(type="webhook", url=f"{receiver.url}/fail"),
            ],
        )
    )
    # three copies of story 1, one unrelated story: the rule is picked up without restart
    copies = [samples.enriched(1, cluster=1, copy=c) for c in range(3)]
    other = samples.enriched(2, title="Weather", text="Rain is expected in Lisbon on Friday.")
    other = other.model_copy(update={"actors": [], "entities": [], "claims": []})

    alerts_index = alert_settings.alerts_index

    def alert_doc() -> dict | None:
        es.indices.refresh(index=alerts_index)
        hits = es.search(index=alerts_index, query={"match_all": {}})["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    # the worker sees the rule through its GlobalTable; produce until the first alert shows
    produce(alert_settings, [copies[0], other])
    doc = wait_until(alert_doc, timeout=90, message="first alert indexed")
    assert doc["id"] == f"putin:{copies[0].story.cluster_id}"
    assert doc["copies"] == 1

    produce(alert_settings, copies[1:])
    wait_until(lambda: (alert_doc() or {}).get("copies") == 3, timeout=60, message="copies=3")
    es.indices.refresh(index=alerts_index)
    assert es.count(index=alerts_index)["count"] == 1  # one alert for the story, not three

    generic = wait_until(lambda: receiver.received("/ok"), timeout=30, message="webhook")
    slack = wait_until(lambda: receiver.received("/slack"), timeout=30, message="slack")
    assert len(generic) == 1 and len(slack) == 1  # fired once; updates do not re-send
    request = generic[0]
    assert verify(
        b"s3cret",
        request["headers"][TIMESTAMP_HEADER],
        request["body"],
        request["headers"][SIGNATURE_HEADER],
    )
    assert json_body(request)["alert"]["rule_id"] == "putin"
    assert request["headers"]["Idempotency-Key"] == doc["id"]  # stable per alert
    assert "Putin" in json_body(slack[0])["text"]

    # the dead receiver: tried twice (the configured attempts), then dead-lettered
    wait_until(lambda: len(receiver.received("/fail")) == 2, timeout=30, message="2 attempts")
    letters = wait_until(
        lambda: [d for d in dead_letters(alert_settings) if d.stage == "alert-delivery"],
        timeout=30,
        message="dead letter for the failing webhook",
    )
    assert "HTTP 500 after 2 attempts" in letters[0].reason
    assert json.loads(letters[0].payload)["id"] == doc["id"]

    # a rule added while the worker runs applies to the next article
    store.add(AlertRule(id="lisbon", name="Lisbon", query="lisbon"))
    rain = samples.enriched(3, title="More rain", text="Lisbon floods again.")
    rain = rain.model_copy(update={"actors": [], "entities": [], "claims": []})

    def lisbon_alert() -> bool:
        produce(alert_settings, [rain])  # same id each time: one cluster, re-sent until seen
        es.indices.refresh(index=alerts_index)
        return bool(es.count(index=alerts_index, query={"term": {"rule_id": "lisbon"}})["count"])

    wait_until(lambda: lisbon_alert(), timeout=60, interval=2, message="new rule applied")


def test_alerts_test_shows_one_line_per_story_cluster(
    alert_settings: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.settings import get_settings

    putin = [samples.enriched(1, cluster=1, copy=c) for c in range(3)]
    putin += [samples.enriched(2, cluster=2, copy=c) for c in range(2)]
    weather = samples.enriched(3, title="Weather", text="Rain is expected in Lisbon.")
    weather = weather.model_copy(update={"actors": [], "entities": [], "claims": []})
    index_articles(alert_settings, es, [*putin, weather])
    with cli_settings(alert_settings, monkeypatch):
        runner = CliRunner()
        result = runner.invoke(cli, ["alerts", "test", "actor:Putin AND kursk", "--since", "3000d"])
        assert result.exit_code == 0, result.output
        # printed as search prints: publish time, outlet, title, copies; oldest story first
        lines = [line for line in result.output.splitlines() if " copies, " in line]
        assert len(lines) == 2  # two stories, five matching copies
        assert "[3 copies, 3 outlets]" in lines[0] and "[2 copies, 2 outlets]" in lines[1]
        assert "2 alert(s) would have fired (5 matching articles)" in result.output
        # the same vocabulary and time syntax as search
        same = runner.invoke(
            cli, ["alerts", "test", "kursk", "--actor", "Putin", "--since", "now-3000d"]
        )
        assert "2 alert(s) would have fired (5 matching articles)" in same.output, same.output
        # NOT removes, the alias expands: "V. Putin" is an alias of the canonical name
        none = runner.invoke(
            cli, ["alerts", "test", 'actor:"V. Putin" NOT kursk', "--since", "3000d"]
        )
        assert "0 alert(s) would have fired" in none.output, none.output
        # a stored rule is found by id, with its filters
        RuleStore(get_settings()).add(
            AlertRule(id="lisbon", name="Lisbon", query="lisbon OR rain", languages=["en"])
        )
        stored = runner.invoke(cli, ["alerts", "test", "lisbon", "--since", "2025-01-01"])
        assert "1 alert(s) would have fired (1 matching articles): lisbon OR rain" in stored.output
        bad = runner.invoke(cli, ["alerts", "test", "kursk AND"])
        assert bad.exit_code == 2 and "position 9" in bad.output
