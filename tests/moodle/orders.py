"""Orders for the peer's scenarios, run the way `seatflow run` runs them, and the checks every scenario shares.

`fulfil` posts the order to the local runtime's order endpoint, waits for its execution and reads the order's
report: the three public steps of `seatflow run`. `problems_on_moodle` compares that report with Moodle's
database and mails and lists every disagreement, so a failing scenario says all that is wrong at once.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.moodle.moodle_db import MoodleDb

EVENTS = Path(__file__).resolve().parents[2] / "events"
COURSE = "SPOCM1"
START = 1767225600  # the session's dates, as the product's params give them
END = START + 35 * 86400
PARAMS = f"coursename={COURSE}&supervisor=teacher&starttime={START}&endtime=+35D"
BOB = {"firstname": "Bob", "lastname": "Durand", "email": "bob@example.com"}  # an operator the fixture holds
ROLE_IN_COURSE = {"learner": "student", "tutor": "teacher"}
MOODLE_USERNAME = re.compile(r"[a-z0-9_.@-]{1,100}")
NUMBERED_USER = re.compile(r"user\d*")  # what a name without Latin letters collapsed to


def person(firstname: str, lastname: str, email: str) -> dict[str, str]:
    return {"firstname": firstname, "lastname": lastname, "email": email}


def make_order(
    order_id: str, learners: list[dict[str, str]], tutors: Iterable[dict[str, str]] = (), operator: Any = None
) -> dict[str, Any]:
    tutors = list(tutors)
    return {
        "order_id": order_id,
        "operator": dict(operator or BOB),
        "product": {"code": "SPOC-M1-SESSION", "params": PARAMS},
        "seats": len(learners) + len(tutors),
        "participants": {"learners": learners, "tutors": tutors},
    }


def new_learners(count: int, tag: str, domain: str = "peer.example") -> list[dict[str, str]]:
    """`count` people unknown to the fixture, with distinct Latin names: Learner Tag007 <learner.tag007@...>."""
    return [person("Learner", f"{tag}{i:03d}", f"learner.{tag.lower()}{i:03d}@{domain}") for i in range(count)]


def sample_order() -> dict[str, Any]:
    return json.loads((EVENTS / "order_spocm1.json").read_text(encoding="utf-8"))


def fulfil(runtime: Any, order: dict[str, Any], timeout: float = 1200.0) -> dict[str, Any]:
    status, answer = runtime.submit_order(json.dumps(order, ensure_ascii=False))
    assert status == 202, answer
    runtime.wait_for_order(order["order_id"], timeout=timeout)
    status, document = runtime.get_order(order["order_id"])
    assert status == 200, document
    return document


def fulfil_at_once(runtime: Any, orders: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Posts the orders from one thread each, at the same moment; their executions then run side by side."""
    documents: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(orders))

    def post(order: dict[str, Any]) -> None:
        try:
            start.wait()
            documents[order["order_id"]] = fulfil(runtime, order)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return documents


def by_email(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["email"].lower(): p for p in document["participants"]}


def outcome_summary(document: dict[str, Any]) -> str:
    lines = [f"order {document['order_id']}: {document['status']} {document.get('counts')}"]
    for p in document["participants"]:
        if p["status"] != "ENROLLED":
            lines.append(f"  {p['email']}: {p['status']} ({p.get('reason')})")
    return "\n".join(lines[:15])


def problems_on_moodle(db: MoodleDb, documents: list[dict[str, Any]], *, needs_review: Iterable[str] = ()) -> list[str]:
    """Everything that disagrees with "every participant (but `needs_review`) is ENROLLED in the course with the
    session's dates and its role, in its order's group, on exactly one account per email, with a readable
    username; each account the orders created got exactly one "New user account" mail, and nobody else did"."""
    review = {e.lower() for e in needs_review}
    problems: list[str] = []
    enrolments = db.enrolments(COURSE)
    accounts = db.account_count_by_email()
    mails = db.new_account_mails()
    created: set[str] = set()
    for document in documents:
        members = db.group_members(document["order_id"])
        operator = document["operator"]
        if operator.get("account") == "created":
            created.add(operator["email"].lower())
        if operator["email"].lower() not in members:
            problems.append(f"{document['order_id']}: operator {operator['email']} not in the order's group")
        for p in document["participants"]:
            email = p["email"].lower()
            if email in review:
                if p["status"] != "NEEDS_REVIEW":
                    problems.append(f"{email}: {p['status']}, expected NEEDS_REVIEW")
                continue
            if p["status"] != "ENROLLED":
                problems.append(f"{email}: {p['status']} ({p.get('reason')})")
            if p.get("account") == "created":
                created.add(email)
            if accounts[email] != 1:
                problems.append(f"{email}: {accounts[email]} Moodle accounts")
            found = db.accounts_by_email(email)
            if len(found) == 1 and p.get("moodle_user_id") not in (None, found[0].id):
                problems.append(f"{email}: report says user {p['moodle_user_id']}, Moodle holds {found[0].id}")
            enrolment = enrolments.get(email)
            if enrolment is None:
                problems.append(f"{email}: not enrolled in {COURSE}")
            else:
                if (enrolment.timestart, enrolment.timeend) != (START, END):
                    problems.append(f"{email}: enrolled {enrolment.timestart}-{enrolment.timeend}, not {START}-{END}")
                if ROLE_IN_COURSE[p["role"]] not in enrolment.roles:
                    problems.append(f"{email}: roles {sorted(enrolment.roles)} lack {ROLE_IN_COURSE[p['role']]}")
            if email not in members:
                problems.append(f"{email}: not in group {document['order_id']}")
    for email in sorted(created):
        for account in db.accounts_by_email(email):
            if not MOODLE_USERNAME.fullmatch(account.username) or NUMBERED_USER.fullmatch(account.username):
                problems.append(f"{email}: username {account.username!r} is not a readable one")
        if mails[email] != 1:
            problems.append(f"{email}: {mails[email]} 'New user account' mails, expected 1")
    for email, count in sorted(mails.items()):
        if email not in created:
            problems.append(f"{email}: {count} 'New user account' mail(s) for an account no order created")
    return problems


def report(problems: list[str], documents: Iterable[dict[str, Any]], limit: int = 25) -> str:
    shown = problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])
    return "\n".join([f"{len(problems)} problem(s) on Moodle:", *shown, *map(outcome_summary, documents)])
