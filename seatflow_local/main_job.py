"""`seatflow run`, `seatflow serve` and `seatflow doctor`: the main job on the local runtime."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from seatflow_local.commands import CommandError, read_order_file
from seatflow_local.runtime import LocalRuntime


# -- run ------------------------------------------------------------------------------------------------------
class ProgressBar:
    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.stream, self.width = max(total, 1), stream, width
        self.last = -1

    def update(self, done: int) -> None:
        done = min(done, self.total)
        if done == self.last:
            return
        self.last = done
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r  participants [{bar}] {done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def run_command(args: Any) -> int:
    try:
        body = read_order_file(args.order_file).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{args.order_file} is not UTF-8 text (byte {exc.start})") from None
    try:
        payload = json.loads(body)
        order_id = str(payload["order_id"])
        total = sum(len(payload.get("participants", {}).get(k) or []) for k in ("learners", "tutors"))
    except (ValueError, KeyError, TypeError) as exc:
        print(f"{args.order_file}: not an order body ({exc})", file=sys.stderr)
        return 2
    with LocalRuntime() as runtime:
        where = "the Moodle sandbox" if runtime.sandbox else runtime.moodle_url
        print(
            f"seatflow: posting order {order_id} ({total} participants) to the order endpoint; Moodle: {where}",
            file=sys.stderr,
        )
        status, answer = runtime.submit_order(body)
        if status != 202:
            print(f"refused with HTTP {status}:", file=sys.stderr)
            print(json.dumps(answer, indent=2, ensure_ascii=False), file=sys.stderr)
            return 1
        bar = ProgressBar(total)
        description = runtime.wait_for_order(order_id, on_progress=bar.update)
        bar.close()
        _, document = runtime.get_order(order_id)
        if args.json:
            print(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            print(format_report(document))
            print(format_timeline(runtime.history(order_id), description))
            print(format_events(runtime.events(order_id), runtime.events_path))
            print(f"\nLogs: {runtime.log_file}")
    return 0 if document.get("status") == "COMPLETED" else 1


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
        if p.get("attached_to_operator"):
            lines.append("      attached to the operator (delegated administration)")
    return "\n".join(lines)


def format_timeline(events: list[dict[str, Any]], description: dict[str, Any]) -> str:
    """The states entered and left, with their durations, as the console's graph and event views show them."""
    if not events:
        return "\n(no history)"
    start = events[0]["timestamp"]
    lines = ["", f"Execution {description.get('name')}: {description.get('status')}", ""]
    lines.append(f"  {'entered +s':>10}  {'duration':>9}  {'state':<22} how it ended")
    entered: dict[str, Any] = {}
    for event in events:
        kind = event["type"]
        details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        if kind.endswith("StateEntered"):
            entered[details.get("name", "")] = event["timestamp"]
            if kind in ("FailStateEntered", "SucceedStateEntered"):
                offset = (event["timestamp"] - start).total_seconds()
                lines.append(
                    f"  {offset:>10.3f}  {'':>9}  {details.get('name', ''):<22} {kind[: -len('StateEntered')]}"
                )
        elif kind.endswith("StateExited") and details.get("name") in entered:
            began = entered.pop(details["name"])
            if kind in ("SucceedStateExited",):
                continue
            offset = (began - start).total_seconds()
            took = (event["timestamp"] - began).total_seconds()
            lines.append(f"  {offset:>10.3f}  {took:>8.3f}s  {details['name']:<22} exited")
        elif kind in ("MapRunStarted", "MapRunSucceeded", "MapRunFailed", "ExecutionSucceeded", "ExecutionFailed"):
            offset = (event["timestamp"] - start).total_seconds()
            lines.append(f"  {offset:>10.3f}  {'':>9}  {'':<22} {kind}")
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

    with LocalRuntime() as runtime:
        server = serve_runtime(runtime, args.host, args.port)
        where = f"the Moodle sandbox at {runtime.moodle_url}" if runtime.sandbox else runtime.moodle_url
        print(f"seatflow order endpoint on http://{args.host}:{server.port} ({ROUTES}); Moodle: {where}", flush=True)
        print(
            "state lives in memory (moto, and the sandbox when used): every order is lost when serve stops",
            flush=True,
        )
        print(
            "sign requests with `seatflow sign ORDER.json` (secret in .seatflow/webhook_secret), or call it with "
            "`seatflow status|retry|amend|cancel|erase`; Ctrl-C stops",
            flush=True,
        )
        server.serve_forever()  # returns on Ctrl-C, and closes the socket
    return 0


# -- doctor ---------------------------------------------------------------------------------------------------
REQUIRED_FUNCTIONS = {
    "core_webservice_get_site_info": "read which functions the token may call",
    "core_user_get_users": "find accounts by email (case-insensitive)",
    "core_user_get_users_by_field": "check which usernames are free",
    "core_user_create_users": "create accounts",
    "core_course_get_courses_by_field": "find the course by shortname",
    "enrol_manual_enrol_users": "enrol participants and the operator",
    "core_role_assign_roles": "attach new accounts to the operator",
    "core_group_get_course_groups": "find the order's group",
    "core_group_create_groups": "create the order's group",
    "core_group_add_group_members": "add participants to the group",
}


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
        findings = diagnose(get_settings(), product=args.product, required=REQUIRED_FUNCTIONS)
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
