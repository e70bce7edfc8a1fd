"""What seatflow asks of Moodle when an order changes, against the sandbox: taken back, silently when repeated."""

from __future__ import annotations

from seatflow.moodle import (
    CourseRole,
    Enrolment,
    add_group_members,
    assign_course_roles,
    delete_groups,
    enrol_users,
    enrolled_roles,
    ensure_group,
    remove_group_members,
    unassign_course_roles,
    unenrol_users,
)

SPOCM1, STUDENT, TEACHER = 2, 5, 4


def test_who_was_enrolled_before_is_read_with_their_roles_in_one_call(moodle_client, moodle_sandbox):
    # Given Alice enrolled as a teacher, then given the student role without a second enrolment
    enrol_users(moodle_client, [Enrolment(course_id=SPOCM1, user_id=3, role_id=TEACHER)])
    assign_course_roles(moodle_client, [CourseRole(role_id=STUDENT, user_id=3, course_id=SPOCM1)])
    calls = moodle_sandbox.state.call_count()
    # When the course's enrolments are read
    roles = enrolled_roles(moodle_client, SPOCM1)
    # Then Alice holds both roles, and it took one call
    assert roles == {3: [TEACHER, STUDENT]}
    assert moodle_sandbox.state.call_count() == calls + 1


def test_roles_memberships_enrolments_and_groups_taken_back_twice_change_nothing_more(moodle_client, moodle_sandbox):
    # Given Alice and Bob enrolled with two roles, in a group
    enrol_users(moodle_client, [Enrolment(course_id=SPOCM1, user_id=u, role_id=STUDENT) for u in (3, 4)])
    assign_course_roles(moodle_client, [CourseRole(role_id=TEACHER, user_id=3, course_id=SPOCM1)])
    group, _ = ensure_group(moodle_client, SPOCM1, idnumber="O-1", name="O-1")
    add_group_members(moodle_client, group.id, [3, 4])
    # When, twice, Alice loses the teacher role and the group, Bob his enrolment, and the group (and an unknown one) go
    for _ in range(2):
        unassign_course_roles(moodle_client, [CourseRole(role_id=TEACHER, user_id=3, course_id=SPOCM1)])
        remove_group_members(moodle_client, group.id, [3])
        unenrol_users(moodle_client, [(4, SPOCM1)])
    delete_groups(moodle_client, [group.id, 999_999])
    # Then Alice is a student of the course, Bob is not enrolled, and no group is left
    state = moodle_sandbox.state
    assert [(e["user_id"], e["role_ids"]) for e in state.enrolments(SPOCM1)] == [(3, [STUDENT])]
    assert state.groups(SPOCM1) == []
