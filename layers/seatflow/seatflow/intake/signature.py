"""Is this request from the shop? `Seatflow-Signature` checked over the exact bytes received.

The HMAC scheme itself (sign, parse, verify) is `seatflow.signature`; this module finds the header and
the raw body in an API Gateway request, reads the secret and the tolerance, and refuses with a 401.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

from seatflow import signature
from seatflow.config import get_settings, webhook_secret
from seatflow.intake.errors import InvalidJson, SignatureRejected
from seatflow.observability import logger


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The exact bytes the shop signed (API Gateway may hand them base64-encoded).

    A text body is encoded as UTF-8 with its lone surrogates kept as they are (`surrogatepass`), never refused
    here: the body's parser names them, and a body that is not valid base64 is an InvalidJson.
    """
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidJson("the body is marked base64-encoded but is not valid base64") from None
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    raise InvalidJson("the body must be text")


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
