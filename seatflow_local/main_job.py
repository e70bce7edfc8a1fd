"""`seatflow run`, `seatflow serve` and `seatflow doctor`: the main job on the local runtime."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from seatflow_local.commands import CommandError, read_order_file
from seatflow_local.runtime import LocalRuntime


# -- what the local runtime talks to ----------------------------------------------------------------------------
def moodle_lines(runtime: LocalRuntime) -> list[str]:
    """Which Moodle the runtime talks to, and the role map it uses: said before anything is sent."""
    from seatflow.config import DEFAULT_ROLE_IDS

    if runtime.sandbox:
        where = f"embedded sandbox at {runtime.moodle_url} (set MOODLE_URL and MOODLE_TOKEN to use yours)"
    else:
        where = f"{runtime.moodle_url} (MOODLE_URL)"
    overrides = runtime.role_ids or {}
    roles = ", ".join(f"{name} {role_id}" for name, role_id in {**DEFAULT_ROLE_IDS, **overrides}.items())
    if overrides:
        source = f"{', '.join(overrides)} from {runtime.role_ids_source}, the others Moodle's standard ids"
    else:
        source = "Moodle's standard ids; set MOODLE_ROLE_IDS for others"
    return [f"Moodle: {where}", f"roles: {roles} ({source})"]


# -- run ------------------------------------------------------------------------------------------------------
class ProgressBar:
    """Participants done, redrawn in place: only on a terminal, so that a redirected output holds no \r frames."""

    def __init__(self, total: int, stream: TextIO, width: int = 30) -> None:
        self.total, self.stream, self.width = max(total, 1), stream, width
        self.last = -1
        self.shown = stream.isatty()

    def update(self, done: int) -> None:
        done = min(done, self.total)
        if not self.shown or done == self.last:
            return
        self.last = done
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r  participants [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        if self.shown and self.last >= 0:
            self.stream.write("\n")
            self.stream.flush()


def run_command(args: Any) -> int:
    try:
        body = read_order_file(args.order_file).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{args.order_file} is not UTF-8 text (byte {exc.start})") from None
    total = _participant_count(body)
    with LocalRuntime() as runtime:
        for line in moodle_lines(runtime):
            print(f"seatflow: {line}", file=sys.stderr)
        print(f"seatflow: posting {args.order_file} ({total} participants) to the order endpoint", file=sys.stderr)
        status, answer = runtime.submit_order(body)
        if status != 202:
            # The endpoint names every problem; with --json its answer is the document.
            print(f"seatflow: refused with HTTP {status}", file=sys.stderr)
            print(json.dumps(answer, indent=2, ensure_ascii=False), file=sys.stdout if args.json else sys.stderr)
            return 1
        order_id = str(answer["order_id"])
        bar = ProgressBar(total, sys.stderr)
        description = runtime.wait_for_order(order_id, on_progress=bar.update)
        bar.close()
        _, document = runtime.get_order(order_id)
        if args.json:
            print(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            print(format_report(document))
            retries = runtime.lambdas.retries(order_id, batches_only=True) if runtime.lambdas else 0
            print(format_timeline(runtime.history(order_id), description, batch_retries=retries))
            print(format_events(runtime.events(order_id), runtime.events_path))
            print(f"\nLogs: {runtime.log_file}")
    return 0 if document.get("status") == "COMPLETED" else 1


def _participant_count(body: str) -> int:
    """Learners + tutors of a body, for the progress bar; 0 when it is no order (the endpoint says why)."""
    try:
        participants = json.loads(body).get("participants") or {}
        return sum(len(participants.get(role) or []) for role in ("learners", "tutors"))
    except (ValueError, AttributeError, TypeError):
        return 0


def format_report(document: dict[str, Any]) -> str:
    lines = [
        "",
        f"Order {document.get('order_id')}: {document.get('status')} (execution {document.get('execution_name')})",
    ]
    session = document.get("course") or {}
    if session:
        start = _date(session.get("timestart"))
        end = _date(session.get("timeend")) if session.get("timeend") else "no end"
        lines.append(f"  course {session.get('course_shortname')} (id {session.get('course_id')}), {start} -> {end}")
    operator = document.get("operator") or {}
    lines.append(
        f"  operator {operator.get('username') or '-'} (id {operator.get('moodle_user_id') or '-'}), "
        f"account {operator.get('account') or '-'}, supervisor role"
    )
    group = document.get("group") or {}
    if group:
        lines.append(f"  group {group.get('name')!r} (id {group.get('id')}, idnumber {group.get('idnumber')})")
    counts = document.get("counts") or {}
    if counts:
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if document.get("failure"):
        lines.append(f"  failure: {document['failure'].get('reason')}")
    for warning in document.get("warnings") or []:
        lines.append(f"  warning: {warning}")
    lines.append("")
    header = f"  {'participant':<44} {'role':<8} {'status':<13} {'account':<8} {'username':<24} {'group':<5}"
    lines += [header, "  " + "-" * (len(header) - 2)]
    for p in document.get("participants") or []:
        group_mark = "yes" if p.get("group_member") else "no"
        lines.append(
            f"  {p.get('email', ''):<44} {p.get('role', ''):<8} {p.get('status', ''):<13} "
            f"{p.get('account') or '-':<8} {p.get('username') or '-':<24} {group_mark:<5}"
        )
        if p.get("reason"):
            lines.append(f"      reason: {p['reason']}")
    return "\n".join(lines)


def format_timeline(events: list[dict[str, Any]], description: dict[str, Any], *, batch_retries: int = 0) -> str:
    """The states entered and left, in the order they were entered, with their durations and retries, as the
    console's graph and event views show them. `batch_retries`: the Map's child executions' retries (their
    history is not the execution's)."""
    if not events:
        return "\n(no history)"
    start = events[0]["timestamp"]
    rows: list[tuple[float, str]] = []

    def row(at: Any, took: str, state: str, how: str) -> None:
        offset = (at - start).total_seconds()
        rows.append((offset, f"  {offset:>10.3f}  {took:>9}  {state:<22} {how}"))

    entered: dict[str, Any] = {}
    attempts: dict[str, int] = {}
    current = ""
    for event in events:
        kind = event["type"]
        details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        name = details.get("name", "")
        if kind.endswith("StateEntered"):
            entered[name], attempts[name], current = event["timestamp"], 0, name
            if kind in ("FailStateEntered", "SucceedStateEntered"):
                row(event["timestamp"], "", name, kind[: -len("StateEntered")])
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled") and current:
            attempts[current] += 1
        elif kind.endswith("StateExited") and name in entered and kind != "SucceedStateExited":
            began = entered.pop(name)
            how = "exited"
            retried = attempts.pop(name, 0) - 1 if kind == "TaskStateExited" else 0
            if kind == "MapStateExited":
                retried = batch_retries
            if retried > 0:
                how += f", retried {retried}x" + (" (batches)" if kind == "MapStateExited" else "")
            row(began, f"{(event['timestamp'] - began).total_seconds():.3f}s", name, how)
        elif kind in ("MapRunStarted", "MapRunSucceeded", "MapRunFailed", "ExecutionSucceeded", "ExecutionFailed"):
            row(event["timestamp"], "", "", kind)
    lines = ["", f"Execution {description.get('name')}: {description.get('status')}", ""]
    lines.append(f"  {'entered +s':>10}  {'duration':>9}  {'state':<22} how it ended")
    lines += [text for _, text in sorted(rows, key=lambda r: r[0])]  # stable: ties keep the history's order
    return "\n".join(lines)


