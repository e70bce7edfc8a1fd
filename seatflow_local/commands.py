"""`seatflow sign`, and the local webhook secret it shares with the local runtime."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from seatflow_local.template import ROOT

SECRET_FILE = ROOT / ".seatflow" / "webhook_secret"


class CommandError(Exception):
    """A refusal the command line prints in one line, exiting with 2 as argparse does for a usage error."""


def read_order_file(path: str) -> bytes:
    """The exact bytes of an order file, or a CommandError saying why it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read the order file {path}: {exc.strerror or exc}") from None


def require_moodle_pair(env: Mapping[str, str] = os.environ) -> None:
    """A real Moodle takes MOODLE_URL and MOODLE_TOKEN together; neither means the embedded sandbox."""
    url, token = env.get("MOODLE_URL", "").strip(), env.get("MOODLE_TOKEN", "").strip()
    if url and not token:
        raise CommandError(
            f"MOODLE_URL is set ({url}) but MOODLE_TOKEN is not: set the web-service token too, "
            "or unset MOODLE_URL to use the embedded Moodle sandbox"
        )
    if token and not url:
        raise CommandError(
            "MOODLE_TOKEN is set but MOODLE_URL is not: set the Moodle site's URL too, "
            "or unset MOODLE_TOKEN to use the embedded Moodle sandbox"
        )


def local_webhook_secret(path: Path = SECRET_FILE) -> str:
    """WEBHOOK_SECRET, else `.seatflow/webhook_secret`, created with a random secret when missing.
    The local runtime reads the same file, so `seatflow sign` and `seatflow serve` agree."""
    from_env = os.environ.get("WEBHOOK_SECRET")
    if from_env:
        return from_env
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(36)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def sign_command(args: argparse.Namespace) -> int:
    """Print `Seatflow-Signature: t=...,v1=...` for the exact bytes of an order file."""
    from seatflow import signature

    body = read_order_file(args.order_file)
    timestamp = int(time.time()) if args.timestamp is None else int(args.timestamp)
    sys.stdout.write(f"{signature.HEADER}: {signature.sign(local_webhook_secret(), timestamp, body)}\n")
    return 0
