"""What stops the workflow: the failures that fail a whole order, and the count of each Moodle refusal."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from seatflow.moodle import MoodleError
from seatflow.observability import publish_metric_alone


class SessionNotPossible(Exception):
    """The product cannot be provisioned (course, enrolment method, role): the whole order fails."""


class OperatorAccountAmbiguous(Exception):
    """The operator's email matches several Moodle accounts (or a suspended one): the order fails."""


def count_moodle_error(error: MoodleError) -> None:
    # A metric of its own: the errorcode dimension must not attach to the invocation's other metrics.
    errorcode = str(error.errorcode or error.exception or "unknown")[:64]
    publish_metric_alone("MoodleErrors", MetricUnit.Count, [1], errorcode=errorcode)
