"""What `make bench` prints and writes: the per-size rows, the targets they are held to, and bench/latest.json."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from seatflow_local.template import ROOT

TARGETS = {
    "wall_over_lower_bound_at_1000": 1.3,
    "calls_per_existing_account": 2.1,
    "calls_per_new_account": 5.1,
    "transitions_per_participant": 4,
    "history_events_limit": 25_000,
    "payload_limit_bytes": 256 * 1024,
}


def write_report(latency_ms: float, concurrency: int, rows: list[dict[str, Any]], imports: dict[str, float]) -> Path:
    """Writes bench/latest.json; returns its path."""
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "arch": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
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


def format_row(r: dict[str, Any]) -> str:
    return (
        f"{r['size']:>5} participants: {r['status']:<9} wall {r['wall_seconds']:>8.2f}s  "
        f"lower bound {r['lower_bound_seconds']:>7.2f}s  wall/LB {r['wall_over_lower_bound']}\n"
        f"        Moodle calls per new account {r['calls_per_new_account']}, per existing account "
        f"{r['calls_per_existing_account']} "
        f"(prepare {r['moodle_calls_prepare']}, finalize {r['moodle_calls_finalize']})\n"
        f"        Map items {r['map_items']}, transitions/participant {r['transitions_per_participant']}, "
        f"Lambda invocations/participant "
        f"{r['lambda_invocations_per_participant']}, largest payload {r['largest_payload_bytes']} B (limit 262144),\n"
        f"        history events {r['history_events_parent']} parent + {r['history_events_per_child']} per child "
        "(limit 25000)\n"
        f"        peak memory {r['peak_rss_mb']} MB"
        + (f", sequential {r['sequential_seconds']:.2f}s, speedup {r['speedup']}x" if "speedup" in r else "")
    )


def format_targets(rows: list[dict[str, Any]], concurrency: int) -> str:
    at_1000 = next((r for r in rows if r["size"] == 1000), None)
    worst = lambda key: max((r[key] for r in rows if r.get(key) is not None), default=None)  # noqa: E731
    speedups = [r["speedup"] for r in rows if "speedup" in r and r["size"] >= 100]
    checks = [
        ("wall / lower bound at 1,000", at_1000 and at_1000["wall_over_lower_bound"], "<= 1.3"),
        ("Moodle calls per existing account", worst("calls_per_existing_account"), "<= 2.1"),
        ("Moodle calls per new account", worst("calls_per_new_account"), "<= 5.1"),
        ("state transitions per participant", worst("transitions_per_participant"), "<= 4"),
        ("largest payload (bytes)", worst("largest_payload_bytes"), "< 262144"),
        ("history events, largest execution", worst("history_events_parent"), "< 25000"),
        ("speedup over sequential (sizes >= 100)", min(speedups) if speedups else None, f">= {0.8 * concurrency:.1f}"),
    ]
    lines = ["targets:"]
    for name, value, target in checks:
        lines.append(f"  {name:<40} {value!s:>10}   target {target}")
    return "\n".join(lines)
