"""Configuration read from the environment, and the two secrets.

On AWS the Moodle token and the webhook secret live in Secrets Manager and are read through
Powertools Parameters (cached). Locally, MOODLE_TOKEN / WEBHOOK_SECRET may be given directly.
Secrets are returned as plain strings and must never be logged.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

SECRET_MAX_AGE_SECONDS = 300

DEFAULT_ROLE_IDS: dict[str, int] = {"manager": 1, "editingteacher": 3, "teacher": 4, "student": 5}


class ConfigurationError(RuntimeError):
    """seatflow is not configured to do what was asked (a missing setting or role mapping)."""


class Settings(BaseModel):
    table_name: str = Field(default="seatflow")
    state_machine_arn: str = Field(default="")
    manifest_bucket: str = Field(default="")
    moodle_url: str = Field(default="")
    moodle_token_secret_arn: str = Field(default="")
    webhook_secret_arn: str = Field(default="")
    moodle_role_ids: dict[str, int] = Field(default_factory=dict)
    moodle_timeout_seconds: float = 20.0
    signature_tolerance_seconds: int = 300
    group_batch_size: int = 100
    # Participants in flight with Moodle at once (the Map's MaxConcurrency: one batch per slot).
    map_max_concurrency: int = Field(default=10, ge=1)
    max_participants_per_batch: int = Field(default=25, ge=1, le=100)
    # Where order events go: the bus's name on AWS; locally a JSON-lines file instead (SEATFLOW_EVENTS_FILE).
    event_bus_name: str = Field(default="")
    events_file: str = Field(default="")
    # Participants' personal data is kept this many days after the session's end (RetentionDays).
    retention_days: int = Field(default=365, ge=1)

    @field_validator("moodle_role_ids", mode="before")
    @classmethod
    def _parse_role_ids(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"MOODLE_ROLE_IDS is not a JSON object: {exc.msg}") from exc
        return value

    @property
    def role_ids(self) -> dict[str, int]:
        """Role shortname -> id: the standard install's ids, overridden by MOODLE_ROLE_IDS."""
        return {**DEFAULT_ROLE_IDS, **self.moodle_role_ids}

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        raw = {
            "table_name": env.get("TABLE_NAME"),
            "state_machine_arn": env.get("STATE_MACHINE_ARN"),
            "manifest_bucket": env.get("MANIFEST_BUCKET"),
            "moodle_url": env.get("MOODLE_URL"),
            "moodle_token_secret_arn": env.get("MOODLE_TOKEN_SECRET_ARN"),
            "webhook_secret_arn": env.get("WEBHOOK_SECRET_ARN"),
            "moodle_role_ids": env.get("MOODLE_ROLE_IDS"),
            "moodle_timeout_seconds": env.get("MOODLE_TIMEOUT_SECONDS"),
            "group_batch_size": env.get("GROUP_BATCH_SIZE"),
            "map_max_concurrency": env.get("MAP_MAX_CONCURRENCY"),
            "max_participants_per_batch": env.get("MAX_PARTICIPANTS_PER_BATCH"),
            "event_bus_name": env.get("EVENT_BUS_NAME"),
            "events_file": env.get("SEATFLOW_EVENTS_FILE"),
            "retention_days": env.get("RETENTION_DAYS"),
        }
        return cls(**{k: v for k, v in raw.items() if v not in (None, "")})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def _read_secret(direct_env: str, arn: str, what: str) -> str:
    direct = os.environ.get(direct_env)
    if direct:
        return direct
    if not arn:
        raise ConfigurationError(f"{what} is not configured: set {direct_env} or its *_SECRET_ARN")
    # Imported here so that a cold start that never reads a secret does not pay for it.
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    if isinstance(value, bytes):
        value = value.decode()
    return str(value).strip()


def moodle_token() -> str:
    return _read_secret("MOODLE_TOKEN", get_settings().moodle_token_secret_arn, "The Moodle token")


def webhook_secret() -> str:
    return _read_secret("WEBHOOK_SECRET", get_settings().webhook_secret_arn, "The webhook secret")
