"""The metric names a PromQL expression reads, and the names a /metrics page exports,
so tests can check that the dashboard and the alert rules only use metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import REPO_ROOT

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "switchboard.json"
RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"

_NOT_NAMES = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
_NOT_NAMES |= {"and", "or", "unless", "offset", "inf", "nan"}
_SUFFIXES = {
    "counter": ("",),  # prometheus-client's # TYPE line already names x_total
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "untyped": ("",),
}


def metric_names(expr: str) -> set[str]:
    """Every metric name in `expr`: identifiers that are not functions, keywords or labels."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values may hold anything
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":  # the exponent of a number such as 1e3
            continue
        if text[match.end() :].lstrip().startswith("("):  # a function or an aggregation
            continue
        if match.group(0).lower() not in _NOT_NAMES:
            names.add(match.group(0))
    return names


def exported_names(text: str) -> set[str]:
    """The sample names a Prometheus text page exports, also those of a labelled metric
    that has no series yet (its # TYPE line is there, its samples come with the first use)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names |= {name + suffix for suffix in _SUFFIXES[kind.strip()]}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def dashboard_expressions(path: Path = DASHBOARD) -> list[str]:
    def targets(panels: list[dict[str, Any]]) -> list[str]:
        found = []
        for panel in panels:
            found += [t["expr"] for t in panel.get("targets", [])]
            found += targets(panel.get("panels", []))
        return found

    return targets(json.loads(path.read_text())["panels"])


def rule_expressions(path: Path = RULES) -> list[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [str(rule["expr"]) for group in groups for rule in group["rules"]]
