"""Print the order API's OpenAPI document, generated from its resolver: `python -m seatflow_local.openapi`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

ROOT = Path(__file__).resolve().parents[1]
ORDER_API = ROOT / "functions" / "order_api" / "app.py"

DESCRIPTION = (
    "One paid order of a training session becomes a ready-to-run Moodle course session. "
    'Every request carries `Seatflow-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` '
    "made with the shared secret (over the empty body for GET); several v1= values are accepted while a "
    "secret is rotated, and t must be within 5 minutes of the server's clock."
)


def load_order_api() -> ModuleType:
    """functions/order_api/app.py by path (every function's module is called app)."""
    layer = str(ROOT / "layers" / "seatflow")
    if importlib.util.find_spec("seatflow") is None and layer not in sys.path:
        sys.path.insert(0, layer)  # not installed with `pip install -e .`: use the layer's source
    spec = importlib.util.spec_from_file_location("seatflow_order_api_app", ORDER_API)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {ORDER_API}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def openapi_json() -> str:
    app = load_order_api().app
    return str(
        app.get_openapi_json_schema(
            title="seatflow order API",
            version="1.0.0",
            description=DESCRIPTION,
            security_schemes={
                "SeatflowSignature": APIKey(name="Seatflow-Signature", in_=APIKeyIn.header),  # type: ignore[call-arg]
            },
            security=[{"SeatflowSignature": []}],
        )
    )


def main() -> int:
    sys.stdout.write(openapi_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
