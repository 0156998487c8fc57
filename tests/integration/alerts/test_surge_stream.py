"""A surge rule through the real worker on Kafka and Elasticsearch: distinct stories per
window of event time, state recovered from its changelog after a restart, one firing per
surge, re-armed after it subsided, updates indexed but not re-sent, webhooks with the
alert id as Idempotency-Key."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alert_support import Receiver, Worker, cli_settings, json_body, produce
from elasticsearch import Elasticsearch
from helpers import index_articles, wait_until

from pipeline.alerts.rules import RuleStore
from pipeline.index import samples
from pipeline.records import AlertRule, Delivery, EnrichedArticle, SurgeSpec
from pipeline.settings import Settings

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 13, tzinfo=UTC)  # window 0 of the 1 h windows starts here


def at(hours: float, story: int, copy: int = 0) -> EnrichedArticle:
    """A copy of story ``story`` (title mentions Kursk) published ``hours`` after T0."""
    return samples.enriched(
        story, cluster=story, copy=copy, published_at=T0 + timedelta(hours=hours)
    )


def surge_events(worker: Worker) -> int:
    """Surge matches the worker's track agent has finished (counted, repeats, late)."""
    text = httpx.get(f"{worker.web}/metrics", timeout=5).text
    pattern = r'^wirewatch_alert_events_total\{outcome="surge_(?:counted|repeat|late)"\} (\S+)$'
    return int(sum(float(v) for v in re.findall(pattern, text, flags=re.M)))


@pytest.fixture
def surge_rule(alert_settings: Settings, es: Elasticsearch, receiver: Receiver) -> AlertRule:
    """Written before the worker starts: its rules GlobalTable holds it once ready."""
    # lateness 6 h: each phase below spans less, so partitions read in any interleaving
    # give the same windows; the window after a phase is decided by a later article
    spec = SurgeSpec(
        factor=3.0, window_s=3600, min_stories=3, baseline_windows=4, lateness_s=6 * 3600
    )
    rule = AlertRule(
        id="kursk-surge",
        name="Kursk surge",
        query="kursk",
        surge=spec,
        deliver=[Delivery(type="webhook", url=f"{receiver.url}/ok", secret_env="HOOK_SECRET")],
    )
    store = RuleStore(alert_settings)
    store.ensure_topic()
    return store.add(rule)


