"""The reference documents' JSON examples stored in tests/fixtures/examples/."""

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).parent / "fixtures" / "examples"

# The Apple examples that are real notifications (apple_envelope.json is the document's
# generic placeholder whose notification is "{...}").
APPLE_EXAMPLES = [
    "apple_test_notification",
    "apple_asset_count",
    "apple_asset_management_associate",
    "apple_asset_management_disassociate",
    "apple_asset_management_revoke",
    "apple_user_management_create",
    "apple_user_management_update",
    "apple_user_management_retire",
    "apple_user_associated",
]


def example_bytes(name: str) -> bytes:
    return (EXAMPLES_DIR / f"{name}.json").read_bytes()


def example(name: str) -> dict[str, Any]:
    value = json.loads(example_bytes(name))
    assert isinstance(value, dict)
    return value


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.json"))
