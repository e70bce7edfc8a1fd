"""Retry, amend and cancel through the real order API handler in-process, AWS in moto (the state machine a Pass:
the executions do nothing, so each change holds its turn until FinishChange's rule is run by the test)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from seatflow.lifecycle.finish import finish_change
from seatflow.models.tasks import ChangeEnd

from tests.fixtures.aws import AwsWorld, load_event, sign_event, with_body

ORDER_ID = "SHOP-2026-0001"


def signed(name: str, body: Any = None) -> dict[str, Any]:
    event = load_event(name)
    return sign_event(with_body(event, body) if body is not None else event)


def amendment(**changes: Any) -> dict[str, Any]:
    body = json.loads(load_event("api_put_order.json")["body"])
    body.update(changes)
    return body


def execution_names(aws: AwsWorld) -> list[str]:
    listed = aws.stepfunctions.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    return sorted(e["name"] for e in listed)


def end_change(store: Any, change: int, status: str = "COMPLETED", counts: dict[str, int] | None = None) -> None:
    """What the workflow does at the end of a change: the order's final status, then FinishChange."""
    store.finish_order(ORDER_ID, status=status, counts=counts or {}, group=None, warnings=None, failure=None)
    finish_change(ChangeEnd(order_id=ORDER_ID, change=change))


@pytest.fixture
def posted(aws: AwsWorld, call_api: Any) -> None:
    assert call_api(signed("api_post_order.json")).status == 202


def test_an_amendment_while_the_creation_runs_waits_for_its_turn_then_starts(aws, call_api, store, posted):
    # Given an order whose creation still runs
    # When revision 2 arrives
    answer = call_api(signed("api_put_order.json"))
    # Then it is accepted and queued: no execution of its own yet
    assert answer.status == 202
    assert answer.body["change"] == {
        "kind": "amended",
        "revision": 2,
        "execution_name": f"{ORDER_ID}--r2",
        "state": "QUEUED",
        "accepted_at": answer.body["change"]["accepted_at"],
    }
    assert execution_names(aws) == [ORDER_ID]
    # When the creation ends
    end_change(store, 1)
    # Then the amendment holds the turn and its execution was started
    assert execution_names(aws) == [ORDER_ID, f"{ORDER_ID}--r2"]
    assert store.get_order(ORDER_ID).active_change == 2


def test_replaying_an_amendment_gets_the_same_change(aws, call_api, posted):
    first = call_api(signed("api_put_order.json"))
    again = call_api(signed("api_put_order.json"))
    assert (again.status, again.body["change"]) == (202, first.body["change"])
    assert len(call_api(signed("api_get_order.json")).body["history"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (amendment(seats=13), 409, "revision_conflict"),  # revision 2 again, another body
        (amendment(revision=1), 422, "invalid_order"),  # revisions start at 2
    ],
)
def test_revision_2_again_with_another_body_or_revision_1_is_refused(aws, call_api, posted, body, status, error):
    call_api(signed("api_put_order.json"))
    answer = call_api(signed("api_put_order.json", body))
    assert (answer.status, answer.body["error"]) == (status, error)


def test_a_revision_lower_than_the_last_accepted_is_stale(aws, call_api, posted):
    # Given revision 3 accepted (revisions may skip numbers)
    assert call_api(signed("api_put_order.json", amendment(revision=3))).status == 202
    # When revision 2 arrives late
    answer = call_api(signed("api_put_order.json"))
    # Then it is refused as stale, and nothing was recorded for it
    assert (answer.status, answer.body["error"]) == (409, "stale_revision")
    assert [c["revision"] for c in call_api(signed("api_get_order.json")).body["history"]] == [1, 3]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"seats": 10}, "seats", "fewer seats than participants"),
        (
            {"operator": {"firstname": "Bob", "lastname": "Durand", "email": "bob@example.com"}},
            "operator.email",
            "cancel",
        ),
        ({"product": {"code": "SPOC-M1-SESSION", "params": "coursename=SUPPORT"}}, "product", "cancel"),
        ({"order_id": "SHOP-2026-0002"}, "order_id", "in the path"),
    ],
)
def test_an_amendment_breaking_a_rule_is_refused_naming_the_field(aws, call_api, posted, changes, field, words):
    answer = call_api(signed("api_put_order.json", amendment(**changes)))
    assert (answer.status, answer.body["error"]) == (422, "invalid_order")
    assert any(p["field"] == field and words in p["message"] for p in answer.body["problems"]), answer.body


def test_seats_may_grow_but_not_shrink(aws, call_api, posted):
    assert call_api(signed("api_put_order.json", amendment(seats=14))).status == 202
    answer = call_api(signed("api_put_order.json", amendment(revision=3, seats=12)))
    assert answer.status == 422
    assert "seats can only grow" in answer.body["problems"][0]["message"]


def test_changes_of_an_unknown_order_are_404(aws, call_api):
    for name in ("api_put_order.json", "api_retry_order.json", "api_cancel_order.json"):
        assert call_api(signed(name)).status == 404


def test_an_unsigned_change_is_refused_before_anything_is_read(aws, call_api, posted):
    event = load_event("api_cancel_order.json")
    assert call_api(event).status == 401


def test_a_completed_order_has_nothing_to_retry_and_a_partial_one_does(aws, call_api, store, posted):
    end_change(store, 1, "COMPLETED", {"enrolled": 11})
    refused = call_api(signed("api_retry_order.json"))
    assert (refused.status, refused.body["error"]) == (409, "nothing_to_retry")
    store.finish_order(ORDER_ID, status="PARTIAL", counts={"needs_review": 1}, group=None, warnings=None, failure=None)
    accepted = call_api(signed("api_retry_order.json"))
    assert (accepted.status, accepted.body["change"]["execution_name"]) == (202, f"{ORDER_ID}--retry1")
    # and a retry sent again before that one started is the same retry
    assert call_api(signed("api_retry_order.json")).body["change"] == accepted.body["change"]


def test_a_cancellation_is_recorded_once_and_closes_the_order_to_other_changes(aws, call_api, posted):
    first = call_api(signed("api_cancel_order.json"))
    assert (first.status, first.body["change"]["execution_name"]) == (202, f"{ORDER_ID}--cancel")
    # the same cancellation again is the same change; another reason is refused
    assert call_api(signed("api_cancel_order.json")).body["change"] == first.body["change"]
    other = call_api(signed("api_cancel_order.json", {"reason": "duplicate order"}))
    assert (other.status, other.body["error"]) == (409, "order_cancelled")
    # and the order takes no amendment or retry any more
    for name in ("api_put_order.json", "api_retry_order.json"):
        answer = call_api(signed(name))
        assert (answer.status, answer.body["error"]) == (409, "order_cancelled")


def test_the_report_holds_the_revision_and_the_history(aws, call_api, posted):
    call_api(signed("api_put_order.json"))
    report = call_api(signed("api_get_order.json")).body
    assert report["revision"] == 2
    assert [(c["kind"], c["revision"], c["execution_name"], c["state"]) for c in report["history"]] == [
        ("created", 1, ORDER_ID, "QUEUED"),
        ("amended", 2, f"{ORDER_ID}--r2", "QUEUED"),
    ]