EVENT_COUNTS = ("participants", "enrolled", "needs_review", "failed")


def format_events(events: list[dict[str, Any]], path: object) -> str:
    """The order's events, as the shop's webhook and the bus's other rules would receive them."""
    lines = ["", f"Events (source seatflow; appended to {path}):"]
    for event in events:
        detail = event.get("detail", {})
        counts = detail.get("counts") or {}
        about = (
            f"{detail['participant_key']} ({detail.get('reason_code') or 'see the report'})"
            if detail.get("participant_key")
            else ", ".join(f"{k} {counts[k]}" for k in EVENT_COUNTS if k in counts)
        )
        lines.append(
            f"  {event.get('time', ''):<21} {event.get('detail-type', ''):<26} {detail.get('status', ''):<9} {about}"
        )
    if not events:
        lines.append("  (none)")
    return "\n".join(lines)


def _date(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return "-"


# -- serve ----------------------------------------------------------------------------------------------------
def serve_command(args: Any) -> int:
    from seatflow_local.order_endpoint import ROUTES, serve_runtime

    secret = "WEBHOOK_SECRET" if os.environ.get("WEBHOOK_SECRET") else "secret in .seatflow/webhook_secret"
    with LocalRuntime() as runtime:
        server = serve_runtime(runtime, args.host, args.port)
        print(f"seatflow order endpoint on http://{args.host}:{server.port} ({ROUTES})", flush=True)
        for line in moodle_lines(runtime):
            print(line, flush=True)
        print(
            "state lives in memory (moto, and the sandbox when used): every order is lost when serve stops",
            flush=True,
        )
        print(
            f"sign requests with `seatflow sign ORDER.json` ({secret}), or call it with "
            "`seatflow status|retry|amend|cancel|erase`; Ctrl-C stops",
            flush=True,
        )
        server.serve_forever()  # returns on Ctrl-C, and closes the socket
    return 0


# -- doctor ---------------------------------------------------------------------------------------------------
def doctor_command(args: Any) -> int:
    from seatflow.config import get_settings
    from seatflow.diagnosis import diagnose

    with LocalRuntime() as runtime:
        where = (
            "the Moodle sandbox (set MOODLE_URL and MOODLE_TOKEN to check yours)"
            if runtime.sandbox
            else runtime.moodle_url
        )
        print(f"seatflow doctor: checking {where}")
        print(f"  {moodle_lines(runtime)[1]}")
        findings = diagnose(get_settings(), product=args.product)
    problems = 0
    for finding in findings:
        mark = "ok  " if finding.ok else "FIX "
        problems += 0 if finding.ok else 1
        print(f"  {mark} {finding.check}")
        if not finding.ok and finding.fix:
            print(f"       -> {finding.fix}")
    print(f"\n{problems} problem(s) found" if problems else "\nEverything seatflow needs is in place.")
    time.sleep(0)
    return 1 if problems else 0
