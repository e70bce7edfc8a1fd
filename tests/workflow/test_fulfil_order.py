"""The real state machine, run by moto's interpreter, with the handlers in-process and the Moodle sandbox."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
from seatflow.fulfilment import services
from seatflow.models import OrderBody

from seatflow_local.runtime import REGION, LocalRuntime
from tests.fixtures.orders import fulfil, fulfil_at_once

SPOCM1, SUPPORT = 2, 3
STUDENT, TEACHER, CUSTOMER = 5, 4, 9


def by_email(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["email"].lower(): p for p in document["participants"]}


def test_sample_order_ends_completed_with_group_roles_dates_and_support_course(runtime, sample_order):
    # Given the sample order for SPOCM1 (10 learners, 1 tutor, support course SUPPORT)
    # When it is fulfilled end to end
    document = fulfil(runtime, sample_order)

    # Then every participant is enrolled and the order is COMPLETED
    assert document["status"] == "COMPLETED"
    assert {p["status"] for p in document["participants"]} == {"ENROLLED"}
    state = runtime.sandbox.state
    enrolments = {e["user_id"]: e for e in state.enrolments(SPOCM1)}
    operator_id = document["operator"]["moodle_user_id"]
    # learners are students, the tutor and the operator supervisors (teacher), with the session's dates
    for participant in document["participants"]:
        expected_role = STUDENT if participant["role"] == "learner" else TEACHER
        enrolment = enrolments[participant["moodle_user_id"]]
        assert expected_role in enrolment["role_ids"]
        assert enrolment["timestart"] == 1767225600
        assert enrolment["timeend"] == 1767225600 + 35 * 86400
    assert TEACHER in enrolments[operator_id]["role_ids"]
    # the order's own group holds every participant and the operator
    group = document["group"]
    assert group["idnumber"] == sample_order["order_id"]
    members = set(state.group_members(group["id"]))
    assert members == {p["moodle_user_id"] for p in document["participants"]} | {operator_id}
    # the operator is a student and a customer of the support course
    support = {e["user_id"]: e for e in state.enrolments(SUPPORT)}
    assert set(support[operator_id]["role_ids"]) == {STUDENT, CUSTOMER}


def test_accounts_created_by_the_order_are_attached_to_the_operator(runtime, sample_order):
    # Given the sample order, most of whose participants are unknown to Moodle
    # When it is fulfilled
    document = fulfil(runtime, sample_order)

    # Then each created account is supervised by the operator in its user context, and nobody else's is
    operator_id = document["operator"]["moodle_user_id"]
    created = [p for p in document["participants"] if p["account"] == "created"]
    assert created and all(p["attached_to_operator"] for p in created)
    supervised = {
        a["instance_id"]
        for a in runtime.sandbox.state.role_assignments(contextlevel="user")
        if a["user_id"] == operator_id and a["role_id"] == TEACHER
    }
    assert supervised == {p["moodle_user_id"] for p in created}
    # and Moodle mailed each new account its generated password
    assert {m["to"].lower() for m in runtime.sandbox.outbox} >= {p["email"].lower() for p in created}


def test_existing_account_is_reused_and_not_attached_to_the_operator(runtime, sample_order):
    # Given a learner whose email is Alice's existing account, in another case
    sample_order["participants"]["learners"][0]["email"] = "ALICE@example.com"
    # When the order is fulfilled
    document = fulfil(runtime, sample_order)

    # Then Alice's account (id 3) is reused, enrolled, and not attached to the operator
    alice = by_email(document)["alice@example.com"]
    assert (alice["account"], alice["moodle_user_id"], alice["status"]) == ("reused", 3, "ENROLLED")
    assert alice["attached_to_operator"] is False
    assignments = runtime.sandbox.state.role_assignments(contextlevel="user")
    assert not [
        a for a in assignments if a["instance_id"] == 3 and a["user_id"] == document["operator"]["moodle_user_id"]
    ]


def test_ambiguous_email_ends_needs_review_with_the_candidates(runtime, sample_order):
    # Given a learner whose email belongs to two Moodle accounts (dup.one and dup.two)
    sample_order["participants"]["learners"][1]["email"] = "dup@example.com"
    users_before = len(runtime.sandbox.state.users())
    # When the order is fulfilled
    document = fulfil(runtime, sample_order)

    # Then that participant needs review, naming both accounts, nothing was guessed, and the order is PARTIAL
    participant = by_email(document)["dup@example.com"]
    assert participant["status"] == "NEEDS_REVIEW"
    assert "dup.one" in participant["reason"] and "dup.two" in participant["reason"]
    assert participant["moodle_user_id"] is None
    assert document["status"] == "PARTIAL"
    created = sum(1 for p in document["participants"] if p["account"] == "created")
    assert len(runtime.sandbox.state.users()) == users_before + created + (document["operator"]["account"] == "created")


def test_a_token_missing_a_function_fails_the_order_before_anything_is_created(runtime, sample_order):
    # Given a token whose service lacks the function that attaches new accounts to the operator
    runtime.sandbox.state.deny_function("core_role_assign_roles")
    users_before = len(runtime.sandbox.state.users())
    # When the order is fulfilled
    status, _ = runtime.submit_order(json.dumps(sample_order))
    assert status == 202
    runtime.wait_for_order(sample_order["order_id"], timeout=120)
    _, document = runtime.get_order(sample_order["order_id"])

    # Then it FAILED before any account or enrolment existed, saying which function to add and where
    assert document["status"] == "FAILED"
    reason = document["failure"]["reason"]
    assert "core_role_assign_roles (attach new accounts to the operator)" in reason
    assert "add core_role_assign_roles to the token's external service: Site administration > Server" in reason
    assert len(runtime.sandbox.state.users()) == users_before
    assert runtime.sandbox.state.enrolments(SPOCM1) == []


def test_a_token_that_loses_a_function_mid_order_fails_only_the_participants_it_concerns(runtime, sample_order):
    # Given an existing operator (Bob), an order whose session was prepared, and then a token that may no longer
    # create accounts
    sample_order["operator"].update(firstname="Bob", lastname="Durand", email="bob@example.com")
    order = OrderBody.model_validate(sample_order)
    services().store.record_order(order, order.body_sha256())
    runtime.lambdas.invoke_json("PrepareSessionFunction", {"order_id": order.order_id})
    runtime.sandbox.state.deny_function("core_user_create_users")
    # When its participants' batch and FinalizeSession run
    keys = [key for key, *_ in order.participants_with_keys()]
    runtime.lambdas.invoke_json("EnrolParticipantsFunction", {"order_id": order.order_id, "participant_keys": keys})
    runtime.lambdas.invoke_json("FinalizeSessionFunction", {"order_id": order.order_id})
    _, document = runtime.get_order(order.order_id)

    # Then Alice (existing) is enrolled, the unknown participants FAILED with Moodle's reason, and the order is PARTIAL
    outcomes = by_email(document)
    assert outcomes["alice@example.com"]["status"] == "ENROLLED"
    failed = [p for p in document["participants"] if p["status"] == "FAILED"]
    assert len(failed) == len(document["participants"]) - 1
    assert all("accessexception" in p["reason"] for p in failed)
    assert document["status"] == "PARTIAL"


def test_transient_moodle_faults_are_retried_to_success(sample_order):
    # Given a Moodle that answers 503 to a quarter of the calls
    with LocalRuntime(sandbox_fault_rate=0.25) as rt:
        # When the order is fulfilled
        document = fulfil(rt, sample_order)
        faults = rt.sandbox.state.faults_injected()

    # Then faults did happen, and were retried until the order COMPLETED
    assert faults > 0
    assert document["status"] == "COMPLETED"


def test_a_replayed_completed_order_answers_its_current_status(runtime, sample_order):
    # Given an order fulfilled since the shop first posted it (the first answer said RUNNING)
    assert fulfil(runtime, sample_order)["status"] == "COMPLETED"
    # When the shop posts it again
    status, answer = runtime.submit_order(json.dumps(sample_order))
    # Then the replay is answered with where the order is now, not the cached first answer
    assert (status, answer["status"]) == (202, "COMPLETED")


def test_replayed_order_and_rerun_workflow_duplicate_nothing(runtime, sample_order):
    # Given a fulfilled order
    first = fulfil(runtime, sample_order)
    state = runtime.sandbox.state
    before = (
        len(state.users()),
        len(state.enrolments(SPOCM1)),
        len(state.groups(SPOCM1)),
        len(state.role_assignments()),
    )

    # When the shop posts it again, and the whole workflow and one batch's task are run again
    status, answer = runtime.submit_order(json.dumps(sample_order))
    assert (status, answer["order_id"]) == (202, sample_order["order_id"])
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.start_execution(
        stateMachineArn=runtime.state_machine_arn,
        name=f"{sample_order['order_id']}-rerun",
        input=json.dumps({"order_id": sample_order["order_id"]}),
    )
    rerun = runtime.wait_for_order(f"{sample_order['order_id']}-rerun", timeout=300)
    runtime.lambdas.invoke_json(
        "EnrolParticipantsFunction",
        {"order_id": sample_order["order_id"], "participant_keys": ["learner-0002", "tutor-0001"]},
    )

    # Then no second account, enrolment, group or role assignment exists, and outcomes are unchanged
    assert rerun["status"] == "SUCCEEDED"
    after = (
        len(state.users()),
        len(state.enrolments(SPOCM1)),
        len(state.groups(SPOCM1)),
        len(state.role_assignments()),
    )
    assert after == before
    _, again = runtime.get_order(sample_order["order_id"])
    assert [(p["email"], p["account"], p["moodle_user_id"]) for p in again["participants"]] == [
        (p["email"], p["account"], p["moodle_user_id"]) for p in first["participants"]
    ]


def test_unknown_course_fails_the_order_and_creates_nothing(runtime, sample_order):
    # Given a product naming a course that does not exist
    sample_order["product"]["params"] = "coursename=NOPE&supervisor=teacher"
    users_before = len(runtime.sandbox.state.users())
    # When the order is fulfilled
    status, _ = runtime.submit_order(json.dumps(sample_order))
    assert status == 202
    description = runtime.wait_for_order(sample_order["order_id"], timeout=120)
    _, document = runtime.get_order(sample_order["order_id"])

    # Then the execution and the order FAILED, naming the course, and no account was created
    assert description["status"] == "FAILED"
    assert document["status"] == "FAILED"
    assert "NOPE" in document["failure"]["reason"]
    assert len(runtime.sandbox.state.users()) == users_before


def test_course_without_manual_enrolment_fails_before_any_account_exists(runtime, sample_order):
    # Given a product on NOMANUAL, whose manual enrolment method is disabled
    sample_order["product"]["params"] = "coursename=NOMANUAL"
    users_before = len(runtime.sandbox.state.users())
    # When the order is fulfilled
    runtime.submit_order(json.dumps(sample_order))
    runtime.wait_for_order(sample_order["order_id"], timeout=120)
    _, document = runtime.get_order(sample_order["order_id"])

    # Then the order FAILED with a message naming the course, and nothing was created
    assert document["status"] == "FAILED"
    assert "NOMANUAL" in document["failure"]["reason"]
    assert len(runtime.sandbox.state.users()) == users_before


def test_two_orders_naming_the_same_new_email_at_once_create_one_account(runtime, sample_order):
    # Given two orders that both name the same unknown person
    second = copy.deepcopy(sample_order)
    second["order_id"] = sample_order["order_id"] + "-B"
    shared = sample_order["participants"]["learners"][2]
    second["participants"] = {"learners": [dict(shared)], "tutors": []}
    second["seats"] = 1

    # When both are posted at the same moment
    documents = fulfil_at_once(runtime, (sample_order, second))

    # Then Moodle holds one account for that email, and both orders enrolled it
    matching = [u for u in runtime.sandbox.state.users() if u["email"].lower() == shared["email"].lower()]
    assert len(matching) == 1
    ids = {by_email(d)[shared["email"].lower()]["moodle_user_id"] for d in documents.values()}
    assert ids == {matching[0]["id"]}


def test_with_a_small_map_concurrency_participants_go_in_batches_and_all_end_enrolled(sample_order):
    # Given a Map that runs two items at once, so that each item holds a batch of participants
    with LocalRuntime(max_concurrency=2) as rt:
        # When the sample order (11 participants) is fulfilled
        document = fulfil(rt, sample_order)
        invocations = rt.lambdas.invocations["EnrolParticipantsFunction"]

    # Then fewer invocations than participants did the work, and every participant is enrolled once
    assert document["status"] == "COMPLETED"
    assert invocations == 2  # batches of at most ceil(11 / 2 slots) = 6
    assert [p["status"] for p in document["participants"]] == ["ENROLLED"] * 11
    assert len({p["moodle_user_id"] for p in document["participants"]}) == 11


def test_an_order_whose_participant_batches_cannot_be_read_ends_failed_not_running(runtime, sample_order, monkeypatch):
    # Given PrepareSession writes the batch manifest where the Map does not read it (another bucket)
    from seatflow.config import get_settings

    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="elsewhere", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    monkeypatch.setenv("MANIFEST_BUCKET", "elsewhere")
    get_settings.cache_clear()
    # When the order is fulfilled
    runtime.submit_order(json.dumps(sample_order))
    description = runtime.wait_for_order(sample_order["order_id"], timeout=120)
    _, document = runtime.get_order(sample_order["order_id"])

    # Then the Map's failure is recorded on the order, which ends FAILED with the cause, not RUNNING
    assert description["status"] == "FAILED"
    assert document["status"] == "FAILED"
    assert document["failure"]["error"].startswith("States.")
    assert runtime.lambdas.invocations["EnrolParticipantsFunction"] == 0
