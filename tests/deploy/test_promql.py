"""The metric-name extraction the dashboard test relies on (tests/deploy/promql.py)."""

from tests.deploy.promql import (
    dashboard_expressions,
    exported_names,
    metric_names,
    rule_expressions,
)


def test_names_not_functions_labels_or_keywords() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{route=~"/v1/.+", s="x(y)"}'
        "[$__rate_interval]))) / ignoring(x) b_total > 1/60 and on (tenant) c offset 5m or 1e3"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_exported_names_include_metrics_without_series() -> None:
    text = (
        "# HELP x_total Things.\n# TYPE x_total counter\n"  # labelled, no series yet
        "# HELP lat Latency.\n# TYPE lat histogram\n"
        'lat_bucket{le="1.0"} 0.0\nup 1\n'
    )
    names = exported_names(text)
    assert {"x_total", "lat_bucket", "lat_count", "lat_sum", "up"} <= names


def test_the_dashboard_and_rules_have_expressions() -> None:
    assert len(dashboard_expressions()) > 15
    assert len(rule_expressions()) == 7
    assert all(metric_names(e) for e in dashboard_expressions() + rule_expressions())
