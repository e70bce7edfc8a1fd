"""The events API Gateway hands the order function: what a shop's signed request looks like to it."""

from __future__ import annotations

import time
import uuid
from typing import Any


def signed_api_event(
    secret: str, method: str, path: str, body: str = "", path_parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST API proxy event for `method path`, signed with `secret` as a shop signs it."""
    from seatflow.signature import sign

    timestamp = int(time.time())
    return {
        "resource": "/orders/{order_id}" if path_parameters else "/orders",
        "path": path,
        "httpMethod": method,
        "headers": {
            "Content-Type": "application/json",
            "Seatflow-Signature": sign(secret, timestamp, body),
        },
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/orders/{order_id}" if path_parameters else "/orders",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }
