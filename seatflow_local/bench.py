"""`make bench`: orders of 10, 100, 1,000 and 5,000 participants through the local runtime against the sandbox,
with a per-call latency, and the same orders processed sequentially, one participant after the other, one Moodle
call per need, as the original shop handler does.

Each size runs three orders: half of the participants already in Moodle (the main row), all new, and all
existing (seeded before the order). Moodle's calls are per batch, so calls per new and per existing participant
come from the all-new and all-existing orders, not from sharing a mixed batch's calls out.

Prints figures; asserts nothing. Results go to bench/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from typing import Any

from seatflow_local.bench_measure import ORDER_KINDS, import_times, measure_sequential, measure_workflow
from seatflow_local.bench_report import format_row, format_targets, merge_orders, write_report
from seatflow_local.template import ROOT


def _run_child(mode: str, size: int, latency: float, concurrency: int, kind: str = "half") -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "seatflow_local.bench",
            "--child",
            mode,
            "--kind",
            kind,
            "--sizes",
            str(size),
            "--latency-ms",
            str(latency),
            "--concurrency",
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"bench child {mode} {kind} {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000,5000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--sequential-sizes", default=None, help="sizes also run sequentially (default: all)")
    parser.add_argument("--child", choices=["workflow", "sequential"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=ORDER_KINDS, default="half", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.child:
        os.environ.setdefault("SEATFLOW_LOG_LEVEL", "WARNING")
        result = (
            measure_workflow(sizes[0], args.latency_ms, args.concurrency, args.kind)
            if args.child == "workflow"
            else measure_sequential(sizes[0], args.latency_ms)
        )
        print(json.dumps(result))
        return 0

    sequential_sizes = {int(s) for s in (args.sequential_sizes or args.sizes).split(",") if s}
    print(f"seatflow bench: latency {args.latency_ms} ms per Moodle call, Map concurrency {args.concurrency}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpu, Python {platform.python_version()}, "
        f"{platform.platform()}\n"
    )
    rows = []
    for size in sizes:
        orders = {kind: _run_child("workflow", size, args.latency_ms, args.concurrency, kind) for kind in ORDER_KINDS}
        sequential = None
        if size in sequential_sizes:
            sequential = _run_child("sequential", size, args.latency_ms, args.concurrency)
        row = merge_orders(orders, sequential)
        rows.append(row)
        print(format_row(row) + "\n", flush=True)
    imports = import_times()
    print("import time of each Lambda handler module (ms, python -X importtime):")
    for name, ms in imports.items():
        print(f"  {name:<22} {ms:>8.1f}")
    print("\n" + format_targets(rows, args.concurrency))
    out = write_report(args.latency_ms, args.concurrency, rows, imports)
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
