"""`seatflow sign`, and the local webhook secret it shares with the local runtime."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

from seatflow_local.template import ROOT

SECRET_FILE = ROOT / ".seatflow" / "webhook_secret"


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

    body = Path(args.order_file).read_bytes()
    timestamp = int(time.time()) if args.timestamp is None else int(args.timestamp)
    sys.stdout.write(f"{signature.HEADER}: {signature.sign(local_webhook_secret(), timestamp, body)}\n")
    return 0
