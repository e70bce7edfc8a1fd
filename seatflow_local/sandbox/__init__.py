"""A Moodle sandbox: Moodle's REST web services over HTTP, on SQLite, holding the recordings' site."""

from .server import Sandbox, sandbox_command, start_sandbox
from .service import SERVICE_FUNCTIONS
from .store import Store

__all__ = ["SERVICE_FUNCTIONS", "Sandbox", "Store", "sandbox_command", "start_sandbox"]
