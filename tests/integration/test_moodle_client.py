"""The Moodle client and operations against the sandbox, over HTTP (no mocks of our own code)."""

from __future__ import annotations

import pytest
from seatflow.moodle import (
    AccessDeniedError,
    Enrolment,
    InvalidTokenError,
    MoodleClient,
    MoodlePermanentError,
    MoodleTransientError,
    NewAccount,
    NoManualEnrolmentError,
    UserContextAssignment,
    add_group_members,
    assign_user_context_roles,
    create_accounts,
    enrol_users,
    ensure_group,
    find_accounts_by_email,
    find_accounts_by_emails,
    find_course_by_shortname,
    get_site_info,
    isolate_refusals,
)

SPOCM1, NOMANUAL = 2, 4
STUDENT, TEACHER = 5, 4


# --- finding accounts by email -------------------------------------------------------------------------


def test_email_lookup_ignores_case_of_query_and_of_stored_email(moodle_client):
    # Given Alice stored as alice@example.com and Erin as Erin.Mixed@Example.COM
    # When both are looked up with another case
    alice = find_accounts_by_email(moodle_client, " ALICE@Example.com ")
    erin = find_accounts_by_email(moodle_client, "erin.mixed@example.com")
    # Then each account is found
    assert [u.username for u in alice] == ["alice.martin"]
    assert [u.id for u in erin] == [8]


def test_email_lookup_neutralises_like_wildcards(moodle_client):
    # Given Moodle's email criterion treats _ and % as wildcards
    # When looking up addresses made of wildcards
    # Then nothing matches that is not exactly the address
    assert find_accounts_by_email(moodle_client, "alic_@example.com") == []
    assert find_accounts_by_email(moodle_client, "%@example.com") == []


def test_email_lookup_returns_every_account_sharing_the_email(moodle_client):
    # Given dup.one and dup.two share dup@example.com
    # When it is looked up
    users = find_accounts_by_email(moodle_client, "dup@example.com")
    # Then both are returned, so that the caller sees the ambiguity
    assert sorted(u.username for u in users) == ["dup.one", "dup.two"]


def test_email_lookup_shows_suspended_accounts(moodle_client):
    # Given carol.suspended is suspended
    # When her email is looked up
    [carol] = find_accounts_by_email(moodle_client, "carol@example.com")
    # Then she is returned, flagged as suspended
    assert (carol.id, carol.suspended) == (5, True)


def test_email_lookup_costs_one_moodle_call(moodle_client):
    # When an email is looked up
    find_accounts_by_email(moodle_client, "nobody@example.com")
    # Then one core_user_get_users call was made
    assert moodle_client.calls == {"core_user_get_users": 1}


# --- creating accounts ---------------------------------------------------------------------------------


def test_accounts_are_created_in_one_call_with_their_ids_in_request_order(moodle_client, moodle_sandbox):
    # When two accounts are created in one call
    users = create_accounts(
        moodle_client,
        [
            NewAccount("ana.lopez", "Ana", "Lopez", "ana@corp.example", city="Lyon", institution="ACME", phone="0102"),
            NewAccount("bo.berg", "Bo", "Berg", "bo@corp.example"),
        ],
    )
    # Then Moodle answers their ids in order, mails each a password, and keeps the profile fields
    assert [u.username for u in users] == ["ana.lopez", "bo.berg"] and users[0].id < users[1].id
    assert moodle_client.calls == {"core_user_create_users": 1}
    assert [m["to"] for m in moodle_sandbox.outbox] == ["ana@corp.example", "bo@corp.example"]
    stored = next(u for u in moodle_sandbox.state.users() if u["id"] == users[0].id)
    assert (stored["auth"], stored["city"], stored["institution"], stored["phone1"]) == (
        "manual",
        "Lyon",
        "ACME",
        "0102",
    )


def test_a_create_call_with_one_bad_account_creates_none(moodle_client, moodle_sandbox):
    users_before = len(moodle_sandbox.state.users())
    with pytest.raises(MoodlePermanentError) as caught:
        create_accounts(
            moodle_client,
            [NewAccount("ana.lopez", "Ana", "Lopez", "ana@corp.example"), NewAccount("bad", "B", "E", "not-an-email")],
        )
    assert caught.value.errorcode == "invalidparameter"
    assert len(moodle_sandbox.state.users()) == users_before


def test_a_busy_domain_is_looked_up_once_and_a_public_one_per_address(moodle_client):
    # Given three addresses of one company and three of a public mail provider
    emails = [f"p{i}@acme.example" for i in range(3)] + [f"p{i}@gmail.com" for i in range(3)]
    # When they are looked up
    found = find_accounts_by_emails(moodle_client, emails)
    # Then one call covers the company's domain and each public address has its own
    assert found == {e: [] for e in emails}
    assert moodle_client.calls == {"core_user_get_users": 1 + 3}


