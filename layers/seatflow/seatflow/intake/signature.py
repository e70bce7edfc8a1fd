"""Is this request from the shop? `Seatflow-Signature` checked over the exact bytes received.

The HMAC scheme itself (sign, parse, verify) is `seatflow.signature`; this module finds the header and
the raw body in an API Gateway request, reads the secret and the tolerance, and refuses with a 401.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

from seatflow import signature
from seatflow.config import get_settings, webhook_secret
from seatflow.intake.errors import SignatureRejected
from seatflow.observability import logger


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The exact bytes the shop signed (API Gateway may hand them base64-encoded)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def verify_request_signature(headers: Mapping[str, str] | None, body: bytes, *, now: int | None = None) -> None:
    """Raise SignatureRejected unless `Seatflow-Signature` signs this body with the webhook secret."""
    header = None
    for name, value in (headers or {}).items():
        if name.lower() == signature.HEADER.lower():
            header = value
            break
    try:
        signature.verify(
            header,
            body,
            webhook_secret(),
            now=int(time.time()) if now is None else now,
            tolerance=get_settings().signature_tolerance_seconds,
        )
    except signature.SignatureError as exc:
        logger.warning("Refused an unsigned or badly signed request", extra={"reason": str(exc)})
        raise SignatureRejected(str(exc)) from None
