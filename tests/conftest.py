"""Every test's setup lives in fixture modules under tests/plugins/, registered here.

A directory's own conftest.py holds only the fixtures of that directory; constants and
helpers shared by tests live in plain modules (e.g. tests/unit/gateway/support.py) that
tests import. No test imports a conftest or another test module.
"""

pytest_plugins = ["tests.plugins.services", "tests.plugins.deadlines"]