def test_surge_rule_fires_once_per_surge_and_rearms(
    alert_settings: Settings,
    es: Elasticsearch,
    receiver: Receiver,
    surge_rule: AlertRule,
    alert_worker: Worker,
) -> None:
    index = alert_settings.alerts_index

    def docs() -> dict[str, dict]:
        es.indices.refresh(index=index)
        hits = es.search(index=index, query={"match_all": {}}, size=20)["hits"]["hits"]
        return {h["_id"]: h["_source"] for h in hits}

    def produce_and_wait(records: list[EnrichedArticle], before: int) -> int:
        produce(alert_settings, records)
        target = before + len(records)
        try:
            wait_until(lambda: surge_events(alert_worker) >= target, timeout=180)
        except AssertionError as exc:
            seen = surge_events(alert_worker)
            raise AssertionError(f"{seen}/{target} tracked:\n{alert_worker.tail()}") from exc
        return target

    # phase A: one story an hour for 4 hours, then 4 stories (and 2 copies) in hour 4
    history = [at(h + 0.5, 100 + h) for h in range(4)]
    hour4 = [at(4.1, 1), at(4.2, 2), at(4.3, 3), at(4.4, 4), at(4.5, 1, copy=1), at(4.6, 2, 2)]
    seen = produce_and_wait([*history, *hour4], 0)
    assert docs() == {}  # hour 4 is not decided before its baseline's windows close

    # a restart: the surge state of phase A now exists only in the alert-surge changelog
    alert_worker.stop()
    alert_worker.start()
    seen = 0  # the new process counts from zero

    # phase B: an article 6 h after hour 4 closes hours 0-3; hour 4 (4 stories against a
    # baseline of 1 per hour: level max(3, 3 x 1) = 3) fires, from the recovered state
    seen = produce_and_wait([at(10.1, 10)], seen)
    first_id = "kursk-surge:surge:2025-03-13T04:00:00+00:00"
    fired = wait_until(lambda: docs().get(first_id), timeout=60, message="first surge indexed")
    assert fired["surge"]["count"] == fired["surge"]["fired_with"] == 4  # copies count once
    assert fired["surge"]["baseline"] == pytest.approx(1.0)
    assert fired["surge"]["threshold"] == pytest.approx(3.0)
    assert fired["event_time"].startswith("2025-03-13T10:06")

    # phase C: hours 5-9 were empty (subsided: re-armed); 3 more stories in hour 10, then an
    # article at 16:05 decides hour 10: a second alert; a later story in it updates it
    seen = produce_and_wait([at(10.2, 11), at(10.3, 12), at(10.4, 13)], seen)
    seen = produce_and_wait([at(16.1, 20)], seen)
    second_id = "kursk-surge:surge:2025-03-13T10:00:00+00:00"
    second = wait_until(lambda: docs().get(second_id), timeout=60, message="second surge")
    assert second["surge"]["count"] == 4 and second["surge"]["fired_with"] == 4
    produce_and_wait([at(10.7, 14)], seen)
    wait_until(
        lambda: docs()[second_id]["surge"]["count"] == 5, timeout=60, message="update indexed"
    )
    assert set(docs()) == {first_id, second_id}

    posts = wait_until(lambda: len(receiver.received("/ok")) >= 2 and receiver.received("/ok"))
    keys = {p["headers"]["Idempotency-Key"] for p in posts}
    # Each surge is delivered, at least once like every webhook: a repeat carries the same
    # Idempotency-Key (a receiver drops it). A repeat of the first surge is seen in about
    # half the runs after the restart (open, issue 15 note); the update is never sent.
    assert keys == {first_id, second_id}
    for post in posts:
        alert = json_body(post)["alert"]
        assert alert["id"] == post["headers"]["Idempotency-Key"]
        assert alert["surge"]["count"] == alert["surge"]["fired_with"] == 4


def test_alerts_test_shows_when_a_surge_rule_would_have_fired(
    alert_settings: Settings, es: Elasticsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from pipeline.cli import cli
    from pipeline.settings import get_settings

    # the same timeline as the stream test: hours 0-3 one story each, hour 4 four stories
    # (two copies more), hour 10 four stories
    records = [at(h + 0.5, 100 + h) for h in range(4)]
    records += [at(4.1, 1), at(4.2, 2), at(4.3, 3), at(4.4, 4), at(4.5, 1, copy=1)]
    records += [at(10.1 + i / 10, 10 + i) for i in range(4)]
    weather = samples.enriched(50, title="Weather", text="Rain in Lisbon.", summary=None)
    records.append(weather.model_copy(update={"actors": [], "entities": [], "claims": []}))
    index_articles(alert_settings, es, records)
    with cli_settings(alert_settings, monkeypatch):
        runner = CliRunner()
        options = ["--surge", "3x/1h", "--min-stories", "3", "--baseline-windows", "4"]
        result = runner.invoke(cli, ["alerts", "test", "kursk", "--since", "3000d", *options])
        assert result.exit_code == 0, result.output
        lines = [line for line in result.output.splitlines() if " UTC  " in line]
        assert len(lines) == 2, result.output
        assert lines[0].startswith("2025-03-13 04:00-05:00 UTC  4 stories (fired at 3; needed 3")
        assert lines[1].startswith("2025-03-13 10:00-11:00 UTC  4 stories")
        assert "2 surge alert(s) would have fired (13 matching articles)" in result.output
        # a stored surge rule is tested with its own spec
        RuleStore(get_settings()).add(
            AlertRule(
                id="kursk-surge",
                name="Kursk surge",
                query="kursk",
                surge=SurgeSpec(factor=3.0, window_s=3600, min_stories=5, baseline_windows=4),
            )
        )
        stored = runner.invoke(cli, ["alerts", "test", "kursk-surge", "--since", "3000d"])
        assert "0 surge alert(s) would have fired (13 matching articles)" in stored.output
        listed = runner.invoke(cli, ["alerts", "list"])
        assert "surge=3x/1h min 5 over 4 windows per story" in listed.output
