"""POST /orders and GET /orders/{order_id}: the real handler in-process, AWS in moto."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from seatflow import signature

from tests.fixtures.aws import (
    WEBHOOK_SECRET,
    AwsWorld,
    get_event,
    load_event,
    sign_event,
    with_body,
)

ORDER_ID = "SHOP-2026-0001"


def signed_post(name: str = "api_post_order.json", **kwargs: Any) -> dict[str, Any]:
    return sign_event(load_event(name), **kwargs)


def sample_body() -> dict[str, Any]:
    return json.loads(load_event("api_post_order.json")["body"])


def executions(aws: AwsWorld) -> list[dict[str, Any]]:
    return aws.stepfunctions.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]


def order_item(aws: AwsWorld, order_id: str = ORDER_ID) -> dict[str, Any] | None:
    item = aws.dynamodb.get_item(TableName=aws.table_name, Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}})
    return item.get("Item")


def table_size(aws: AwsWorld) -> int:
    return len(aws.dynamodb.scan(TableName=aws.table_name)["Items"])


# ------------------------------------------------------------------------------------------- valid order


def test_a_valid_order_is_accepted_recorded_and_started(aws: AwsWorld, call_api: Any) -> None:
    # Given the signed sample order
    # When the shop posts it
    answer = call_api(signed_post())
    # Then it is accepted, running, and one execution named after the order was started
    assert answer.status == 202
    assert answer.body == {
        "order_id": ORDER_ID,
        "status": "RUNNING",
        "links": {"self": f"/orders/{ORDER_ID}"},
    }
    [execution] = executions(aws)
    assert execution["name"] == ORDER_ID
    described = aws.stepfunctions.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"order_id": ORDER_ID, "change": 1}
    assert order_item(aws)["execution_arn"]["S"] == execution["executionArn"]


def test_every_participant_is_recorded_pending_with_a_stable_key(aws: AwsWorld, call_api: Any, store: Any) -> None:
    call_api(signed_post())
    participants = store.list_participants(ORDER_ID)
    assert [p.participant_key for p in participants][:2] == ["learner-0001", "learner-0002"]
    assert participants[-1].participant_key == "tutor-0001" and participants[-1].role == "tutor"
    assert {p.status for p in participants} == {"PENDING"}
    chloe = next(p for p in participants if p.lastname == "Müller")
    assert (chloe.email, chloe.email_norm) == (
        "Chloe.Muller@Acme-Training.example",
        "chloe.muller@acme-training.example",
    )


def test_the_order_item_holds_the_parsed_product_and_counts(aws: AwsWorld, call_api: Any, store: Any) -> None:
    call_api(signed_post())
    order = store.get_order(ORDER_ID)
    assert order.status == "RUNNING" and order.seats == 11 and order.participants_recorded
    assert order.counts == {"learners": 10, "tutors": 1, "participants": 11}
    assert order.product.parsed["coursename"] == "SPOCM1"
    assert order.product.parsed["endtime_relative"] == {"amount": 35, "unit": "D"}
    assert isinstance(order.received_at, int) and len(order.body_sha256) == 64


# ------------------------------------------------------------------------------------------ refusals


def test_seats_not_matching_participants_are_refused_and_nothing_is_recorded(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(signed_post("api_post_order_seats_mismatch.json"))
    assert answer.status == 422 and answer.body["error"] == "invalid_order"
    assert answer.body["problems"][0]["field"] == "seats"
    assert "more seat(s) than participants" in answer.body["problems"][0]["message"]
    assert table_size(aws) == 0 and executions(aws) == []


def test_a_duplicate_email_is_refused_naming_both_positions(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(signed_post("api_post_order_duplicate_email.json"))
    assert answer.status == 422
    [problem] = answer.body["problems"]
    assert problem["field"] == "participants.tutors[0].email"
    assert "participants.learners[0].email" in problem["message"]


def test_bad_product_parameters_are_refused_naming_every_bad_key(aws: AwsWorld, call_api: Any) -> None:
    # Given product parameters with an unknown key and a malformed start
    answer = call_api(signed_post("api_post_order_bad_params.json"))
    # Then both are reported at once, each naming its key
    assert answer.status == 422
    assert [p["field"] for p in answer.body["problems"]] == ["product.params", "product.params"]
    messages = [p["message"] for p in answer.body["problems"]]
    assert messages[0].startswith("colour: unknown key") and messages[1].startswith("starttime: must be")


def test_field_problems_are_all_listed_with_readable_paths(aws: AwsWorld, call_api: Any) -> None:
    # Given an order with a bad email at learner 3, a typo'd field and seats as a string
    body = sample_body()
    body["participants"]["learners"][3]["email"] = "francois@@example"
    body["participants"]["learners"][4]["fistname"] = "Anaïs"
    body["seats"] = "11"
    # When it is posted
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), body)))
    # Then each problem is reported at its path, not as a Python tuple
    assert answer.status == 422
    fields = {p["field"]: p["message"] for p in answer.body["problems"]}
    assert "participants.learners[3].email" in fields
    assert fields["participants.learners[4].fistname"] == "is not a known field"
    assert "seats" in fields


def test_a_body_that_is_not_json_gets_400(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), '{"order_id": ')))
    assert answer.status == 400 and answer.body["error"] == "invalid_json"


def test_an_empty_body_gets_400(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), None)))
    assert answer.status == 400


def test_a_json_array_instead_of_an_order_gets_a_4xx(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), "[1, 2]")))
    assert 400 <= answer.status < 500 and answer.body["problems"]


def signed_raw(body: bytes, *, base64_encoded: bool = False, content_type: str = "application/json") -> dict[str, Any]:
    """A POST whose exact bytes are signed: sent as text (lone surrogates kept as they are) or base64."""
    event = load_event("api_post_order.json")
    event["headers"] = {
        "Content-Type": content_type,
        signature.HEADER: signature.sign(WEBHOOK_SECRET, int(time.time()), body),
    }
    event["multiValueHeaders"] = {}
    if base64_encoded:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8", "surrogatepass"), False
    return event


@pytest.mark.parametrize(
    ("event", "status", "field", "says"),
    [
        (signed_raw(b"[" * 1000 + b"]" * 1000), 400, "body", "nests arrays and objects more than 32 levels"),
        (signed_raw(b'{"seats": 1' + b"0" * 5000 + b"}"), 400, "body", "a number has 5001 digits"),
        (signed_raw(b'{"order_id": "\\ud800"}'), 400, "order_id", "lone surrogate"),
        (signed_raw('{"order_id": "\ud800"}'.encode("utf-8", "surrogatepass")), 400, "body", "not UTF-8"),
        (signed_raw(b'{"order_id": "caf\xe9"}', base64_encoded=True), 400, "body", "not UTF-8: byte 0xe9"),
        (signed_raw(b'"an order"'), 400, "body", "must be a JSON object, not text"),
        (signed_raw(b"null"), 400, "body", "not null"),
        (signed_raw(b'{"order_id": "X"}', content_type="text/plain"), 415, "headers.Content-Type", "application/json"),
    ],
    ids=["deep", "huge-int", "surrogate-escape", "surrogate-text", "latin-1", "string", "null", "text-plain"],
)
def test_a_hostile_body_is_refused_naming_the_problem_and_nothing_is_recorded(
    aws: AwsWorld, call_api: Any, event: dict[str, Any], status: int, field: str, says: str
) -> None:
    # Given a signed body Python's own parser would crash on, or that is no order at all
    # When it is posted
    answer = call_api(event)
    # Then it is refused with a 4xx naming where the problem is and what it is, and nothing is recorded
    assert answer.status == status
    [problem] = answer.body["problems"]
    assert problem["field"] == field and says in problem["message"]
    assert table_size(aws) == 0 and executions(aws) == []


def test_a_body_marked_base64_that_is_not_base64_gets_400(aws: AwsWorld, call_api: Any) -> None:
    event = signed_raw(b"{}")
    event["body"], event["isBase64Encoded"] = "not base64!", True
    answer = call_api(event)
    assert answer.status == 400 and "base64" in answer.body["problems"][0]["message"]


# ------------------------------------------------------------------------------------------ signature


def test_an_unsigned_order_gets_401_and_nothing_is_recorded(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(load_event("api_post_order_unsigned.json"))
    assert answer.status == 401 and answer.body["error"] == "invalid_signature"
    assert answer.body["problems"][0]["field"] == "headers.Seatflow-Signature"
    assert table_size(aws) == 0 and executions(aws) == []


def test_an_unsigned_malformed_body_gets_401_not_a_validation_answer(aws: AwsWorld, call_api: Any) -> None:
    # The signature is checked before the body is parsed: no schema detail leaks to strangers.
    answer = call_api(with_body(load_event("api_post_order_unsigned.json"), '{"seats": "lots"}'))
    assert answer.status == 401


def test_an_order_signed_with_the_wrong_secret_gets_401(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(signed_post(secret="guessed-secret"))
    assert answer.status == 401 and table_size(aws) == 0


def test_a_stale_signature_gets_401(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(signed_post(timestamp=int(time.time()) - 301))
    assert answer.status == 401 and "away from the server time" in answer.body["message"]


def test_an_order_signed_with_the_old_and_new_secrets_is_accepted(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(signed_post(secret=["previous-secret", WEBHOOK_SECRET]))
    assert answer.status == 202


def test_a_body_changed_after_signing_gets_401(aws: AwsWorld, call_api: Any) -> None:
    event = signed_post()
    event["body"] = event["body"].replace('"seats": 11', '"seats": 12')
    assert call_api(event).status == 401


def test_reading_an_order_needs_a_signature_too(aws: AwsWorld, call_api: Any) -> None:
    call_api(signed_post())
    assert call_api(get_event(ORDER_ID)).status == 401
    assert call_api(sign_event(get_event(ORDER_ID))).status == 200


# ---------------------------------------------------------------------------------- replay and conflict


def test_replayed_order_starts_no_second_execution(aws: AwsWorld, call_api: Any) -> None:
    # Given an accepted order
    first = call_api(signed_post())
    # When the shop posts it again (a retry after a timeout)
    second = call_api(signed_post())
    # Then it gets the same answer and nothing new is started
    assert (second.status, second.body) == (first.status, first.body)
    assert len(executions(aws)) == 1


def test_replay_after_the_idempotency_record_expired_is_answered_from_the_order(aws: AwsWorld, call_api: Any) -> None:
    # Given an accepted order whose idempotency record has gone (TTL)
    call_api(signed_post())
    for item in aws.dynamodb.scan(TableName=aws.table_name)["Items"]:
        if item["PK"]["S"].startswith("idempotency#"):
            aws.dynamodb.delete_item(TableName=aws.table_name, Key={"PK": item["PK"], "SK": item["SK"]})
    # When the same order comes again
    answer = call_api(signed_post())
    # Then the order item is the source of truth: 202, still one execution
    assert answer.status == 202 and answer.body["status"] == "RUNNING"
    assert len(executions(aws)) == 1


def test_the_same_order_id_with_another_body_gets_409(aws: AwsWorld, call_api: Any) -> None:
    call_api(signed_post())
    body = sample_body()
    body["participants"]["learners"][1]["firstname"] = "Jeanne"
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), body)))
    assert answer.status == 409 and ORDER_ID in answer.body["message"]
    assert len(executions(aws)) == 1


def test_another_body_is_a_conflict_even_after_the_idempotency_record_expired(
    aws: AwsWorld, call_api: Any, store: Any
) -> None:
    call_api(signed_post())
    for item in aws.dynamodb.scan(TableName=aws.table_name)["Items"]:
        if item["PK"]["S"].startswith("idempotency#"):
            aws.dynamodb.delete_item(TableName=aws.table_name, Key={"PK": item["PK"], "SK": item["SK"]})
    body = sample_body()
    body["seats"] = 12
    body["participants"]["learners"].append({"firstname": "Noé", "lastname": "Roux", "email": "noe@example.com"})
    answer = call_api(sign_event(with_body(load_event("api_post_order.json"), body)))
    assert answer.status == 409
    assert len(store.list_participants(ORDER_ID)) == 11


# ------------------------------------------------------------------------------ lost workflow start


def test_a_lost_workflow_start_keeps_the_order_and_the_next_post_starts_it(
    aws: AwsWorld, call_api: Any, store: Any, monkeypatch: Any
) -> None:
    # Given Step Functions refuses the start (the state machine ARN points nowhere)
    from seatflow.config import get_settings

    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn + "-gone")
    get_settings.cache_clear()
    # When the order is posted
    lost = call_api(signed_post())
    # Then the shop is told the order is recorded and to retry, and the order waits as RECEIVED
    assert lost.status == 503 and lost.headers["Retry-After"] == "30"
    assert "recorded" in lost.body["message"] and "again" in lost.body["message"]
    assert store.get_order(ORDER_ID).status == "RECEIVED"
    assert len(store.list_participants(ORDER_ID)) == 11
    # When Step Functions is back and the shop retries the same order
    monkeypatch.setenv("STATE_MACHINE_ARN", aws.state_machine_arn)
    get_settings.cache_clear()
    retried = call_api(signed_post())
    # Then the failure was not cached: the order is started once and runs
    assert retried.status == 202 and retried.body["status"] == "RUNNING"
    assert len(executions(aws)) == 1
    assert store.get_order(ORDER_ID).status == "RUNNING"


def test_an_execution_that_already_exists_counts_as_started(aws: AwsWorld, call_api: Any, store: Any) -> None:
    # Given the execution started but the order was never marked RUNNING (crash in between)
    aws.stepfunctions.start_execution(stateMachineArn=aws.state_machine_arn, name=ORDER_ID, input="{}")
    # When the order is posted
    answer = call_api(signed_post())
    # Then it is accepted and marked running with that execution
    assert answer.status == 202 and store.get_order(ORDER_ID).execution_arn.endswith(f":{ORDER_ID}")


# ---------------------------------------------------------------------------------------------- GET


def test_an_unknown_order_gets_404(aws: AwsWorld, call_api: Any) -> None:
    answer = call_api(sign_event(get_event("SHOP-NOPE")))
    assert answer.status == 404 and answer.body["error"] == "order_not_found"


def test_the_report_shows_each_participant_outcome(aws: AwsWorld, call_api: Any, store: Any) -> None:
    # Given an order whose session was prepared, one participant enrolled with a new account, one to review
    call_api(signed_post())
    store.save_session(
        ORDER_ID,
        {
            "course_id": 42,
            "course_shortname": "SPOCM1",
            "timestart": 1767225600,
            "timeend": 1770249600,
            "supervisor_role_id": 4,
            "student_role_id": 5,
            "operator_user_id": 7,
            "operator_username": "claire.bernard",
            "operator_account": "created",
        },
    )
    store.save_participant_outcome(
        store.get_participant(ORDER_ID, "learner-0002"), status="ENROLLED", account="created", moodle_user_id=101,
        username="jean.dupont", role_shortname="student", role_id=5, attached_to_operator=True,
    )  # fmt: skip
    store.save_participant_outcome(
        store.get_participant(ORDER_ID, "learner-0001"), status="NEEDS_REVIEW", account=None, moodle_user_id=None,
        username=None, role_shortname=None, role_id=None, attached_to_operator=None,
        reason="2 Moodle accounts share alice@example.com", candidates=[3, 9],
    )  # fmt: skip
    # When the shop reads the order
    answer = call_api(sign_event(get_event(ORDER_ID)))
    # Then it sees the operator, the course and each outcome
    assert answer.status == 200
    report = answer.body
    assert report["status"] == "RUNNING" and report["seats"] == 11
    assert report["operator"]["account"] == "created" and report["operator"]["username"] == "claire.bernard"
    assert report["course"]["course_id"] == 42
    assert report["counts"]["enrolled"] == 1 and report["counts"]["needs_review"] == 1
    assert report["counts"]["pending"] == 9
    by_key = {p["participant_key"]: p for p in report["participants"]}
    jean = by_key["learner-0002"]
    assert (jean["account"], jean["moodle_user_id"], jean["username"], jean["role_enrolled"]) == (
        "created", 101, "jean.dupont", "student",
    )  # fmt: skip
    assert jean["attached_to_operator"] is True
    assert jean["group_member"] is None  # no group before FinalizeSession
    assert by_key["learner-0001"]["reason"].startswith("2 Moodle accounts")


def test_a_finished_order_reports_its_final_status_and_group(aws: AwsWorld, call_api: Any, store: Any) -> None:
    # Given a finished order: two participants enrolled, one of whom Moodle refused in the group, one failed
    call_api(signed_post())
    for key, user_id in (("learner-0002", 101), ("learner-0003", 102)):
        store.save_participant_outcome(
            store.get_participant(ORDER_ID, key), status="ENROLLED", account="reused", moodle_user_id=user_id,
            username=f"user{user_id}", role_shortname="student", role_id=5, attached_to_operator=False,
        )  # fmt: skip
    store.fail_pending_participants(ORDER_ID, ["learner-0001"], "enrol_manual: no instance")
    store.finish_order(
        ORDER_ID,
        status="PARTIAL",
        counts={"enrolled": 10, "needs_review": 1, "failed": 0},
        group={"id": 12, "idnumber": ORDER_ID, "name": "Acme Training SHOP-2026-0001", "refused_user_ids": [102]},
        warnings=["customer support course SUPPORT not found"],
        failure=None,
    )
    # When the shop reads it
    report = call_api(sign_event(get_event(ORDER_ID))).body
    # Then it sees the status, the group, and who is in it
    assert report["status"] == "PARTIAL" and report["group"]["idnumber"] == ORDER_ID
    assert report["warnings"] == ["customer support course SUPPORT not found"]
    assert report["finished_at"] is not None
    member = {p["participant_key"]: p["group_member"] for p in report["participants"]}
    assert (member["learner-0002"], member["learner-0003"], member["learner-0001"]) == (True, False, False)
