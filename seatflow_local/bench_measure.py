"""What `make bench` measures for one order: the workflow on the local runtime (wall time, Moodle calls by function
and by step, Moodle-side time, transitions, payloads, history), the original sequential way, and the handlers'
import times.

bench.py runs each measurement in a child process of its own, against the sandbox in a process of its own.
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
from collections import Counter
from typing import Any

from seatflow_local.template import ROOT

# How many of an order's participants hold a Moodle account already (seeded before the order is submitted).
ORDER_KINDS = ("half", "new", "existing")


def existing_count(size: int, kind: str) -> int:
    return {"half": size // 2, "new": 0, "existing": size}[kind]


def make_order(size: int, order_id: str, existing: int | None = None) -> dict[str, Any]:
    """``size`` participants at one company domain, the first ``existing`` of them (default half) already in Moodle."""

    def person(i: int, kind: str) -> dict[str, str]:
        return {"firstname": f"Bench{kind}", "lastname": f"Person{i:05d}", "email": f"{kind}.{i:05d}@bench.example"}

    existing = size // 2 if existing is None else existing
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
    """Counts Moodle calls by function, and the time the client waits for each, per thread: a Lambda invocation
    runs in the thread that invokes it, so its calls can be attributed to it."""

    def __init__(self) -> None:
        from seatflow.moodle.client import MoodleClient

        self.local = threading.local()
        original = MoodleClient._call_once
        meter = self

        def counted(client: Any, wsfunction: str, params: Any) -> Any:
            if not hasattr(meter.local, "calls"):
                meter.local.calls, meter.local.seconds = Counter(), 0.0
            meter.local.calls[wsfunction] += 1
            started = time.perf_counter()
            try:
                return original(client, wsfunction, params)
            finally:
                meter.local.seconds += time.perf_counter() - started

        MoodleClient._call_once = counted  # type: ignore[method-assign, assignment]

    def now(self) -> tuple[Counter[str], float]:
        """This thread's calls by function so far (a copy), and the seconds it waited for them."""
        return Counter(getattr(self.local, "calls", ())), getattr(self.local, "seconds", 0.0)


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
    """The sandbox in a process of its own, as Moodle is: its CPU is not the workflow's, and can be read apart."""

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

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system, all threads) the sandbox process has used so far; None off Linux."""
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
                # Fields after the command name, which is in parentheses and may hold spaces: utime, stime are 14, 15.
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


def _moodle_figures(
    size: int, latency_ms: float, calls: dict[str, Counter[str]], seconds: float, cpu: float | None
) -> dict[str, Any]:
    """Moodle calls (counts and per participant, by function) and Moodle-side time of one order."""
    per_participant = {
        step: {fn: round(n / size, 3) for fn, n in counter.most_common()} for step, counter in calls.items()
    }
    total = sum(calls["order"].values())
    return {
        "moodle_calls": total,
        "calls_per_participant": round(total / size, 3),
        "map_calls_per_participant": round(sum(calls["map"].values()) / size, 3),
        "moodle_calls_by_function": {step: dict(counter.most_common()) for step, counter in calls.items()},
        "calls_per_participant_by_function": per_participant,
        # The sandbox's own CPU while the order ran: its HTTP server, its SQLite store, its JSON.
        "moodle_cpu_seconds": round(cpu, 2) if cpu is not None else None,
        # The time the client waited for Moodle minus the sandbox's configured latency, summed over the calls.
        "moodle_observed_seconds": round(seconds - total * latency_ms / 1000, 2),
    }


def measure_workflow(size: int, latency_ms: float, concurrency: int, kind: str = "half") -> dict[str, Any]:
    meter = CallMeter()
    order = make_order(size, f"BENCH-{kind.upper()}-{size}", existing_count(size, kind))
    per_invocation: list[tuple[str, dict[str, Any], Counter[str], float, int]] = []
    lock = threading.Lock()
    with ExternalSandbox(latency_ms) as sandbox, _runtime(sandbox, concurrency) as rt:
        _seed_existing_accounts(sandbox.url, sandbox.token, order)
        assert rt.lambdas is not None
        lambdas = rt.lambdas
        original = lambdas.invoke_json

        def metered(function: str, event: dict[str, Any]) -> Any:
            calls_before, seconds_before = meter.now()
            result = original(function, event)
            calls_after, seconds_after = meter.now()
            payload = max(len(json.dumps(event)), len(json.dumps(result)))
            with lock:
                per_invocation.append(
                    (
                        lambdas._specs[function].logical_id,
                        event,
                        calls_after - calls_before,
                        seconds_after - seconds_before,
                        payload,
                    )
                )
            return result

        lambdas.invoke_json = metered  # type: ignore[method-assign]
        body = json.dumps(order)
        cpu_before = sandbox.cpu_seconds()
        started = time.perf_counter()
        status, answer = rt.submit_order(body)
        assert status == 202, answer
        description = rt.wait_for_order(order["order_id"], timeout=7200)
        wall = time.perf_counter() - started
        cpu_after = sandbox.cpu_seconds()
        _, document = rt.get_order(order["order_id"])
        history = rt.history(order["order_id"])

    calls: dict[str, Counter[str]] = {"order": Counter(), "map": Counter()}
    seconds = 0.0
    by_step = {"PrepareSessionFunction": 0, "FinalizeSessionFunction": 0}
    child_states = 0
    for function, event, n_calls, n_seconds, _ in per_invocation:
        calls["order"] += n_calls
        seconds += n_seconds
        is_child_state = function == "EnrolParticipantsFunction" or (
            function == "RecordOrderFailureFunction" and bool(event.get("participant_keys"))
        )
        if is_child_state:
            child_states += 1
            calls["map"] += n_calls
        elif function in by_step:
            by_step[function] += n_calls.total()
    map_calls = calls["map"].total()
    critical_calls = by_step["PrepareSessionFunction"] + map_calls / concurrency + by_step["FinalizeSessionFunction"]
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
    accounts = Counter(p.get("account") or p.get("status") for p in document["participants"])
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    return {
        "size": size,
        "kind": kind,
        "status": document["status"],
        "execution": description["status"],
        "accounts": dict(accounts),
        "wall_seconds": round(wall, 3),
        "lower_bound_seconds": round(lower_bound, 3),
        "wall_over_lower_bound": round(wall / lower_bound, 2) if lower_bound else None,
        "moodle_calls_prepare": by_step["PrepareSessionFunction"],
        "moodle_calls_finalize": by_step["FinalizeSessionFunction"],
        **_moodle_figures(size, latency_ms, calls, seconds, cpu),
        "map_items": child_states,
        "transitions_per_participant": round((parent_states + child_states) / size, 3),
        "lambda_invocations_per_participant": round(len(per_invocation) / size, 3),
        # State payloads only: the API's HTTP body is not a Step Functions payload.
        "largest_payload_bytes": max(
            [history_payload] + [p for function, *_, p in per_invocation if function != "OrderApiFunction"]
        ),
        "history_events_parent": len(history),
        # A child: ExecutionStarted, TaskStateEntered/Scheduled/Started/Succeeded/Exited, ExecutionSucceeded.
        "history_events_per_child": 7,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def measure_sequential(size: int, latency_ms: float) -> dict[str, Any]:
    """The original handler's way: one participant after the other, in one process, no workflow, and one Moodle
    call per need. Each participant is its own batch of one, so its account is looked up by its own email, its
    username checked and its account created alone, and it is enrolled (and attached to the operator) alone; the
    batched calls happen only where the original handler also did the work once (the session, the group)."""
    # No Lambda decorator flushes metrics here: they must be valid (and disabled) when they overflow.
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Seatflow")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    meter = CallMeter()
    from seatflow.fulfilment import enrol_batch, finalize_session, prepare_session, services
    from seatflow.models import OrderBody
    from seatflow.models.tasks import OrderTask

    order = OrderBody.model_validate(make_order(size, f"SEQ-{size}"))
    calls: dict[str, Counter[str]] = {"order": Counter(), "map": Counter()}
    with ExternalSandbox(latency_ms) as sandbox, _runtime(sandbox):
        _seed_existing_accounts(sandbox.url, sandbox.token, order.model_dump())
        svc = services()
        svc.store.record_order(order, order.body_sha256())
        calls_before, seconds_before = meter.now()
        cpu_before = sandbox.cpu_seconds()
        started = time.perf_counter()
        prepare_session(OrderTask(order_id=order.order_id))
        participants_before, _ = meter.now()
        for key, *_ in order.participants_with_keys():
            order_item, (participant,) = svc.store.get_order_and_participants(order.order_id, [key])
            assert order_item is not None
            outcomes, _, _ = enrol_batch(svc, order_item, [participant])
            svc.store.save_participant_outcomes(outcomes)
        participants_after, _ = meter.now()
        done = finalize_session(OrderTask(order_id=order.order_id))
        wall = time.perf_counter() - started
        cpu_after = sandbox.cpu_seconds()
        calls_after, seconds_after = meter.now()
    calls["order"] = calls_after - calls_before
    calls["map"] = participants_after - participants_before
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    figures = _moodle_figures(size, latency_ms, calls, seconds_after - seconds_before, cpu)
    return {"size": size, "status": done.status, "sequential_seconds": round(wall, 3), **figures}


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
