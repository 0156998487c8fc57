"""Alert delivery: webhook payloads, HMAC signatures, the retry loop, dead letters.

Generic webhooks get the alert as JSON with two headers::

    X-Wirewatch-Timestamp: 1764057600
    X-Wirewatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

Every request also carries ``Idempotency-Key: <alert id>``: delivery is at-least-once
(a worker killed mid-delivery sends again after its restart), and the key is stable per
alert so receivers can drop the repeats.

Signing the timestamp with the body lets a receiver refuse replays (reject old
timestamps), as Stripe and Slack do. The secret comes from the environment variable the
rule names (``Delivery.secret_env``); the rule never holds the secret itself.

Slack webhooks get Slack's incoming-webhook payload (``text`` plus ``blocks``).

``deliver`` posts with bounded retries and exponential backoff on transient failures
(connection errors, timeouts, 408/425/429/5xx) and returns an outcome; the caller turns a
final failure into a DeadLetter. Refused addresses and unusable URLs (``file://``, an
octal host) fail at once. Each attempt is bounded as a whole by ``timeout_s`` and the
response body is never read. Nothing here raises on a failed webhook.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from pipeline.fetch.guard import BlockedAddress
from pipeline.records import Alert, DeadLetter, Delivery

SIGNATURE_HEADER = "X-Wirewatch-Signature"
TIMESTAMP_HEADER = "X-Wirewatch-Timestamp"
EVENT_HEADER = "X-Wirewatch-Event"
#: the alert id (rule id + story cluster id): the same on every repeat of one alert's
#: delivery (retries, redelivery after a worker crash), so a receiver can drop repeats
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
STAGE = "alert-delivery"

# httpx logs every request at INFO with its full URL, and a Slack webhook URL is its
# secret; the worker logs at INFO. Only warnings from httpx are worth a line.
logging.getLogger("httpx").setLevel(logging.WARNING)


class PostedHere:
    """The alert ids this process is posting now or has posted (the latest ``limit``).

    Faust can hand the webhook agent one alert record twice (fetched again after a
    rebalance while the first copy is still being posted, pipeline.worker.faust_fixes);
    with ``concurrency`` > 1 both copies would be posted at once. Only this process's
    own posts count: a restart still resends what was not acknowledged (at-least-once).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._posting: set[str] = set()
        self._posted: OrderedDict[str, None] = OrderedDict()

    def claim(self, alert_id: str) -> bool:
        """True if ``alert_id`` is neither being posted nor posted here: the caller posts it."""
        if alert_id in self._posting or alert_id in self._posted:
            return False
        self._posting.add(alert_id)
        return True

    def done(self, alert_id: str) -> None:
        """Posted (delivered or dead-lettered): never again from this process."""
        self._posting.discard(alert_id)
        self._posted[alert_id] = None
        while len(self._posted) > self.limit:
            self._posted.popitem(last=False)

    def release(self, alert_id: str) -> None:
        """Not posted after all (cut short): a later copy may post it."""
        self._posting.discard(alert_id)


class DeliveryConfigError(ValueError):
    """The delivery cannot be attempted at all (e.g. its secret variable is unset)."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver should do: constant-time compare, and refuse stale timestamps."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_payload(alert: Alert) -> dict:
    return {"event": "alert.fired", "alert": alert.model_dump(mode="json")}


def slack_payload(alert: Alert) -> dict:
    outlet = f" ({alert.outlet})" if alert.outlet else ""
    terms = ", ".join(alert.matched_terms) or "-"
    title = alert.title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        "text": f"Wirewatch alert {alert.rule_name}: {alert.title}{outlet} {alert.url}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{alert.rule_name}*\n<{alert.url}|{title}>{outlet}",
                },
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"matched: {terms}"},
                    {"type": "mrkdwn", "text": _where(alert)},
                ],
            },
        ],
    }


def _where(alert: Alert) -> str:
    """The story an alert is about, or for a surge the window and its counts."""
    surge = alert.surge
    if surge is None:
        return f"story {alert.cluster_id}"
    return (
        f"surge: {surge.count} {'events' if surge.per == 'event' else 'stories'} from "
        f"{surge.window_start:%Y-%m-%d %H:%M} UTC "
        f"(needed {surge.threshold:g}, baseline {surge.baseline:.2f} per window)"
    )


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def build_request(
    alert: Alert,
    delivery: Delivery,
    env: Mapping[str, str] | None = None,
    now: float | None = None,
) -> WebhookRequest:
    """The exact bytes to POST; raises DeliveryConfigError if the secret is missing."""
    env = os.environ if env is None else env
    payload = slack_payload(alert) if delivery.type == "slack" else webhook_payload(alert)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: "alert.fired",
        IDEMPOTENCY_HEADER: alert.id,
    }
    if delivery.secret_env:
        secret = env.get(delivery.secret_env)
        if not secret:
            raise DeliveryConfigError(
                f"environment variable {delivery.secret_env} (webhook secret) is not set"
            )
        timestamp = str(int(time.time() if now is None else now))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(secret.encode(), timestamp, body)
    return WebhookRequest(url=delivery.url, body=body, headers=headers)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)


@dataclass
class Outcome:
    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    history: list[str] = field(default_factory=list)


async def _post_once(client: httpx.AsyncClient, request: WebhookRequest, timeout_s: float) -> int:
    """One POST, bounded as a whole by ``timeout_s`` (connect, send and answer together: a
    receiver dripping a byte a second cannot stretch it). Only the status is used, so the
    response body is never read, let alone decoded: a compressed bomb costs nothing."""
    async with asyncio.timeout(timeout_s):
        http_request = client.build_request(
            "POST", request.url, content=request.body, headers=request.headers, timeout=timeout_s
        )
        response = await client.send(http_request, stream=True)
        await response.aclose()
        return response.status_code


async def deliver(
    client: httpx.AsyncClient,
    request: WebhookRequest,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Outcome:
    """POST until a 2xx, a non-retryable answer, or the attempts run out. Never raises."""
    policy = policy or RetryPolicy()
    history: list[str] = []
    status: int | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            status = await _post_once(client, request, policy.timeout_s)
        except BlockedAddress as exc:  # policy, not a passing fault: do not retry
            status, note, retry = None, f"{type(exc).__name__}: {exc}", False
        except (httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError) as exc:
            # file://, an octal host, a bad IDNA label: retrying cannot help
            status, note, retry = None, f"invalid webhook URL: {type(exc).__name__}: {exc}", False
        except TimeoutError:
            status, note, retry = None, f"timeout: no answer within {policy.timeout_s:g}s", True
        except httpx.HTTPError as exc:
            status, note, retry = None, f"{type(exc).__name__}: {exc}", True
        else:
            if 200 <= status < 300:
                return Outcome(True, attempt, status, None, history)
            note, retry = f"HTTP {status}", status in RETRYABLE_STATUS
        history.append(note)
        if not retry:
            break
        if attempt < policy.attempts:
            await sleep(policy.delay(attempt))
    return Outcome(False, len(history), status, history[-1], history)


def redact(url: str) -> str:
    """Scheme and host only: a Slack webhook URL's path is its secret."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}/..."


def dead_letter(
    alert: Alert, delivery: Delivery, reason: str, error_type: str, topic: str
) -> DeadLetter:
    """The record for wirewatch.dead-letter when a webhook finally fails."""
    return DeadLetter(
        stage=STAGE,
        reason=f"{delivery.type} {redact(delivery.url)}: {reason}",
        error_type=error_type,
        topic=topic,
        key=alert.id,
        payload=alert.to_json().decode(),
    )
