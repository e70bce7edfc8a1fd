"""The recorded duplicate-username race (the last line of cases-batch.jsonl), provoked for real on the sandbox:
two core_user_create_users for one new username in flight at once, as the recorder's two threads sent them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from seatflow.moodle import DatabaseWriteError, MoodleClient, MoodlePermanentError

from seatflow_local.sandbox import Sandbox
from tests.contract.test_recorded_cases import load

# Long enough for both calls to be past their checks before either inserts, even on a busy machine.
LATENCY_MS = 200


def recorded_race() -> dict[str, Any]:
    return next(c for c in load("cases-batch.jsonl") if "not replayable in sequence" in c.get("note", ""))


def create(sandbox: Sandbox, start: threading.Barrier, user: dict[str, str]) -> Any:
    client = MoodleClient(sandbox.url, sandbox.token)
    start.wait()
    try:
        return client.call("core_user_create_users", {"users": [user]})
    except MoodlePermanentError as error:
        return error
    finally:
        client.close()


@pytest.mark.race
def test_two_concurrent_creates_of_one_new_username_make_one_account_and_answer_the_loser_dmlwriteexception(
    moodle_sandbox: Sandbox,
):
    # Given the recorded race's two users (one username, two emails), and calls slow enough to overlap
    race = recorded_race()
    username = race["params"]["users[0][username]"]
    users = [
        {"username": username, "firstname": "Race", "lastname": f"Side{n}", "email": f"{username}.{n}@b25.example"}
        for n in (1, 2)
    ]
    for user in users:
        user["createpassword"] = "1"
    moodle_sandbox.set_latency(LATENCY_MS)
    # When both creates are sent at once
    start = threading.Barrier(len(users))
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        answers = list(pool.map(lambda u: create(moodle_sandbox, start, u), users))
    # Then one gets its account, the other Moodle's answer to the loser of the race, word for word as recorded
    created = [a for a in answers if isinstance(a, list)]
    refused = [a for a in answers if isinstance(a, MoodlePermanentError)]
    assert len(created) == 1 and [a["username"] for a in created[0]] == [username]
    recorded = race["response"]
    assert [(e.exception, e.errorcode, e.message) for e in refused] == [
        (recorded["exception"], recorded["errorcode"], recorded["message"])
    ]
    assert isinstance(refused[0], DatabaseWriteError)  # which the account resolution takes for a possible race
    # And one account exists, the only one mailed
    assert [u["id"] for u in moodle_sandbox.state.users() if u["username"] == username] == [created[0][0]["id"]]
    assert [(m["username"], m["phantom"]) for m in moodle_sandbox.outbox] == [(username, False)]
