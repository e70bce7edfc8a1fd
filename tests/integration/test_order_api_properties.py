"""POST /orders under thousands of signed hostile requests (hypothesis): never a 5xx, never an exception out of the
handler, every 4xx names a field or the problem, and a refused request records nothing.

The handler runs in-process on one moto world for all examples (the function-scoped fixtures are built once per
test on purpose: a refusal must leave the table as it found it, whatever came before). Derandomized, so CI replays
the same 2,000 requests every run.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from seatflow import signature

from tests.fixtures.aws import ACCOUNT, REGION, WEBHOOK_SECRET, AwsWorld, FakeLambdaContext, load_event

SAMPLE: dict[str, Any] = json.loads(load_event("api_post_order.json")["body"])
SURROGATES = ["\ud800", "\udfff", "a\udc80b", "\ud83d"]

# -- bodies -------------------------------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=25,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside the sample order, so that a mutation can land anywhere."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += paths_of(item, (*prefix, index))
    return paths


SAMPLE_PATHS = paths_of(SAMPLE)
# Text a shop could send by mistake or a stranger on purpose, for any field.
hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "<b>x</b>", "a\x00b", ".lead@x.com", "trail.@x.com", "x@y", "é" * 101, "💥"]),
    st.sampled_from(SURROGATES),
)


@st.composite
def near_valid_orders(draw: st.DrawFn) -> Any:
    """The sample order with one to three fields replaced, removed or added."""
    order = copy.deepcopy(SAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(SAMPLE_PATHS))
        parent: Any = order
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["replace", "text", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = draw(json_values)
            elif action == "text":
                parent[path[-1]] = draw(hostile_text)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=12))] = draw(json_values)
            else:
                parent.append(draw(json_values))
        except (KeyError, IndexError, TypeError, AttributeError):  # an earlier mutation reshaped this path
            continue
    return order


def encode(value: Any, *, ascii_only: bool) -> bytes:
    """JSON bytes; with ensure_ascii a lone surrogate becomes a `\\ud800` escape, without it raw bytes."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    value = draw(st.one_of(json_values, near_valid_orders(), near_valid_orders()))
    return encode(value, ascii_only=draw(st.booleans()))


@st.composite
def huge_numbers(draw: st.DrawFn) -> bytes:
    digits = "9" * draw(st.integers(15, 6000))
    number = draw(st.sampled_from([digits, "-" + digits, "1e" + digits, digits + ".5", "NaN", "Infinity"]))
    field = draw(st.sampled_from(["seats", "order_id", "participants"]))
    return json.dumps({**SAMPLE, field: "__N__"}).replace('"__N__"', number).encode()


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(20, 3000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    closed = draw(st.booleans())
    inner = opener * depth + "1" + (closer * depth if closed else "")
    return json.dumps({**SAMPLE, "participants": "__X__"}).replace('"__X__"', inner).encode()


@st.composite
def surrogate_bodies(draw: st.DrawFn) -> bytes:
    order = copy.deepcopy(SAMPLE)
    path = draw(st.sampled_from([p for p in SAMPLE_PATHS if isinstance(_at(order, p), str)]))
    parent = _at(order, path[:-1])
    parent[path[-1]] = draw(st.sampled_from(SURROGATES))
    if draw(st.booleans()):  # a key holding one, too
        order[draw(st.sampled_from(SURROGATES))] = 1
    return encode(order, ascii_only=draw(st.booleans()))


@st.composite
def non_utf8_bodies(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["binary", "latin-1", "inserted"]))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=200))
    text = json.dumps(SAMPLE, ensure_ascii=False)
    if kind == "latin-1":
        return text.encode("latin-1", "replace")
    raw = text.encode()
    at = draw(st.integers(0, len(raw)))
    invalid = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf8\x88\x80\x80\x80"]))
    return raw[:at] + invalid + raw[at:]