def test_a_domain_lookup_escapes_like_wildcards_in_the_domain(moodle_client):
    # Given example.com holds several accounts; exa_ple.com would match it as a LIKE pattern
    found = find_accounts_by_emails(moodle_client, [f"p{i}@exa_ple.com" for i in range(3)])
    assert all(users == [] for users in found.values())


# --- one bad item in an atomic call -------------------------------------------------------------------------


def test_a_refused_enrolment_call_is_split_until_the_bad_enrolment_stands_alone(moodle_client, moodle_sandbox):
    # Given five enrolments, the fourth of a user who does not exist
    users = [3, 4, 6, 999_999, 8]
    enrolments = [Enrolment(course_id=SPOCM1, user_id=u, role_id=STUDENT) for u in users]
    # When they are sent with refusals isolated
    refused = isolate_refusals(enrolments, lambda chunk: enrol_users(moodle_client, chunk))
    # Then only the fourth is refused, with Moodle's own answer, and the four others are enrolled
    assert list(refused) == [3] and refused[3].errorcode == "invaliduser"
    enrolled = {u["id"] for u in moodle_client.call("core_enrol_get_enrolled_users", {"courseid": SPOCM1})}
    assert {3, 4, 6, 8} <= enrolled
    assert moodle_client.calls["enrol_manual_enrol_users"] <= 1 + 2 * 3


# --- enrolments, roles, courses, groups -------------------------------------------------------------


def test_enrolment_keeps_its_dates_and_a_repeat_is_silent(moodle_client, moodle_sandbox):
    # Given an enrolment of Alice with session dates
    enrolment = Enrolment(course_id=SPOCM1, user_id=3, role_id=STUDENT, timestart=1767225600, timeend=1770249600)
    # When it is sent twice
    enrol_users(moodle_client, [enrolment])
    enrol_users(moodle_client, [enrolment])
    # Then Alice is enrolled once, as a student, with the dates
    assert moodle_sandbox.state.enrolments(SPOCM1) == [
        {
            "user_id": 3,
            "role_ids": [STUDENT],
            "timestart": 1767225600,
            "timeend": 1770249600,
            "suspended": False,
        }
    ]


def test_course_without_manual_enrolment_raises_no_manual_enrolment_error(moodle_client):
    # When someone is enrolled in NOMANUAL
    # Then the error says the manual instance is missing
    with pytest.raises(NoManualEnrolmentError):
        enrol_users(moodle_client, [Enrolment(course_id=NOMANUAL, user_id=3, role_id=STUDENT)])


def test_user_context_roles_are_assigned_in_one_call(moodle_client, moodle_sandbox):
    # When Bob becomes teacher over Alice's and Erin's user contexts
    assign_user_context_roles(
        moodle_client,
        [
            UserContextAssignment(role_id=TEACHER, user_id=4, context_user_id=3),
            UserContextAssignment(role_id=TEACHER, user_id=4, context_user_id=8),
        ],
    )
    # Then both assignments exist, made by one call
    assigned = {(a["user_id"], a["instance_id"]) for a in moodle_sandbox.state.role_assignments("user")}
    assert assigned == {(4, 3), (4, 8)}
    assert moodle_client.calls == {"core_role_assign_roles": 1}


def test_course_shortname_lookup_is_case_sensitive(moodle_client):
    # Then SPOCM1 is found and spocm1 is not
    course = find_course_by_shortname(moodle_client, "SPOCM1")
    assert course is not None and (course.id, course.startdate > 0) == (SPOCM1, True)
    assert find_course_by_shortname(moodle_client, "spocm1") is None


def test_ensure_group_creates_the_group_once(moodle_client, moodle_sandbox):
    # When the order's group is ensured twice
    first, created = ensure_group(moodle_client, SPOCM1, "ORDER-1", "Order 1")
    again, created_again = ensure_group(moodle_client, SPOCM1, "ORDER-1", "Order 1")
    # Then it was created the first time and found the second
    assert (created, created_again, first.id) == (True, False, again.id)
    assert len(moodle_sandbox.state.groups(SPOCM1)) == 1


def test_group_members_are_added_in_batches(moodle_client, moodle_sandbox):
    # Given five users enrolled in SPOCM1 and the order's group
    users = [3, 4, 5, 6, 7]
    enrol_users(moodle_client, [Enrolment(course_id=SPOCM1, user_id=u, role_id=STUDENT) for u in users])
    group, _ = ensure_group(moodle_client, SPOCM1, "ORDER-2", "Order 2")
    # When they are added with batches of two
    calls = add_group_members(moodle_client, group.id, users, batch_size=2)
    # Then three calls added all five
    assert calls == 3 == moodle_client.calls["core_group_add_group_members"]
    assert moodle_sandbox.state.group_members(group.id) == users


