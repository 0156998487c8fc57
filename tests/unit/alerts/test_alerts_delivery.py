"""Webhook payloads, HMAC signatures and the retry loop (HTTP faked with httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import httpx
import pytest

from pipeline.alerts.delivery import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryConfigError,
    PostedHere,
    RetryPolicy,
    build_request,
    dead_letter,
    deliver,
    sign,
    verify,
)
from pipeline.records import Alert, Delivery

ALERT = Alert(
    id="putin:c1",
    rule_id="putin",
    rule_name="Putin <watch>",
    cluster_id="c1",
    article_id="a" * 40,
    title="Putin visits Kursk & more",
    url="https://reuters.com/a",
    outlet="Reuters",
    matched_terms=["actor:Putin"],
)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"s3cret", "1700000000", body) == f"sha256={expected}"


def test_generic_webhook_is_signed_with_the_named_secret() -> None:
    target = Delivery(type="webhook", url="https://example.org/hook", secret_env="HOOK_SECRET")
    request = build_request(ALERT, target, env={"HOOK_SECRET": "s3cret"}, now=1_700_000_000)
    assert request.headers[TIMESTAMP_HEADER] == "1700000000"
    assert verify(
        b"s3cret", "1700000000", request.body, request.headers[SIGNATURE_HEADER], now=1_700_000_010
    )
    # a tampered body, a wrong secret or a stale timestamp fail verification
    signature = request.headers[SIGNATURE_HEADER]
    assert not verify(b"s3cret", "1700000000", request.body + b" ", signature, now=1_700_000_010)
    assert not verify(b"other", "1700000000", request.body, signature, now=1_700_000_010)
    assert not verify(b"s3cret", "1700000000", request.body, signature, now=1_700_009_999)
    payload = json.loads(request.body)
    assert payload["event"] == "alert.fired"
    assert payload["alert"]["id"] == "putin:c1"


def test_every_request_carries_the_alert_id_as_idempotency_key() -> None:
    webhook = Delivery(type="webhook", url="https://example.org/hook")
    first = build_request(ALERT, webhook, env={}, now=1_700_000_000)
    again = build_request(ALERT, webhook, env={}, now=1_700_000_099)  # a later repeat
    slack = build_request(ALERT, Delivery(type="slack", url="https://hooks.slack.com/x"), env={})
    keys = {r.headers[IDEMPOTENCY_HEADER] for r in (first, again, slack)}
    assert keys == {ALERT.id}
    other = build_request(ALERT.model_copy(update={"id": "putin:c2"}), webhook, env={})
    assert other.headers[IDEMPOTENCY_HEADER] != ALERT.id


def test_missing_secret_is_a_config_error_not_an_unsigned_post() -> None:
    target = Delivery(type="webhook", url="https://example.org/hook", secret_env="NOPE")
    with pytest.raises(DeliveryConfigError, match="NOPE"):
        build_request(ALERT, target, env={})


def test_slack_payload_has_text_and_escaped_blocks() -> None:
    request = build_request(ALERT, Delivery(type="slack", url="https://hooks.slack.com/x"), env={})
    payload = json.loads(request.body)
    assert "Putin visits Kursk" in payload["text"]
    section = payload["blocks"][0]["text"]["text"]
    assert "<https://reuters.com/a|Putin visits Kursk &amp; more>" in section
    assert SIGNATURE_HEADER not in request.headers


def _run(handler, policy: RetryPolicy) -> tuple:
    calls: list[httpx.Request] = []
    sleeps: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return handler(len(calls))

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            request = build_request(ALERT, Delivery(type="webhook", url="http://h/x"), env={})
            return await deliver(client, request, policy, sleep=fake_sleep)

    return asyncio.run(go()), calls, sleeps


def test_transient_failures_are_retried_with_backoff() -> None:
    outcome, calls, sleeps = _run(
        lambda n: httpx.Response(503 if n < 3 else 204), RetryPolicy(attempts=5, base_delay_s=1)
    )
    assert outcome.delivered and outcome.attempts == 3 and len(calls) == 3
    assert 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2  # exponential, jittered


def test_final_failure_and_non_retryable_status() -> None:
    outcome, calls, _ = _run(lambda n: httpx.Response(500), RetryPolicy(attempts=4))
    assert not outcome.delivered and len(calls) == 4 and outcome.error == "HTTP 500"
    outcome, calls, _ = _run(lambda n: httpx.Response(404), RetryPolicy(attempts=4))
    assert not outcome.delivered and len(calls) == 1


def test_connection_errors_are_retried_not_raised() -> None:
    def refuse(n: int) -> httpx.Response:
        raise httpx.ConnectError("refused")

    outcome, calls, _ = _run(refuse, RetryPolicy(attempts=3))
    assert not outcome.delivered and len(calls) == 3 and "ConnectError" in outcome.error


def test_dead_letter_keeps_the_alert_and_hides_the_url_path() -> None:
    target = Delivery(type="slack", url="https://hooks.slack.com/services/T1/B2/SECRET")
    record = dead_letter(ALERT, target, "HTTP 500 after 5 attempts", "WebhookFailed", "t")
    assert "SECRET" not in record.reason and "hooks.slack.com" in record.reason
    assert Alert.from_json(record.payload) == ALERT
    assert record.stage == "alert-delivery" and record.key == "putin:c1"


def test_an_alert_posted_or_being_posted_here_is_not_posted_again() -> None:
    posted = PostedHere(limit=2)
    assert posted.claim("a")
    assert not posted.claim("a")  # the same record handed over twice while posting
    posted.done("a")
    assert not posted.claim("a")
    assert posted.claim("b")
    posted.release("b")  # cut short: a later copy posts it
    assert posted.claim("b")
    posted.done("b")
    posted.done("c")  # the oldest is forgotten past the limit
    assert posted.claim("a") and not posted.claim("c")
