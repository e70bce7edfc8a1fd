"""POST /orders with the seed's other product parameters: a bad one is a 422 naming its key."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.aws import AwsWorld, load_event, sign_event, with_body


def post_with_params(call_api: Any, params: str, **changes: Any) -> Any:
    body = json.loads(load_event("api_post_order.json")["body"])
    body["product"]["params"] = params
    body.update(changes)
    return call_api(sign_event(with_body(load_event("api_post_order.json"), body)))


def test_each_bad_parameter_is_one_problem_naming_its_key(aws: AwsWorld, call_api: Any) -> None:
    # Given a product string with a bad duration, renewable, autoenrolsupervisor and requiredroles
    params = "coursename=SPOCM1&duration=0&renewable=2&autoenrolsupervisor=no&requiredroles=manager"
    # When the shop posts the order
    answer = post_with_params(call_api, params)
    # Then the one 422 names each key at product.params, and nothing was recorded
    assert answer.status == 422
    keys = [p["message"].split(":", 1)[0] for p in answer.body["problems"] if p["field"] == "product.params"]
    assert keys == ["duration", "renewable", "autoenrolsupervisor", "requiredroles"]
    assert aws.dynamodb.scan(TableName=aws.table_name)["Items"] == []


def test_tutors_for_a_product_that_takes_only_students_are_refused(aws: AwsWorld, call_api: Any) -> None:
    answer = post_with_params(call_api, "coursename=SPOCM1&requiredroles=student")
    assert answer.status == 422
    assert [p["field"] for p in answer.body["problems"]] == ["participants.tutors"]


def test_valid_parameters_are_accepted(aws: AwsWorld, call_api: Any) -> None:
    params = "coursename=SPOCM1&duration=30&renewable=1&autoenrolsupervisor=0&requiredroles=student,supervisor"
    assert post_with_params(call_api, params).status == 202
