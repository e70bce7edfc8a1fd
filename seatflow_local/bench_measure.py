"""What `make bench` measures for one order: the workflow on the local runtime (wall time, Moodle calls per
participant, transitions, payloads, history), the original sequential way, and the handlers' import times.

bench.py runs the workflow and the sequential measurement each in a child process, against the sandbox in a
process of its own.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from typing import Any

from seatflow_local.template import ROOT


def make_order(size: int, order_id: str) -> dict[str, Any]:
    def person(i: int, kind: str) -> dict[str, str]:
        return {"firstname": f"Bench{kind}", "lastname": f"Person{i:05d}", "email": f"{kind}.{i:05d}@bench.example"}

    existing = size // 2
    learners = [person(i, "existing" if i < existing else "new") for i in range(size - 1)]
    tutors = [person(size - 1, "existing" if size - 1 < existing else "new")]
    return {
        "order_id": order_id,
        "operator": {"firstname": "Olivia", "lastname": "Operator", "email": "olivia.operator@bench.example"},
        "product": {"code": "BENCH", "params": "coursename=SPOCM1&supervisor=teacher&endtime=+35D"},
        "seats": size,
        "participants": {"learners": learners, "tutors": tutors},
    }


class CallMeter:
    """Counts Moodle calls per thread, so each Lambda invocation's calls can be attributed to it."""

    def __init__(self) -> None:
        from seatflow.moodle.client import MoodleClient

        self.local = threading.local()
        original = MoodleClient._call_once
        meter = self

        def counted(client: Any, wsfunction: str, params: Any) -> Any:
            meter.local.count = getattr(meter.local, "count", 0) + 1
            return original(client, wsfunction, params)

        MoodleClient._call_once = counted  # type: ignore[method-assign, assignment]

    def now(self) -> int:
        return getattr(self.local, "count", 0)


def _seed_existing_accounts(url: str, token: str, order: dict[str, Any]) -> None:
    from seatflow.moodle import MoodleClient

    client = MoodleClient(url, token)
    people = [p for group in order["participants"].values() for p in group if p["email"].startswith("existing")]
    for start in range(0, len(people), 200):
        batch = people[start : start + 200]
        client.call(
            "core_user_create_users",
            {"users": [{**p, "username": p["email"].split("@")[0], "createpassword": 1} for p in batch]},
        )


