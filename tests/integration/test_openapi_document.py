"""docs/openapi.json is what the order API's routes generate: a route changed without `make openapi` fails here."""

from __future__ import annotations

import json

from seatflow_local.openapi import ROOT, openapi_json

COMMITTED = ROOT / "docs" / "openapi.json"
STALE = "docs/openapi.json is stale: it differs from what the order API's routes generate; run make openapi"


def test_the_committed_openapi_document_is_what_the_routes_generate() -> None:
    # Given the committed document
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: run make openapi"
    committed = json.loads(COMMITTED.read_text())
    # When the order API's resolver generates it, in-process (what `make openapi` writes)
    generated = json.loads(openapi_json())
    # Then they are the same document, and it describes both routes
    assert committed == generated, STALE
    assert {"/orders", "/orders/{order_id}"} <= set(committed["paths"])
