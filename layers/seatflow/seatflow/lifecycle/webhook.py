"""The shop's webhook: each order event POSTed to `SHOP_WEBHOOK_URL`, signed like the orders the shop sends us.

The body is `{"id", "type", "time", "detail"}` (the EventBridge envelope without the AWS account and region),
and `Seatflow-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<body>">` is made with the webhook secret: the shop
checks it exactly as seatflow checks the shop's orders (same scheme, same secret, same 5-minute tolerance).
Anything but a 2xx raises `WebhookNotDelivered`: the SQS message comes back after its visibility timeout and is
tried again, then parked in the dead-letter queue (docs/decisions/0011-shop-webhook.md).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import requests

from seatflow import signature
from seatflow.config import webhook_secret
from seatflow.observability import logger

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 20.0
USER_AGENT = "seatflow-webhook/1"


class WebhookNotDelivered(Exception):
    """The shop did not take the event (an error status, or no answer): it is tried again later."""


def shop_payload(event: dict[str, Any]) -> bytes:
    """The bytes POSTed and signed, from the EventBridge event."""
    payload = {
        "id": event.get("detail", {}).get("event_id") or event.get("id"),
        "type": event["detail-type"],
        "time": event.get("time"),
        "detail": event.get("detail", {}),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def deliver_event(event: dict[str, Any], *, url: str | None = None, session: requests.Session | None = None) -> int:
    """POST one order event to the shop, signed; returns the shop's status, or raises WebhookNotDelivered."""
    target = url or os.environ.get("SHOP_WEBHOOK_URL", "")
    if not target:
        raise WebhookNotDelivered("SHOP_WEBHOOK_URL is not set")
    body = shop_payload(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signature.HEADER: signature.sign(webhook_secret(), int(time.time()), body),
    }
    post = (session or requests).post
    where = {"detail_type": event.get("detail-type"), "order_id": event.get("detail", {}).get("order_id")}
    try:
        response = post(target, data=body, headers=headers, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS))
    except requests.RequestException as exc:
        logger.warning("The shop's webhook did not answer", extra={**where, "error": type(exc).__name__})
        raise WebhookNotDelivered(f"the shop's webhook did not answer: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        logger.warning("The shop's webhook refused an event", extra={**where, "status": response.status_code})
        raise WebhookNotDelivered(f"the shop's webhook answered HTTP {response.status_code}")
    logger.info("Order event delivered to the shop", extra={**where, "status": response.status_code})
    return response.status_code
