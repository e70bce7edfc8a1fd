"""The lifecycle's rules without AWS or Moodle: what a change leaves to each participant, the enrolment that covers
several orders' grants, an amendment's rules, the executions' names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seatflow.lifecycle.ledger import roles_needed, span
from seatflow.lifecycle.plans import plan_amendment, plan_cancellation, plan_retry
from seatflow.lifecycle.requests import AmendedOrderBody, amendment_problems, dates_changed, execution_name
from seatflow.models.lifecycle import EnrolmentLedger, Grant
from seatflow.models.order import OrderBody, OrderItem, ParticipantItem, StoredProduct

EVENTS = Path(__file__).resolve().parents[2] / "events"
ORDER = json.loads((EVENTS / "order_spocm1.json").read_text())


def stored(key: str, email: str, status: str = "ENROLLED", role: str = "learner", **fields: Any) -> ParticipantItem:
    return ParticipantItem(
        order_id="O",
        participant_key=key,
        role=role,  # type: ignore[arg-type]
        position=fields.pop("position", 1),
        firstname="F",
        lastname="L",
        email=email,
        email_norm=email.lower(),
        status=status,  # type: ignore[arg-type]
        moodle_user_id=fields.pop("moodle_user_id", 10 if status == "ENROLLED" else None),
        **fields,
    )


def body(learners: list[str], tutors: list[str] = (), **changes: Any) -> AmendedOrderBody:  # type: ignore[assignment]
    people = {
        r: [{"firstname": "F", "lastname": "L", "email": e} for e in v]
        for r, v in (("learners", learners), ("tutors", tutors))
    }
    data = {**ORDER, "revision": 2, "seats": len(learners) + len(tutors), "participants": people, **changes}
    return AmendedOrderBody.model_validate(data)


def test_an_amendment_keys_participants_by_email_and_says_what_each_one_needs():
    # Given a, b, c enrolled (c a learner) and d removed earlier
    participants = [
        stored("learner-0001", "a@x.example"),
        stored("learner-0002", "B@x.example"),
        stored("learner-0003", "c@x.example"),
        stored("learner-0004", "d@x.example", status="REMOVED"),
    ]
    # When revision 2 keeps a, drops b, makes c a tutor, brings d back and adds e (email case does not matter)
    writes, counts = plan_amendment(
        "O", participants, body(["a@x.example", "D@x.example", "e@x.example"], ["c@x.example"]), dates_changed=False
    )
    # Then b is to withdraw, c to switch, d and e to provision (e under the next learner key), a untouched
    by_key = {p.participant_key: p for p in writes}
    assert by_key["learner-0002"].todo == "withdraw"
    assert (by_key["learner-0003"].todo, by_key["learner-0003"].role) == ("switch", "tutor")
    assert (by_key["learner-0004"].status, by_key["learner-0004"].moodle_user_id) == ("PENDING", None)
    assert (by_key["learner-0005"].status, by_key["learner-0005"].email) == ("PENDING", "e@x.example")
    assert "learner-0001" not in by_key
    assert counts == {"removed": 1, "switched": 1, "added": 2}


def test_moved_dates_redate_every_enrolled_participant_and_applying_twice_writes_nothing_new():
    participants = [
        stored("learner-0001", "a@x.example"),
        stored("learner-0002", "b@x.example", status="NEEDS_REVIEW", position=2),
    ]
    writes, counts = plan_amendment("O", participants, body(["a@x.example", "b@x.example"]), dates_changed=True)
    assert [(p.participant_key, p.todo) for p in writes] == [("learner-0001", "redate")]
    again, _ = plan_amendment("O", writes + participants[1:], body(["a@x.example", "b@x.example"]), dates_changed=True)
    assert again == []


def test_a_retry_runs_again_those_in_review_or_failed_and_resumes_unfinished_work():
    participants = [
        stored("learner-0001", "a@x.example"),
        stored("learner-0002", "b@x.example", status="NEEDS_REVIEW", reason="ambiguous"),
        stored("learner-0003", "c@x.example", status="FAILED", todo="withdraw", moodle_user_id=12),
        stored("learner-0004", "d@x.example", status="REMOVED"),
    ]
    writes, counts = plan_retry(participants, cancelling=False)
    assert [(p.participant_key, p.status, p.todo, p.reason) for p in writes] == [
        ("learner-0002", "PENDING", None, None),
        ("learner-0003", "FAILED", "withdraw", None),
    ]
    assert counts == {"retried": 2}


def test_a_cancellation_withdraws_everyone_not_removed_yet():
    participants = [stored("learner-0001", "a@x.example"), stored("learner-0002", "b@x.example", status="REMOVED")]
    writes, counts = plan_cancellation(participants)
    assert [(p.participant_key, p.todo) for p in writes] == [("learner-0001", "withdraw")]
    assert counts == {"to_remove": 1}


def grant(order: str, start: int, end: int, roles: list[int] | None = None) -> Grant:
    return Grant(order_id=order, holder="learner-0001", roles=roles or [5], timestart=start, timeend=end)


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        ([grant("A", 100, 200), grant("B", 150, 300)], (100, 300)),
        ([grant("A", 100, 200), grant("B", 50, 0)], (50, 0)),  # no end wins
        ([], (0, 0)),
    ],
)
def test_the_enrolment_spans_every_grant_standing(grants, expected):
    assert span(grants) == expected


def test_roles_still_needed_include_those_held_before_seatflow():
    ledger = EnrolmentLedger(user_id=3, course_id=2, external=True, roles_before=[4])
    assert roles_needed(ledger, [grant("B", 0, 0, [5])]) == {4, 5}
    assert roles_needed(ledger.model_copy(update={"external": False}), []) == set()


def order_item() -> OrderItem:
    order = OrderBody.model_validate(ORDER)
    return OrderItem(
        order_id=order.order_id,
        status="COMPLETED",
        body_sha256=order.body_sha256(),
        operator=order.operator,
        product=StoredProduct(
            code=order.product.code,
            params=order.product.params,
            parsed=order.product.parsed.model_dump(mode="json", exclude_none=True),
        ),
        seats=order.seats,
        received_at=0,
    )


def test_an_amendment_may_move_the_dates_but_not_the_course():
    item = order_item()
    moved = {
        "code": ORDER["product"]["code"],
        "params": "coursename=SPOCM1&supervisor=teacher&starttime=1767830400&endtime=+42D&customersupport=SUPPORT",
    }
    assert amendment_problems(item, body(["a@x.example"], product=moved), order_id=item.order_id, seats_before=1) == []
    assert dates_changed(
        item.product.parsed,
        body(["a@x.example"], product=moved).product.parsed.model_dump(mode="json", exclude_none=True),
    )
    other = {"code": ORDER["product"]["code"], "params": "coursename=SUPPORT"}
    [problem] = amendment_problems(item, body(["a@x.example"], product=other), order_id=item.order_id, seats_before=1)
    assert problem.field == "product"


def test_the_same_email_twice_is_refused_in_an_amendment_too():
    item = order_item()
    problems = amendment_problems(item, body(["a@x.example"], ["A@X.example"]), order_id=item.order_id, seats_before=1)
    assert [p.field for p in problems] == ["participants.tutors[0].email"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("created", "SHOP-1"), ("amended", "SHOP-1--r12"), ("retried", "SHOP-1--retry3"), ("cancelled", "SHOP-1--cancel")],
)
def test_each_change_runs_in_an_execution_named_after_the_order_and_the_change(kind, expected):
    assert execution_name("SHOP-1", kind, revision=12, retry=3) == expected


def test_execution_names_fit_in_80_characters_for_the_longest_order_id():
    assert len(execution_name("X" * 64, "retried", revision=2, retry=999)) <= 80
