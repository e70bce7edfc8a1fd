"""`Seatflow-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

The shop signs the exact bytes it sends. Several `v1=` values may be given (the shop signs with the old
and the new secret while a secret is rotated); one match is enough. Comparison is constant-time.
The header is read before anyone is authenticated, so its parser is bounded and refuses anything else with
a SignatureError, never another exception.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

HEADER = "Seatflow-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
# Bounds on what a stranger may send: a Unix time has 10 digits until the year 2286; a rotation signs with
# two secrets; an HMAC-SHA256 is 64 hex digits.
MAX_HEADER_LENGTH = 1024
MAX_TIMESTAMP_DIGITS = 12
MAX_SIGNATURES = 8
_TIMESTAMP = re.compile(rf"[0-9]{{1,{MAX_TIMESTAMP_DIGITS}}}")  # ASCII only: str.isdigit() also takes '²'
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class SignatureError(Exception):
    """The request is not signed, or not by someone who knows the secret, or too long ago."""


def compute(secret: str, timestamp: int, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<body>`."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw, hashlib.sha256).hexdigest()


def sign(secret: str | Iterable[str], timestamp: int, body: bytes | str) -> str:
    """The header value; one `v1=` per secret given."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    return ",".join([f"t={timestamp}", *(f"v1={compute(s, timestamp, body)}" for s in secrets)])


def parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures); other schemes are ignored, as Stripe-style headers do."""
    if not isinstance(header, str):
        raise SignatureError(f"{HEADER} must be text")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(f"{HEADER} is longer than {MAX_HEADER_LENGTH} characters")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        value = value.strip()
        if key == "t":
            if not _TIMESTAMP.fullmatch(value):
                raise SignatureError(f"the t= timestamp is not a Unix time (at most {MAX_TIMESTAMP_DIGITS} digits 0-9)")
            timestamp = int(value)
        elif key == "v1" and value:
            signature = value.lower()
            if not _HEX_SHA256.fullmatch(signature):
                raise SignatureError("a v1= signature must be 64 hex digits (an HMAC-SHA256)")
            signatures.append(signature)
            if len(signatures) > MAX_SIGNATURES:
                raise SignatureError(f"{HEADER} has more than {MAX_SIGNATURES} v1= signatures")
    if timestamp is None:
        raise SignatureError(f"{HEADER} has no t= timestamp")
    if not signatures:
        raise SignatureError(f"{HEADER} has no v1= signature")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes | str,
    secret: str | Iterable[str],
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check the header against the body; return its timestamp or raise SignatureError."""
    if not isinstance(header, str) or not header.strip():
        raise SignatureError(f"the {HEADER} header is missing")
    timestamp, signatures = parse(header)
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"the signature timestamp is {abs(now - timestamp)}s away from the server time "
            f"(at most {tolerance}s): sign each request when you send it"
        )
    if isinstance(body, str):
        try:
            body = body.encode()
        except UnicodeEncodeError:  # a lone surrogate: no shop can have signed these bytes
            raise SignatureError("the body is not valid UTF-8 text") from None
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [compute(s, timestamp, body) for s in secrets]
    # Compare every pair, without stopping early, so timing tells nothing about which one matched.
    matched = False
    for given in signatures:
        for candidate in expected:
            matched |= hmac.compare_digest(given.encode(), candidate.encode())
    if not matched:
        raise SignatureError("no v1= signature matches this body and the shared secret")
    return timestamp
