"""Personal data: POST /erasures erases one person from every record, keeping what exactly-once needs; an
order's expired retention item erases that order's; each accepted order gets its retention item."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest
from seatflow.models.personal import email_hash
from seatflow.store import ClaimRequest, OrderStore

from tests.fixtures.aws import AwsWorld, FakeLambdaContext, get_event, load_event, sign_event, with_body

ROOT = Path(__file__).resolve().parents[2]
ORDER_ID = "SHOP-2026-0001"
JEAN = "jean.dupont@acme-training.example"
OPERATOR = "claire.bernard@acme-training.example"
DAY = 86_400


def sample_body(order_id: str = ORDER_ID) -> dict[str, Any]:
    body = json.loads(load_event("api_post_order.json")["body"])
    body["order_id"] = order_id
    return body


def accept(call_api: Any, store: OrderStore, body: dict[str, Any], *, status: str = "COMPLETED") -> None:
    """The order posted, then fulfilled: its participants enrolled (Moodle ids 100+position), order at rest."""
    assert call_api(sign_event(with_body(load_event("api_post_order.json"), body))).status == 202
    for participant in store.list_participants(body["order_id"]):
        store.save_participant_outcome(
            participant,
            status="ENROLLED",
            account="created",
            moodle_user_id=100 + participant.position,
            username=f"user{participant.position}",
            role_shortname="student",
            role_id=5,
            attached_to_operator=True,
        )
    if status != "RUNNING":
        store.save_session(body["order_id"], {"course_id": 2, "timestart": 1767225600, "timeend": 1770249600})
        store.finish_order(body["order_id"], status=status, counts={}, group=None, warnings=None, failure=None)  # type: ignore[arg-type]


def erase(call_api: Any, email: str = JEAN) -> Any:
    return call_api(sign_event(with_body(load_event("api_post_erasure.json"), {"email": email})))


def report(call_api: Any, order_id: str = ORDER_ID) -> dict[str, Any]:
    answer = call_api(sign_event(get_event(order_id)))
    assert answer.status == 200
    return dict(answer.body)


def by_key(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["participant_key"]: p for p in document["participants"]}


def table_items(aws: AwsWorld) -> list[dict[str, Any]]:
    return sorted(aws.dynamodb.scan(TableName=aws.table_name)["Items"], key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


# -- POST /erasures ---------------------------------------------------------------------------------------------
def test_an_erasure_removes_the_persons_data_from_every_order_and_keeps_ids_and_statuses(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given Jean, a learner of two completed orders (in another case in the second)
    accept(call_api, store, sample_body())
    second = sample_body("SHOP-2026-0002")
    second["participants"]["learners"][1]["email"] = "Jean.Dupont@ACME-training.example"
    accept(call_api, store, second)
    # When the shop asks seatflow to forget Jean
    answer = erase(call_api, f"  {JEAN.upper()} ")
    # Then both participant records were erased, and nothing else
    assert answer.status == 200
    assert answer.body == {"erased": 2, "participants": 2, "operators": 0, "account_claims": 0}
    for order_id in (ORDER_ID, "SHOP-2026-0002"):
        jean = by_key(report(call_api, order_id))["learner-0002"]
        assert (jean["firstname"], jean["lastname"], jean["email"], jean["username"]) == ("", "", "", None)
        assert jean["erased_at"] is not None
        # what exactly-once needs stays: the key, the status, the Moodle id
        assert (jean["status"], jean["moodle_user_id"], jean["account"]) == ("ENROLLED", 102, "created")
        # and the other people of the order keep theirs
        assert by_key(report(call_api, order_id))["learner-0003"]["email"] == "zoe.lefevre@acme-training.example"
    # and no item of the table holds Jean's email any more, in any case
    assert "jean.dupont@acme-training.example" not in json.dumps(table_items(aws)).lower()


def test_an_erasure_asked_again_gives_the_same_answer_and_changes_nothing(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given Jean erased once
    accept(call_api, store, sample_body())
    first = erase(call_api)
    items = table_items(aws)
    time.sleep(1.1)  # a second erasure writing anything would stamp another erased_at
    # When the shop sends the same request again
    again = erase(call_api)
    # Then the answer is the same, and not one item changed
    assert (again.status, again.body) == (first.status, first.body)
    assert table_items(aws) == items


def test_an_erased_operator_leaves_the_order_with_its_ids_and_statuses(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given Claire's completed order, whose session noted her username
    accept(call_api, store, sample_body())
    store.save_session(ORDER_ID, {"course_id": 2, "operator_user_id": 42, "operator_username": "claire.bernard"})
    store.finish_order(ORDER_ID, status="COMPLETED", counts={"enrolled": 11}, group=None, warnings=None, failure=None)
    # When Claire is erased
    answer = erase(call_api, OPERATOR)
    # Then her order holds none of her data, and still says what was done
    assert answer.body["operators"] == 1
    document = report(call_api)
    operator = document["operator"]
    assert (operator["firstname"], operator["email"], operator["username"]) == ("", "", None)
    assert (operator["moodle_user_id"], operator["erased_at"] is not None) == (42, True)
    assert (document["status"], document["counts"]["enrolled"]) == ("COMPLETED", 11)
    assert "claire" not in json.dumps(table_items(aws)).lower()


def test_an_erasure_turns_the_account_claim_into_a_claim_of_the_emails_hash(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given the account seatflow created for Jean (claim CREATED, Moodle user 102)
    accept(call_api, store, sample_body())
    [claim] = store.claim_accounts([ClaimRequest(JEAN, ORDER_ID, "learner-0002", "jean.dupont")]).values()
    store.complete_account_claims([(claim, 102, "jean.dupont")])
    # When Jean is erased
    assert erase(call_api).body["account_claims"] == 1
    # Then the claim keyed by the email is gone, and the one keyed by its hash says which order created which account
    assert store.get_account_claim(JEAN) is None
    key = {"PK": {"S": f"ACCOUNT-ERASED#{email_hash(JEAN)}"}, "SK": {"S": f"CLAIM#{ORDER_ID}#learner-0002"}}
    kept = aws.dynamodb.get_item(TableName=aws.table_name, Key=key)["Item"]
    assert (kept["moodle_user_id"]["N"], kept["order_id"]["S"], kept["state"]["S"]) == ("102", ORDER_ID, "CREATED")
    assert "username" not in kept and "email_norm" not in kept


def test_an_erasure_waits_while_an_order_of_the_person_is_being_fulfilled(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given Jean in an order still RUNNING
    accept(call_api, store, sample_body(), status="RUNNING")
    # When Jean is erased
    answer = erase(call_api)
    # Then seatflow answers 409 with Retry-After, naming the order, and erased nothing
    assert (answer.status, answer.body["error"]) == (409, "erasure_postponed")
    assert ORDER_ID in answer.body["message"] and int(answer.headers["Retry-After"]) > 0
    assert by_key(report(call_api))["learner-0002"]["email"] == JEAN


def test_an_erasure_waits_while_the_persons_account_is_being_created(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given another order creating Jean's account right now (claim CREATING, fresh)
    store.claim_accounts([ClaimRequest(JEAN, "SHOP-OTHER", "learner-0001", "jean.dupont")])
    # When Jean is erased, Then seatflow answers 409: that order needs the email for a moment more
    answer = erase(call_api)
    assert (answer.status, answer.body["error"]) == (409, "erasure_postponed")
    assert store.get_account_claim(JEAN) is not None


def test_an_unsigned_or_malformed_erasure_is_refused(aws: AwsWorld, call_api: Any) -> None:
    # Given an erasure without a signature, and one whose email is not an address
    unsigned = with_body(load_event("api_post_erasure.json"), {"email": JEAN})
    malformed = sign_event(with_body(load_event("api_post_erasure.json"), {"email": "jean"}))
    # Then the first is 401 and the second 422, naming the field
    assert call_api(unsigned).status == 401
    refused = call_api(malformed)
    assert refused.status == 422
    assert [p["field"] for p in refused.body["problems"]] == ["email"]


# -- retention --------------------------------------------------------------------------------------------------
def retention_item(aws: AwsWorld, order_id: str = ORDER_ID) -> dict[str, Any] | None:
    key = {"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "RETENTION"}}
    return aws.dynamodb.get_item(TableName=aws.table_name, Key=key).get("Item")


def test_an_accepted_order_keeps_its_personal_data_retention_days_until_its_session_is_known(
    aws: AwsWorld, call_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seatflow.config import get_settings

    # Given a stack whose RetentionDays is 30
    monkeypatch.setenv("RETENTION_DAYS", "30")
    get_settings.cache_clear()
    # When an order is accepted
    before = int(time.time())
    assert call_api(sign_event(load_event("api_post_order.json"))).status == 202
    # Then its retention item expires 30 days from now (TTL attribute `expiration`)
    expiration = int(retention_item(aws)["expiration"]["N"])  # type: ignore[index]
    assert before + 30 * DAY <= expiration <= int(time.time()) + 30 * DAY


def load_expiry_handler() -> Any:
    path = ROOT / "functions" / "expire_personal_data" / "app.py"
    spec = importlib.util.spec_from_file_location("seatflow_expire_personal_data_app", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_expired_retention_item_erases_the_order_and_the_claims_it_made_only(
    aws: AwsWorld, call_api: Any, store: OrderStore
) -> None:
    # Given two completed orders naming Jean; the first created Jean's account, the second Zoé's
    accept(call_api, store, sample_body())
    accept(call_api, store, sample_body("SHOP-2026-0002"))
    requests = [
        ClaimRequest(JEAN, ORDER_ID, "learner-0002", "jean.dupont"),
        ClaimRequest("zoe.lefevre@acme-training.example", "SHOP-2026-0002", "learner-0003", "zoe.lefevre"),
    ]
    store.complete_account_claims(
        [(c, 100 + n, c.username or "") for n, c in enumerate(store.claim_accounts(requests).values())]
    )
    # When TTL deletes the first order's retention item and the stream hands the deletion to the function
    event = load_event("ddb_stream_retention_expired.json")
    answer = load_expiry_handler().lambda_handler(copy.deepcopy(event), FakeLambdaContext())
    # Then the first order holds no personal data, and the claim it made is erased
    assert answer == {"batchItemFailures": []}
    first = report(call_api)
    assert {p["email"] for p in first["participants"]} == {""}
    assert first["operator"]["email"] == ""
    assert store.get_account_claim(JEAN) is None
    # while the second order, and the claim it made, keep theirs until their own retention ends
    assert by_key(report(call_api, "SHOP-2026-0002"))["learner-0002"]["email"] == JEAN
    assert store.get_account_claim("zoe.lefevre@acme-training.example") is not None
