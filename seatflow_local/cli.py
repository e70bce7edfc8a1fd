"""`seatflow` command line: sign, sandbox, run, serve, doctor."""

from __future__ import annotations

import argparse
import sys


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seatflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sign = sub.add_parser("sign", help="print the Seatflow-Signature header for an order file")
    sign.add_argument("order_file")
    sign.add_argument("--timestamp", type=int, default=None, help="Unix time to sign with (default: now)")

    sandbox = sub.add_parser("sandbox", help="start the Moodle sandbox")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--fault-rate", type=float, default=0.0)

    run = sub.add_parser("run", help="fulfil an order file end to end in the local runtime")
    run.add_argument("order_file")
    run.add_argument("--json", action="store_true", help="print the final order document as JSON")

    serve = sub.add_parser("serve", help="expose the order endpoint on localhost (local runtime)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    doctor = sub.add_parser("doctor", help="check a Moodle for what seatflow needs")
    doctor.add_argument("--product", default=None, help="product parameter string to check")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    # Each command imports only what it needs: `seatflow sign` must not pull in moto.
    if args.command == "sign":
        from seatflow_local.commands import sign_command

        return sign_command(args)
    if args.command == "sandbox":
        from seatflow_local.sandbox.server import sandbox_command

        return sandbox_command(args)
    if args.command == "run":
        from seatflow_local.main_job import run_command

        return run_command(args)
    if args.command == "serve":
        from seatflow_local.main_job import serve_command

        return serve_command(args)
    if args.command == "doctor":
        from seatflow_local.main_job import doctor_command

        return doctor_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
