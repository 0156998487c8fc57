"""The alert stage's wiring on a Faust app, without a broker."""

from __future__ import annotations

import faust
import pytest

from pipeline.alerts.matcher import ActorNames
from pipeline.records import AlertRule
from pipeline.settings import Settings
from pipeline.topics import ALERT_MATCHES, ALERT_RULES, qualified
from pipeline.worker.alert_agent import AlertStage, register


@pytest.fixture
def stage(registry: ActorNames) -> AlertStage:
    settings = Settings(
        kafka_bootstrap="127.0.0.1:1", es_url="http://127.0.0.1:1", topic_prefix="t1."
    )
    app = faust.App("t1.wirewatch-worker", broker="kafka://127.0.0.1:1", store="memory://")
    return register(app, settings, registry=registry)


def test_rules_table_reads_the_rules_topic_under_its_real_name(stage: AlertStage) -> None:
    # Faust's assignor asks the table for its changelog's name; the conventional
    # "<app>-alert-rules-changelog" would leave the rules topic out of the assignment.
    assert stage.rules_table.is_global
    name = qualified(ALERT_RULES, "t1.")
    assert stage.rules_table._changelog_topic_name() == name
    assert stage.rules_table.changelog_topic.get_topic_name() == name


def test_state_table_is_copartitioned_with_the_matches_topic(stage: AlertStage) -> None:
    assert stage.state_table.partitions == ALERT_MATCHES.partitions
    assert stage.surge_table.partitions == ALERT_MATCHES.partitions  # keyed "<rule>:surge"
    assert set(stage.agents) == {"evaluate", "claims", "track", "deliver", "webhooks"}


def test_rule_events_update_the_live_index(stage: AlertStage) -> None:
    rule = AlertRule(id="putin", name="Putin", query="actor:Putin kursk")
    stage.on_rule_event(b"putin", rule.to_json())
    assert "putin" in stage.index.rules
    replaced = rule.model_copy(update={"query": "actor:Putin ceasefire"})
    stage.on_rule_event(b"putin", replaced.to_json())
    assert stage.index.rules["putin"].rule.query == "actor:Putin ceasefire"
    stage.on_rule_event(b"putin", None)  # tombstone
    assert "putin" not in stage.index.rules


def test_unreadable_or_malformed_rules_never_raise(stage: AlertStage) -> None:
    stage.on_rule_event(b"junk", b"{not json")
    stage.on_rule_event(None, b"{}")
    bad = AlertRule(id="bad", name="Bad", query="kursk AND (")
    stage.on_rule_event(b"bad", bad.to_json())  # written by hand, bypassing `alerts add`
    assert stage.index.rules == {}
    assert "bad" in stage.index.rejected
