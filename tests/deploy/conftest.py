"""Fixtures for the deployment files: kustomize, installed once from the Go module proxy
by scripts/install-kustomize.sh (pinned there), and every overlay rendered once per run.

No cluster and no Docker engine: everything here is offline validation. If kustomize
cannot be installed the tests fail; they are never skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import REPO_ROOT, Manifest, Rendered

OVERLAYS = ("dev", "prod")
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-kustomize.sh"


@pytest.fixture(scope="session")
def kustomize(pytestconfig: pytest.Config) -> Path:
    # The first install compiles kustomize (a minute or more on 2 cores: beyond the tests'
    # 60 s timeout on a slow machine), so `make test` runs it first (`make kustomize`);
    # here it only finds the binary, unless pytest was run on its own.
    # The script's own lines (what it builds, how long it took) reach the terminal as they
    # come, past pytest's capture: otherwise the first run looks hung for a minute.
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    errors = []
    with subprocess.Popen(  # the context closes both pipes (a ResourceWarning otherwise)
        ["bash", str(INSTALL_SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stderr:
            errors.append(line)
            if line.startswith("install-kustomize:") and reporter and capture:
                with capture.global_and_fixture_disabled():
                    reporter.write_line(line.rstrip())
        path = proc.stdout.read()
    if proc.returncode != 0:
        pytest.fail(f"cannot install kustomize:\n{''.join(errors)[-4000:]}", pytrace=False)
    return Path(path.strip().splitlines()[-1])


def render(kustomize: Path, overlay: str) -> list[Manifest]:
    result = subprocess.run(
        [str(kustomize), "build", str(REPO_ROOT / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"kustomize build {overlay} failed:\n{result.stderr}", pytrace=False)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered(kustomize: Path) -> dict[str, list[Manifest]]:
    """Every overlay's objects, as `kustomize build` prints them."""
    return {overlay: render(kustomize, overlay) for overlay in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, rendered: dict[str, list[Manifest]]) -> Rendered:
    """Each overlay in turn, for the rules every overlay keeps."""
    return Rendered(request.param, rendered[request.param])


@pytest.fixture
def dev(rendered: dict[str, list[Manifest]]) -> Rendered:
    return Rendered("dev", rendered["dev"])


@pytest.fixture
def prod(rendered: dict[str, list[Manifest]]) -> Rendered:
    return Rendered("prod", rendered["prod"])