class ExternalSandbox:
    """The sandbox in a process of its own, as Moodle is: its CPU is not the workflow's."""

    def __init__(self, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seatflow_local.cli", "sandbox", "--port", "0", "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        found: dict[str, str] = {}
        while len(found) < 2:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox did not start")
            key, _, value = line.strip().partition("=")
            found[key] = value
        self.url, self.token = found["MOODLE_URL"], found["MOODLE_TOKEN"]

    def __enter__(self) -> ExternalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _runtime(sandbox: ExternalSandbox, concurrency: int | None = None) -> Any:
    from seatflow_local.runtime import SANDBOX_ROLE_IDS, LocalRuntime

    return LocalRuntime(
        moodle_url=sandbox.url, moodle_token=sandbox.token, role_ids=dict(SANDBOX_ROLE_IDS), max_concurrency=concurrency
    )


def measure_workflow(size: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    meter = CallMeter()
    order = make_order(size, f"BENCH-{size}")
    per_invocation: list[tuple[str, dict[str, Any], int, int]] = []
    per_participant: dict[str, float] = {}
    lock = threading.Lock()
    with ExternalSandbox(latency_ms) as sandbox, _runtime(sandbox, concurrency) as rt:
        # Imported once the runtime has set the functions' environment (Powertools reads it at import).
        import seatflow.fulfilment.enrol as fulfilment  # enrol_participants looks enrol_batch up in its module

        enrol_batch = fulfilment.enrol_batch

        def metered_batch(svc: Any, order_item: Any, participants: Any) -> Any:
            # A batch's calls are shared by its participants: each is counted its share.
            before = meter.now()
            try:
                return enrol_batch(svc, order_item, participants)
            finally:
                with lock:
                    share = (meter.now() - before) / max(1, len(participants))
                    for participant in participants:
                        key = participant.participant_key
                        per_participant[key] = per_participant.get(key, 0) + share

        fulfilment.enrol_batch = metered_batch  # type: ignore[assignment]
        _seed_existing_accounts(sandbox.url, sandbox.token, order)
        assert rt.lambdas is not None
        lambdas = rt.lambdas
        original = lambdas.invoke_json

        def metered(function: str, event: dict[str, Any]) -> Any:
            before = meter.now()
            result = original(function, event)
            payload = max(len(json.dumps(event)), len(json.dumps(result)))
            with lock:
                per_invocation.append((lambdas._specs[function].logical_id, event, meter.now() - before, payload))
            return result

        lambdas.invoke_json = metered  # type: ignore[method-assign]
        body = json.dumps(order)
        started = time.perf_counter()
        status, answer = rt.submit_order(body)
        assert status == 202, answer
        description = rt.wait_for_order(order["order_id"], timeout=7200)
        wall = time.perf_counter() - started
        _, document = rt.get_order(order["order_id"])
        history = rt.history(order["order_id"])

    accounts = {p["participant_key"]: p["account"] for p in document["participants"]}
    enrol_calls: dict[str, list[float]] = {"created": [], "reused": []}
    for key, n_calls in per_participant.items():
        enrol_calls.setdefault(accounts.get(key) or "other", []).append(n_calls)
    calls = {"PrepareSessionFunction": 0, "FinalizeSessionFunction": 0}
    child_states = 0
    for function, event, n_calls, _ in per_invocation:
        is_child_state = function == "EnrolParticipantsFunction" or (
            function == "RecordOrderFailureFunction" and bool(event.get("participant_keys"))
        )
        if is_child_state:
            child_states += 1
        elif function in calls:
            calls[function] += n_calls
    map_calls = sum(per_participant.values())
    critical_calls = calls["PrepareSessionFunction"] + map_calls / concurrency + calls["FinalizeSessionFunction"]
    lower_bound = critical_calls * latency_ms / 1000
    parent_states = sum(1 for e in history if e["type"].endswith("StateEntered"))
    history_payload = max(
        (
            len(str(d.get("input") or d.get("output") or ""))
            for e in history
            for k, d in e.items()
            if k.endswith("EventDetails") and isinstance(d, dict)
        ),
        default=0,
    )
    return {
        "size": size,
        "status": document["status"],
        "execution": description["status"],
        "wall_seconds": round(wall, 3),
        "lower_bound_seconds": round(lower_bound, 3),
        "wall_over_lower_bound": round(wall / lower_bound, 2) if lower_bound else None,
        "calls_per_new_account": _mean(enrol_calls["created"]),
        "calls_per_existing_account": _mean(enrol_calls["reused"]),
        "moodle_calls_prepare": calls["PrepareSessionFunction"],
        "moodle_calls_finalize": calls["FinalizeSessionFunction"],
        "map_items": child_states,
        "transitions_per_participant": round((parent_states + child_states) / size, 3),
        "lambda_invocations_per_participant": round(len(per_invocation) / size, 3),
        # State payloads only: the API's HTTP body is not a Step Functions payload.
        "largest_payload_bytes": max(
            [history_payload] + [p for function, _, _, p in per_invocation if function != "OrderApiFunction"]
        ),
        "history_events_parent": len(history),
        # A child: ExecutionStarted, TaskStateEntered/Scheduled/Started/Succeeded/Exited, ExecutionSucceeded.
        "history_events_per_child": 7,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_sequential(size: int, latency_ms: float) -> dict[str, Any]:
    """The original handler's way: one participant after the other, in one process, no workflow."""
    # No Lambda decorator flushes metrics here: they must be valid (and disabled) when they overflow.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Seatflow")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    from seatflow.fulfilment import enrol_batch, finalize_session, prepare_session, services
    from seatflow.models import OrderBody
    from seatflow.models.tasks import OrderTask

    order = OrderBody.model_validate(make_order(size, f"SEQ-{size}"))
    with ExternalSandbox(latency_ms) as sandbox, _runtime(sandbox):
        _seed_existing_accounts(sandbox.url, sandbox.token, order.model_dump())
        svc = services()
        svc.store.record_order(order, order.body_sha256())
        started = time.perf_counter()
        prepare_session(OrderTask(order_id=order.order_id))
        for key, *_ in order.participants_with_keys():
            order_item, (participant,) = svc.store.get_order_and_participants(order.order_id, [key])
            assert order_item is not None
            outcomes, _, _ = enrol_batch(svc, order_item, [participant])
            svc.store.save_participant_outcomes(outcomes)
        done = finalize_session(OrderTask(order_id=order.order_id))
        wall = time.perf_counter() - started
    return {"size": size, "status": done.status, "sequential_seconds": round(wall, 3)}


def import_times() -> dict[str, float]:
    """Import time of each Lambda handler module (python -X importtime), beside `import boto3`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "seatflow")}
    results: dict[str, float] = {}
    targets = {"boto3": ("import boto3", "boto3")}
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        targets[app.parent.name] = (f"import sys; sys.path.insert(0, {str(app.parent)!r}); import app", "app")
    for name, (code, module) in targets.items():
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, capture_output=True, text=True)
        cumulative = [int(m.group(1)) for m in re.finditer(rf"\|\s*(\d+) \| {re.escape(module)}\s*$", out.stderr, re.M)]
        results[name] = round(cumulative[-1] / 1000, 1) if cumulative else float("nan")
    return results


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
