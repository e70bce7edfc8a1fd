"""The workflow's rules: prepare the session, enrol the participants, finalise the session.

Every step is safe to re-run: Moodle is silent on repeated enrolments, role assignments and memberships,
groups are found by idnumber before being created, and account creation is guarded by a claim in DynamoDB.
"""

from .batching import BATCHES_PER_SLOT, plan_batches
from .delegation import attach_to_operator, user_context_warnings
from .enrol import enrol_batch, enrol_participants
from .errors import OperatorAccountAmbiguous, SessionNotPossible
from .finalize import finalize_session
from .prepare import prepare_session
from .probes import PROBE_USER_ID, role_assignable_in_user_context
from .services import Services, services

__all__ = [
    "BATCHES_PER_SLOT",
    "PROBE_USER_ID",
    "OperatorAccountAmbiguous",
    "Services",
    "SessionNotPossible",
    "attach_to_operator",
    "enrol_batch",
    "enrol_participants",
    "finalize_session",
    "plan_batches",
    "prepare_session",
    "role_assignable_in_user_context",
    "services",
    "user_context_warnings",
]
