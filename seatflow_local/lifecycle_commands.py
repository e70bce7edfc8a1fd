"""`seatflow status|retry|amend|cancel|erase`: the lifecycle calls a shop makes, sent to a running
`seatflow serve` (`--url`, default http://127.0.0.1:8000), signed with the local webhook secret.

Each prints the answer's JSON (status: the order report) and exits 0 on a 2xx, 1 on any other answer, 2 when
nothing answers or the file cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from seatflow_local.commands import CommandError, local_webhook_secret, read_order_file

if TYPE_CHECKING:
    import requests

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 30.0


def add_lifecycle_commands(command: Any) -> None:
    """The five commands, on the CLI's `command(name, summary)` subparser factory."""
    status = command("status", "an order's status and each participant's outcome (GET /orders/{order_id})")
    status.add_argument("order_id")
    status.add_argument("--json", action="store_true", help="print the order document as JSON")
    retry = command("retry", "re-run an order's NEEDS_REVIEW and FAILED participants after a fix in Moodle")
    retry.add_argument("order_id")
    amend = command("amend", "send the order as it now stands (PUT /orders/{order_id}); the file has a revision")
    amend.add_argument("order_file")
    amend.add_argument("--revision", type=int, default=None, help="the revision to send (default: the file's)")
    cancel = command("cancel", "undo everything the order granted in Moodle (POST .../cancellation)")
    cancel.add_argument("order_id")
    cancel.add_argument("--reason", default="refund", help="why (default: refund)")
    erase = command("erase", "erase a person's personal data from seatflow's records (POST /erasures)")
    erase.add_argument("email")
    for sub in (status, retry, amend, cancel, erase):
        sub.add_argument("--url", default=DEFAULT_URL, help=f"the running `seatflow serve` (default {DEFAULT_URL})")


def lifecycle_command(args: argparse.Namespace) -> int:
    if args.command == "status":
        answer = _send(args.url, "GET", f"/orders/{_segment(args.order_id)}", b"")
        if not args.json and answer.status_code == 200:
            from seatflow_local.main_job import format_report

            print(format_report(answer.json()))
            return 0
        return _print(answer)
    if args.command == "retry":
        return _print(_send(args.url, "POST", f"/orders/{_segment(args.order_id)}/retry", b"{}"))
    if args.command == "amend":
        order_id, body = _amended_order(args.order_file, args.revision)
        return _print(_send(args.url, "PUT", f"/orders/{_segment(order_id)}", body))
    if args.command == "cancel":
        body = json.dumps({"reason": args.reason}).encode()
        return _print(_send(args.url, "POST", f"/orders/{_segment(args.order_id)}/cancellation", body))
    if args.command == "erase":
        return _print(_send(args.url, "POST", "/erasures", json.dumps({"email": args.email}).encode()))
    return 2


def _amended_order(path: str, revision: int | None) -> tuple[str, bytes]:
    """The order id and the exact bytes to send: the file as it is, or with `revision` set."""
    raw = read_order_file(path)
    try:
        order = json.loads(raw)
        order_id = str(order["order_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"{path} is not an order body ({exc})") from None
    if revision is not None:
        order["revision"] = revision
        raw = json.dumps(order, ensure_ascii=False).encode()
    elif "revision" not in order:
        raise CommandError(f'{path} has no "revision": add one (2 or more), or pass --revision N')
    return order_id, raw


def _segment(value: str) -> str:
    return quote(value, safe="")


def _send(url: str, method: str, path: str, body: bytes) -> requests.Response:
    import requests  # here, not at the top: the CLI builds every parser, even for `seatflow sign`
    from seatflow import signature

    headers = {
        "Content-Type": "application/json",
        signature.HEADER: signature.sign(local_webhook_secret(), int(time.time()), body),
    }
    try:
        return requests.request(method, url.rstrip("/") + path, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.ConnectionError:
        raise CommandError(f"nothing answers at {url}: start `seatflow serve` first (or pass --url)") from None
    except requests.RequestException as exc:
        raise CommandError(f"{method} {url}{path} failed: {type(exc).__name__}") from None


def _print(answer: requests.Response) -> int:
    try:
        text = json.dumps(answer.json(), indent=2, ensure_ascii=False)
    except ValueError:
        text = answer.text
    stream = sys.stdout if answer.ok else sys.stderr
    if not answer.ok:
        print(f"HTTP {answer.status_code}", file=stream)
    print(text, file=stream)
    return 0 if answer.ok else 1
