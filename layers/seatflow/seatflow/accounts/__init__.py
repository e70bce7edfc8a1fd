"""Moodle accounts by email: found and reused, created exactly once, or a reason a person must decide."""

from .outcome import AccountCreationInProgress, AccountResolution
from .resolve import AccountRequest, BatchResolution, resolve_account, resolve_accounts

__all__ = [
    "AccountCreationInProgress",
    "AccountRequest",
    "AccountResolution",
    "BatchResolution",
    "resolve_account",
    "resolve_accounts",
]
