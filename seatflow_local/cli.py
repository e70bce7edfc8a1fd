"""`seatflow` command line: sign, sandbox, run, serve, doctor; status, retry, amend, cancel, erase."""

from __future__ import annotations

import argparse
import sys

ENVIRONMENT = """\
environment:
  MOODLE_URL          a real Moodle for run, serve and doctor, e.g. https://moodle.example.com
  MOODLE_TOKEN        its web-service token: set both MOODLE_URL and MOODLE_TOKEN, or neither for the
                      embedded Moodle sandbox
  MOODLE_ROLE_IDS     JSON role shortname -> id, merged over the standard ids
                      (manager 1, editingteacher 3, teacher 4, student 5), e.g. '{"customer": 9}'
  WEBHOOK_SECRET      the secret orders are signed with (default: .seatflow/webhook_secret, created once)
  SEATFLOW_LOG_LEVEL  the functions' log level in the local runtime (default INFO); logs go to
                      .seatflow/logs/local.jsonl
"""


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seatflow", description=__doc__, epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=ENVIRONMENT,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    sign = command("sign", "print the Seatflow-Signature header for an order file")
    sign.add_argument("order_file")
    sign.add_argument("--timestamp", type=int, default=None, help="Unix time to sign with (default: now)")

    sandbox = command("sandbox", "start the Moodle sandbox")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--fault-rate", type=float, default=0.0, help="share of calls that fail (0 to 1)")
    sandbox.add_argument("--fault-mode", default="503", help="how a call fails: 503, hang or html (default 503)")
    sandbox.add_argument("--seed", type=int, default=None, help="seed of the fault draws, to replay a run")
    sandbox.add_argument("--token", default=None, help="the token to accept (default: a random one, printed)")

    run = command("run", "fulfil an order file end to end in the local runtime")
    run.add_argument("order_file")
    run.add_argument("--json", action="store_true", help="print the final order document as JSON")

    serve = command("serve", "expose the order endpoint on localhost (local runtime)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    doctor = command("doctor", "check a Moodle for what seatflow needs")
    doctor.add_argument("--product", default=None, help="product parameter string to check")

    from seatflow_local.lifecycle_commands import add_lifecycle_commands

    add_lifecycle_commands(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    from seatflow_local.commands import CommandError

    try:
        return _dispatch(args)
    except CommandError as refused:
        print(f"seatflow {args.command}: {refused}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    # Each command imports only what it needs: `seatflow sign` must not pull in moto.
    from seatflow_local.commands import CommandError, require_moodle_pair

    if args.command == "sign":
        from seatflow_local.commands import sign_command

        return sign_command(args)
    if args.command == "sandbox":
        from seatflow_local.sandbox.server import sandbox_command

        try:
            return sandbox_command(args)
        except ValueError as exc:  # the sandbox refuses an option value (e.g. an unknown fault mode)
            raise CommandError(str(exc)) from None
    if args.command in ("status", "retry", "amend", "cancel", "erase"):
        from seatflow_local.lifecycle_commands import lifecycle_command

        return lifecycle_command(args)
    require_moodle_pair()
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