def test_site_info_lists_the_service_functions(moodle_client):
    info = get_site_info(moodle_client)
    assert (info.userid, "core_user_get_users" in info.functions) == (2, True)


# --- error classification ------------------------------------------------------------------------------


def test_invalid_token_raises_invalid_token_error_that_never_shows_the_token(moodle_sandbox):
    # Given a client with a wrong token
    token = "secret-token-0123456789"
    client = MoodleClient(moodle_sandbox.url, token)
    # When it calls Moodle
    with pytest.raises(InvalidTokenError) as caught:
        get_site_info(client)
    # Then the error is an invalid token, and the token appears nowhere
    error = caught.value
    assert error.errorcode == "invalidtoken"
    assert token not in f"{error} {error!r} {error.to_dict()} {client!r}"


def test_http_503_is_transient(moodle_client, moodle_sandbox):
    moodle_sandbox.set_fault_rate(1.0, "503")
    with pytest.raises(MoodleTransientError) as caught:
        get_site_info(moodle_client)
    assert caught.value.reason == "http503"
    assert type(caught.value).__name__ == "MoodleTransientError"


def test_a_hanging_moodle_is_a_transient_timeout(moodle_sandbox):
    # Given a Moodle that does not answer, and a client with a short read timeout
    moodle_sandbox.hang_seconds = 2
    moodle_sandbox.set_fault_rate(1.0, "hang")
    client = MoodleClient(moodle_sandbox.url, moodle_sandbox.token, timeout=(1.0, 0.3))
    # When it calls Moodle
    # Then the timeout is transient
    with pytest.raises(MoodleTransientError) as caught:
        get_site_info(client)
    assert caught.value.reason == "timeout"


def test_an_html_page_is_transient(moodle_client, moodle_sandbox):
    moodle_sandbox.set_fault_rate(1.0, "html")
    with pytest.raises(MoodleTransientError) as caught:
        get_site_info(moodle_client)
    assert caught.value.reason == "not-json"


def test_maintenance_mode_is_transient(moodle_client, moodle_sandbox):
    moodle_sandbox.set_maintenance(True)
    with pytest.raises(MoodleTransientError) as caught:
        get_site_info(moodle_client)
    assert caught.value.errorcode == "sitemaintenance"


def test_unreachable_moodle_is_transient():
    client = MoodleClient("http://127.0.0.1:9", "token", timeout=(0.5, 0.5))
    with pytest.raises(MoodleTransientError) as caught:
        get_site_info(client)
    assert caught.value.reason == "connection"


def test_function_outside_the_service_raises_access_denied(moodle_client, moodle_sandbox):
    moodle_sandbox.state.deny_function("core_user_create_users")
    with pytest.raises(AccessDeniedError):
        create_accounts(moodle_client, [NewAccount("no.access", "No", "Access", "no.access@example.com")])


def test_php_error_without_errorcode_is_permanent(moodle_client):
    # When Moodle 4.5 fails with a PHP Error (ids with one unknown course)
    with pytest.raises(MoodlePermanentError) as caught:
        moodle_client.call("core_course_get_courses_by_field", {"field": "ids", "value": "2,999999"})
    # Then the error is permanent, without errorcode
    assert (caught.value.exception, caught.value.errorcode) == ("Error", None)
    assert "core_course_get_courses_by_field" in str(caught.value)


def test_a_proxy_in_the_environment_is_read_once_when_the_client_is_made(monkeypatch):
    # Given a proxy for HTTPS in the environment
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # When a client is made
    client = MoodleClient("https://moodle.example", "token")
    # Then it goes through the proxy, and does not read the environment again on each call
    assert client.session.proxies["https"] == "http://proxy.example:3128"
    assert client.session.trust_env is False


def test_a_domain_whose_answer_is_too_big_is_looked_up_per_address_afterwards(moodle_client, monkeypatch):
    # Given a limit of 2 accounts per domain answer, and example.com holding more
    from seatflow.moodle import users

    monkeypatch.setattr(users, "DOMAIN_ANSWER_MAX", 2)
    monkeypatch.setattr(users, "_big_domains", set())
    emails = ["alice@example.com", "bob@example.com", "nobody@example.com"]
    # When a batch looks three of its addresses up, then the next batch does the same
    first = find_accounts_by_emails(moodle_client, emails)
    calls_after_first = moodle_client.calls["core_user_get_users"]
    second = find_accounts_by_emails(moodle_client, emails)
    # Then the first used one domain call, the second one call per address, with the same answer
    assert calls_after_first == 1
    assert moodle_client.calls["core_user_get_users"] - calls_after_first == 3
    assert first == second and [u.username for u in first["alice@example.com"]] == ["alice.martin"]