bodies = st.one_of(
    json_bodies(),
    json_bodies(),
    huge_numbers(),
    deep_nesting(),
    surrogate_bodies(),
    non_utf8_bodies(),
    st.sampled_from([b"", b"   ", b"{", b"}", b"[]", b"null", b"0", b'"x"', b"\xef\xbb\xbf{}"]),
)


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


# -- headers ------------------------------------------------------------------------------------------------------
def valid_signature(body: bytes) -> str:
    return signature.sign(WEBHOOK_SECRET, int(time.time()), body)


weird_signatures = st.one_of(
    st.sampled_from(
        [
            "",
            "t=²,v1=" + "a" * 64,
            "t=" + "9" * 5000 + ",v1=" + "a" * 64,
            "t=1,v1=",
            "v1=" + "a" * 64,
            "t=abc",
            "t=-1,v1=" + "0" * 64,
            ",,,,==,=",
            "t=1," + ",".join(["v1=" + "b" * 64] * 20),
            "t=١٢٣,v1=" + "a" * 64,
            "x" * 5000,
        ]
    ),
    st.text(max_size=80),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """An API Gateway event: a body, its transport (text or base64), a Content-Type and a signature header."""
    body = draw(bodies)
    headers: dict[str, str] = {}
    content_type = draw(
        st.sampled_from(["application/json"] * 8 + ["other"]).flatmap(
            lambda kind: (
                st.just(kind)
                if kind != "other"
                else st.one_of(
                    st.sampled_from([None, "application/json; charset=utf-8", "text/plain", "APPLICATION/JSON"]),
                    st.sampled_from(["multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]),
                    st.text(max_size=30),
                )
            )
        )
    )
    if content_type is not None:
        headers[draw(st.sampled_from(["Content-Type", "content-type"]))] = content_type
    signed = draw(st.sampled_from(["valid"] * 12 + ["wrong-secret", "stale", "weird", "weird", "absent"]))
    if signed == "valid":
        headers["Seatflow-Signature"] = valid_signature(body)
    elif signed == "wrong-secret":
        headers["Seatflow-Signature"] = signature.sign("guessed", int(time.time()), body)
    elif signed == "stale":
        headers["Seatflow-Signature"] = signature.sign(WEBHOOK_SECRET, int(time.time()) - 3600, body)
    elif signed == "weird":
        headers[draw(st.sampled_from(["Seatflow-Signature", "seatflow-signature"]))] = draw(weird_signatures)
    event = load_event("api_post_order.json")
    event["headers"], event["multiValueHeaders"] = headers, {}
    try:  # API Gateway hands over text as text (a JSON string may hold lone surrogates), other bytes as base64
        text = None if draw(st.booleans()) else body.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = None
    if text is None:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = (text or draw(st.sampled_from(["", None]))), False
    return event


# -- the property -------------------------------------------------------------------------------------------------
def items_in(aws: AwsWorld) -> int:
    """The table's item count, read from moto's own store: two Scans per example took most of the test's time."""
    from moto.dynamodb.models import dynamodb_backends

    return len(dynamodb_backends[ACCOUNT][REGION].get_table(aws.table_name))


@settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(request=requests())
def test_any_signed_or_unsigned_request_is_answered_with_a_2xx_or_a_4xx_naming_the_problem(
    aws: AwsWorld, order_api: Any, request: dict[str, Any]
) -> None:
    handler: Callable[..., dict[str, Any]] = order_api.lambda_handler
    before = items_in(aws)
    # When the request reaches the order function (an exception here fails the test: Lambda would answer 502)
    response = handler(request, FakeLambdaContext())
    # Then it is answered: accepted, or refused with a JSON body naming each problem, and a refusal records nothing
    status = response["statusCode"]
    tally(f"HTTP {status}")  # the spread of answers, shown by --hypothesis-show-statistics
    assert status < 500, response
    body = json.loads(response["body"])
    if status >= 400:
        assert body["error"] and body["message"], body
        assert body["problems"], body
        assert all(p["field"] and p["message"] for p in body["problems"]), body
        assert items_in(aws) == before, f"a {status} refusal recorded something"
    else:
        assert status == 202 and body["order_id"], body
