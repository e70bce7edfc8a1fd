"""MoodleClient: POSTs to Moodle's REST server, encodes PHP-style arrays, classifies errors.

No automatic retries: Step Functions retries transient errors (``MoodleTransientError``), and several
Moodle calls are not idempotent. One pooled ``requests.Session`` per client, safe to share between
threads (the workflow calls Moodle concurrently). Each call's time goes to ``latency.call_latencies``.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .errors import DatabaseWriteError, MoodlePermanentError, MoodleTransientError, error_from_envelope
from .latency import call_latencies

logger = logging.getLogger("seatflow.moodle")

REST_PATH = "/webservice/rest/server.php"
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 20.0)
POOL_SIZE = 50


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Flatten nested dicts/lists the way PHP reads form fields: ``users[0][username]=...``.

    Booleans become "1"/"0"; ``None`` values are left out (Moodle then applies its default).
    """
    fields: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, Mapping):
            for key, item in value.items():
                add(f"{name}[{key}]", item)
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                add(f"{name}[{index}]", item)
        elif isinstance(value, bool):
            fields.append((name, "1" if value else "0"))
        else:
            fields.append((name, str(value)))

    for key, value in (params or {}).items():
        add(str(key), value)
    return fields


# Moodle answers these the same when they are repeated (reads; enrolments, role assignments and group
# memberships are silent when already there, as the recordings show), so a blip may be retried in the client.
REPEATABLE_FUNCTIONS = frozenset(
    {
        "core_webservice_get_site_info",
        "core_user_get_users",
        "core_user_get_users_by_field",
        "core_course_get_courses_by_field",
        "core_group_get_course_groups",
        "core_group_get_group_members",
        "core_enrol_get_enrolled_users",
        "enrol_manual_enrol_users",
        "core_role_assign_roles",
        "core_group_add_group_members",
        "enrol_manual_unenrol_users",
        "core_role_unassign_roles",
        "core_group_delete_group_members",
        "core_group_delete_groups",
    }
)
TRANSIENT_ATTEMPTS = 3
TRANSIENT_BASE_DELAY = 0.1


class MoodleClient:
    """A thin, thread-safe client of Moodle's REST web services."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("MoodleClient needs a base URL (MOODLE_URL)")
        self.base_url = base_url.rstrip("/")
        self.endpoint = self.base_url + REST_PATH
        self._token = token
        self.timeout = timeout
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _read_environment_once(session, self.endpoint)
        self.session = session

    @classmethod
    def from_settings(cls) -> MoodleClient:
        from seatflow.config import get_settings, moodle_token

        settings = get_settings()
        return cls(settings.moodle_url, moodle_token(), timeout=(3.05, settings.moodle_timeout_seconds))

    def __repr__(self) -> str:
        return f"MoodleClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def call(self, wsfunction: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one web-service function; return the decoded JSON or raise a ``MoodleError``.

        A transient failure of a call that is safe to repeat is retried here, briefly, with full jitter:
        one Lambda attempt makes several calls, and re-running all of them for one blip wastes Moodle's time.
        Account and group creation are never repeated here; the workflow guards them.
        """
        attempts = TRANSIENT_ATTEMPTS if wsfunction in REPEATABLE_FUNCTIONS else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._call_once(wsfunction, params)
            except MoodleTransientError as error:
                if attempt == attempts or error.reason == "timeout":
                    raise
            except DatabaseWriteError:
                # Two orders enrolling (or assigning, or grouping) the same person at once: both passed Moodle's
                # "not there yet" check and the unique index refused the second insert. The row exists now, and
                # the call is silent when repeated, so sending it again settles it.
                if attempt == attempts:
                    raise
            time.sleep(random.uniform(0, TRANSIENT_BASE_DELAY * 2**attempt))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    def _call_once(self, wsfunction: str, params: Mapping[str, Any] | None) -> Any:
        with self._calls_lock:
            self.calls[wsfunction] += 1
        data = [
            ("wstoken", self._token),
            ("wsfunction", wsfunction),
            ("moodlewsrestformat", "json"),
            *encode_params(params),
        ]
        started = time.perf_counter()
        try:
            response = self.session.post(self.endpoint, data=data, timeout=self.timeout)
        except requests.Timeout as exc:
            call_latencies.record(wsfunction, (time.perf_counter() - started) * 1000)
            raise MoodleTransientError(
                self._redact(f"timed out after {self.timeout}: {type(exc).__name__}"),
                reason="timeout",
                wsfunction=wsfunction,
                exception=type(exc).__name__,
            ) from None
        except requests.RequestException as exc:
            call_latencies.record(wsfunction, (time.perf_counter() - started) * 1000)
            raise MoodleTransientError(
                self._redact(f"connection failed: {exc}"),
                reason="connection",
                wsfunction=wsfunction,
                exception=type(exc).__name__,
            ) from None
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        call_latencies.record(wsfunction, elapsed_ms)
        logger.debug(
            "moodle call",
            extra={"wsfunction": wsfunction, "status": response.status_code, "elapsed_ms": elapsed_ms},
        )
        return self._decode(wsfunction, response)

    def _decode(self, wsfunction: str, response: requests.Response) -> Any:
        status = response.status_code
        if status == 429 or status >= 500:
            raise MoodleTransientError(
                f"HTTP {status}", reason=f"http{status}", wsfunction=wsfunction, exception="HTTPError"
            )
        if status >= 400:
            raise MoodlePermanentError(
                f"HTTP {status}", wsfunction=wsfunction, errorcode=f"http{status}", exception="HTTPError"
            )
        try:
            payload = response.json()
        except ValueError:
            snippet = " ".join(response.text[:80].split())
            raise MoodleTransientError(
                self._redact(f"not a JSON answer (HTTP {status}): {snippet!r}"),
                reason="not-json",
                wsfunction=wsfunction,
                exception="NotJSON",
            ) from None
        if isinstance(payload, dict) and "exception" in payload and ("errorcode" in payload or "message" in payload):
            envelope = {**payload, "message": self._redact(str(payload.get("message") or ""))}
            raise error_from_envelope(envelope, wsfunction)
        return payload


def _read_environment_once(session: requests.Session, url: str) -> None:
    """Proxies (HTTPS_PROXY, NO_PROXY) and the CA bundle come from the environment once, for this client.
    With `trust_env`, requests would read them again on every call, walking os.environ and ~/.netrc each time,
    which costs more CPU than the rest of the call."""
    session.proxies.update(requests.utils.get_environ_proxies(url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    session.trust_env = False
