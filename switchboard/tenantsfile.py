"""`write_tenants`: the one way the tests, the benchmarks and the load generator write a
tenants file. They build the config as a dict (the shape schemas.tenants reads) and
leave the writing here, so a change of format is made once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def write_tenants(path: Path, config: Mapping[str, Any]) -> Path:
    """Write `config` to `path` as YAML, whole (never checked: refusal tests write bad
    ones on purpose), and return `path`."""
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path
