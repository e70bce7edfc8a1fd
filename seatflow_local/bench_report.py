"""What `make bench` prints and writes: the per-size rows, the targets they are held to, and bench/latest.json."""

from __future__ import annotations

import json
import operator
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from seatflow_local.template import ROOT

# Issue #10's targets for the calls are whole orders (PrepareSession + the Map + FinalizeSession) of 1,000
# participants, all new or all existing; the other limits hold at every size.
TARGETS = {
    "wall_over_lower_bound_at_1000": 1.3,
    "calls_per_new_participant_at_1000": 1.3,
    "calls_per_existing_participant_at_1000": 0.3,
    "transitions_per_participant": 4,
    "history_events_limit": 25_000,
    "payload_limit_bytes": 256 * 1024,
    "speedup_per_map_slot": 0.8,
}

# What a row keeps of the all-new and all-existing orders.
_ORDER_SUMMARY = (
    "status",
    "accounts",
    "wall_seconds",
    "moodle_calls",
    "moodle_calls_prepare",
    "moodle_calls_finalize",
    "calls_per_participant",
    "map_calls_per_participant",
    "moodle_calls_by_function",
    "calls_per_participant_by_function",
    "moodle_cpu_seconds",
    "moodle_observed_seconds",
)


def merge_orders(orders: dict[str, dict[str, Any]], sequential: dict[str, Any] | None) -> dict[str, Any]:
    """One size's row: the half/half order's figures, calls per new and per existing participant from the all-new
    and all-existing orders, and the sequential run."""
    row = dict(orders["half"])
    for kind, label in (("new", "new"), ("existing", "existing")):
        row[f"calls_per_{label}_account"] = orders[kind]["calls_per_participant"]
        row[f"map_calls_per_{label}_account"] = orders[kind]["map_calls_per_participant"]
        row[f"all_{kind}"] = {key: orders[kind][key] for key in _ORDER_SUMMARY}
    if sequential is not None:
        row["sequential_seconds"] = sequential["sequential_seconds"]
        row["speedup"] = round(sequential["sequential_seconds"] / row["wall_seconds"], 2)
        row["sequential"] = sequential
    return row


def write_report(latency_ms: float, concurrency: int, rows: list[dict[str, Any]], imports: dict[str, float]) -> Path:
    """Writes bench/latest.json; returns its path."""
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # The machine is shared: its load says how much of the wall time is other people's work.
            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        },
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "sizes": rows,
        "import_ms": imports,
        "targets": TARGETS,
    }
    out = ROOT / "bench" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return out


def _orders_table(r: dict[str, Any]) -> list[str]:
    """The size's orders side by side: Moodle calls per participant by function (whole order / Map only), then
    each order's wall time and Moodle-side time."""
    columns = [("half/half", r), ("all new", r["all_new"]), ("all existing", r["all_existing"])]
    if "sequential" in r:
        columns.append(("sequential", r["sequential"]))
    functions: list[str] = []
    for _, order in columns:
        functions += [f for f in order["calls_per_participant_by_function"]["order"] if f not in functions]

    def calls(order: dict[str, Any], function: str | None) -> str:
        if function is None:
            whole, in_map = order["calls_per_participant"], order["map_calls_per_participant"]
        else:
            by_function = order["calls_per_participant_by_function"]
            whole, in_map = by_function["order"].get(function, 0), by_function["map"].get(function, 0)
        return f"{whole:.3f} / {in_map:.3f}"

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        *((function, partial(calls, function=function)) for function in functions),
        ("all functions", lambda o: calls(o, None)),
        ("wall (s)", lambda o: seconds(o.get("wall_seconds", o.get("sequential_seconds")))),
        ("Moodle-side CPU, sandbox process (s)", lambda o: seconds(o["moodle_cpu_seconds"])),
        ("client-observed minus latency (s)", lambda o: seconds(o["moodle_observed_seconds"])),
    ]
    lines = [
        "        Moodle calls per participant, by function (whole order / Map only); wall; Moodle-side time:",
        " " * 48 + "".join(f"{name:>17}" for name, _ in columns),
    ]
    for name, value in rows:
        lines.append(f"          {name:<38}" + "".join(f"{value(order):>17}" for _, order in columns))
    return lines


def format_row(r: dict[str, Any]) -> str:
    new, existing = r["all_new"], r["all_existing"]
    lines = [
        f"{r['size']:>5} participants (half existing): {r['status']:<9} wall {r['wall_seconds']:>8.2f}s  "
        f"lower bound {r['lower_bound_seconds']:>7.2f}s  wall/LB {r['wall_over_lower_bound']}",
        f"        Moodle calls per participant: half/half {r['calls_per_participant']} (prepare "
        f"{r['moodle_calls_prepare']}, Map {sum(r['moodle_calls_by_function']['map'].values())}, finalize "
        f"{r['moodle_calls_finalize']}); all new {r['calls_per_new_account']} ({new['status']}); "
        f"all existing {r['calls_per_existing_account']} ({existing['status']})",
        *_orders_table(r),
        f"        Map items {r['map_items']}, transitions/participant {r['transitions_per_participant']}, "
        f"Lambda invocations/participant {r['lambda_invocations_per_participant']}, "
        f"largest payload {r['largest_payload_bytes']} B (limit 262144),",
        f"        history events {r['history_events_parent']} parent + {r['history_events_per_child']} per child "
        f"(limit 25000), peak memory {r['peak_rss_mb']} MB",
    ]
    if "sequential" in r:
        lines.append(f"        sequential {r['sequential_seconds']:.2f}s, speedup {r['speedup']}x")
    return "\n".join(lines)


def format_targets(rows: list[dict[str, Any]], concurrency: int) -> str:
    at_1000 = next((r for r in rows if r["size"] == 1000), None)
    worst = lambda key: max((r[key] for r in rows if r.get(key) is not None), default=None)  # noqa: E731
    speedups = [r["speedup"] for r in rows if "speedup" in r and r["size"] >= 100]
    t = TARGETS
    le, lt, ge = operator.le, operator.lt, operator.ge
    checks: list[tuple[str, Any, Callable[[Any, Any], bool], str, float]] = [
        ("wall / lower bound at 1,000", at_1000 and at_1000["wall_over_lower_bound"], le, "<=",
         t["wall_over_lower_bound_at_1000"]),
        ("Moodle calls per new participant, 1,000", at_1000 and at_1000["calls_per_new_account"], le, "<=",
         t["calls_per_new_participant_at_1000"]),
        ("Moodle calls per existing participant, 1,000", at_1000 and at_1000["calls_per_existing_account"], le,
         "<=", t["calls_per_existing_participant_at_1000"]),
        ("state transitions per participant", worst("transitions_per_participant"), le, "<=",
         t["transitions_per_participant"]),
        ("largest payload (bytes)", worst("largest_payload_bytes"), lt, "<", t["payload_limit_bytes"]),
        ("history events, largest execution", worst("history_events_parent"), lt, "<", t["history_events_limit"]),
        ("speedup over sequential (sizes >= 100)", min(speedups) if speedups else None, ge, ">=",
         round(t["speedup_per_map_slot"] * concurrency, 1)),
    ]  # fmt: skip
    lines = ["targets:"]
    for name, value, holds, sign, target in checks:
        verdict = "n/a (size not run)" if value is None else ("met" if holds(value, target) else "NOT MET")
        lines.append(f"  {name:<46} {value!s:>10}   target {sign} {target:<9} {verdict}")
    return "\n".join(lines)
