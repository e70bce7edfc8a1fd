"""The shop's entry point: POST /orders, GET /orders/{order_id}, the order's lifecycle (retry, amend, cancel)
and POST /erasures.

Thin: the signature is checked, the body parsed into its model, one function of seatflow.intake called,
its answer returned. Every refusal is an intake.IntakeError turned into `{"error", "message", "problems"}`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from seatflow import intake
from seatflow.lifecycle.requests import AmendedOrderBody, CancellationRequest, RetryRequest
from seatflow.models.order import OrderBody
from seatflow.observability import logger, metrics, tracer

app = APIGatewayRestResolver(enable_validation=True)

_REFUSALS: dict[int, Any] = {
    status: {
        "description": description,
        "content": {"application/json": {"model": intake.ProblemReport}},
    }
    for status, description in {
        400: "The body is not a JSON object",
        401: "Missing, wrong or stale Seatflow-Signature",
        422: "The order breaks a rule; each problem names its field",
    }.items()
}


@app.post(
    "/orders",
    summary="Accept a paid order of a training session",
    description="Records the order and starts its fulfilment. Replaying the same order is safe.",
    responses={
        202: {
            "description": "Recorded and started (also the answer to a replay)",
            "content": {"application/json": {"model": intake.AcceptedOrder}},
        },
        **_REFUSALS,
        409: {
            "description": "This order id was already used with a different body, or is being accepted",
            "content": {"application/json": {"model": intake.ProblemReport}},
        },
        503: {
            "description": "Recorded but not started: send the same request again after Retry-After",
            "content": {"application/json": {"model": intake.ProblemReport}},
        },
    },
)
def post_order(order: Annotated[OrderBody, Body()]) -> Response[intake.AcceptedOrder]:
    accepted = intake.accept_order(order, app.lambda_context)
    return Response(202, content_types.APPLICATION_JSON, accepted)


@app.get(
    "/orders/<order_id>",
    summary="The order's status and each participant's outcome",
    responses={
        200: {"description": "The order", "content": {"application/json": {"model": intake.OrderReport}}},
        **_REFUSALS,
        404: {
            "description": "No such order",
            "content": {"application/json": {"model": intake.ProblemReport}},
        },
    },
)
def get_order(order_id: str) -> Response[intake.OrderReport]:
    report = intake.read_order_report(order_id)
    return Response(200, content_types.APPLICATION_JSON, report)


@app.post(
    "/erasures",
    summary="Erase a person's personal data from every record",
    description="Names, emails, phone, city, institution and usernames go; ids, statuses and the email's hash "
    "stay, so the person's orders stay exactly-once. Moodle is untouched: use its privacy tools there. "
    "Asking again changes nothing and gives the same answer.",
    responses={
        200: {
            "description": "Every record about the person now holds none of their personal data",
            "content": {"application/json": {"model": intake.ErasureReport}},
        },
        **_REFUSALS,
        409: {
            "description": "One of the person's orders is being fulfilled: send the same request after Retry-After",
            "content": {"application/json": {"model": intake.ProblemReport}},
        },
    },
)
def post_erasure(request: Annotated[intake.ErasureRequest, Body()]) -> Response[intake.ErasureReport]:
    return Response(200, content_types.APPLICATION_JSON, intake.erase_personal_data(request))


def _change_responses(conflict: str) -> dict[int, Any]:
    return {
        202: {
            "description": "Recorded; it runs now, or right after the changes accepted before it (also a replay)",
            "content": {"application/json": {"model": intake.AcceptedChange}},
        },
        **_REFUSALS,
        404: {"description": "No such order", "content": {"application/json": {"model": intake.ProblemReport}}},
        409: {"description": conflict, "content": {"application/json": {"model": intake.ProblemReport}}},
        503: {
            "description": "Recorded but not started: send the same request again after Retry-After",
            "content": {"application/json": {"model": intake.ProblemReport}},
        },
    }


@app.post(
    "/orders/<order_id>/retry",
    summary="Run again what needs it, after the cause was fixed in Moodle",
    description="Participants in NEEDS_REVIEW or FAILED, and a FAILED order's whole workflow. "
    "Participants already ENROLLED are never touched again.",
    responses=_change_responses("nothing_to_retry, or order_cancelled"),
)
def retry_order(order_id: str, request: Annotated[RetryRequest, Body()]) -> Response[intake.AcceptedChange]:
    return Response(202, content_types.APPLICATION_JSON, intake.accept_retry(order_id))


@app.put(
    "/orders/<order_id>",
    summary="The order as it now stands: participants added, removed or changed, the session's dates moved",
    description="The body of POST /orders plus `revision` (2 and up). Only what changed since the last revision "
    "accepted is done in Moodle, and only what this order granted is taken back.",
    responses=_change_responses("stale_revision, revision_conflict, or order_cancelled"),
)
def amend_order(order_id: str, order: Annotated[AmendedOrderBody, Body()]) -> Response[intake.AcceptedChange]:
    return Response(202, content_types.APPLICATION_JSON, intake.accept_amendment(order_id, order))


@app.post(
    "/orders/<order_id>/cancellation",
    summary="Cancel the order: undo everything it granted in Moodle",
    description="Enrolments, group, cross roles, the operator's supervisor and support-course enrolments, each "
    "only where no other order still grants it. Accounts are never deleted or suspended.",
    responses=_change_responses("order_cancelled: already cancelled with another reason"),
)
def cancel_order(
    order_id: str, cancellation: Annotated[CancellationRequest, Body()]
) -> Response[intake.AcceptedChange]:
    return Response(202, content_types.APPLICATION_JSON, intake.accept_cancellation(order_id, cancellation))


@app.exception_handler(intake.IntakeError)
def answer_refusal(error: intake.IntakeError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return Response(error.status, content_types.APPLICATION_JSON, error.body(), headers=headers)


@app.exception_handler(RequestValidationError)
def answer_invalid_request(error: RequestValidationError) -> Response:
    return answer_refusal(intake.refuse_invalid_request(error.errors()))


@app.exception_handler(RequestUnsupportedContentType)
def answer_unsupported_content_type(error: RequestUnsupportedContentType) -> Response:
    return answer_refusal(intake.UnsupportedMediaType("send the order as application/json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Powertools validates the body before any middleware runs; an unsigned request must learn nothing about
    # our schema, so the signature is checked here, before the resolver sees the request. Then the body is
    # read within bounds: what Powertools' json.loads gets next is JSON it parses safely.
    try:
        body = intake.raw_body(event)
        intake.verify_request_signature(event.get("headers"), body)
        if body.strip():
            intake.read_json_body(event.get("headers"), body)
    except intake.IntakeError as refusal:
        return _refusal_before_routing(refusal)
    return app.resolve(event, context)


def _refusal_before_routing(refusal: intake.IntakeError) -> dict[str, Any]:
    """The proxy response the resolver gives a refusal (`answer_refusal`), for one made before it runs."""
    return {
        "statusCode": refusal.status,
        "body": json.dumps(refusal.body(), separators=(",", ":")),
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
    }
