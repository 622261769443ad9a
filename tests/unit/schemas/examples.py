"""The reference documents' JSON examples stored in tests/fixtures/examples/."""

import json
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).parents[2] / "fixtures" / "examples"


def example_bytes(name: str) -> bytes:
    return (EXAMPLES_DIR / f"{name}.json").read_bytes()


def example(name: str) -> dict[str, Any]:
    value = json.loads(example_bytes(name))
    assert isinstance(value, dict)
    return value


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES_DIR.glob("*.json"))
