"""scripts/install-kustomize.sh says what its one slow step does and how long it took,
on stderr, leaving stdout to the binary's path; with a stand-in `go`, no network."""

import shutil
import subprocess
from pathlib import Path

from tests.deploy.manifests import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install-kustomize.sh"


def fake_go(bin_dir: Path) -> None:
    """A `go install` that puts a kustomize answering its pinned version into $GOBIN."""
    version = next(
        line.split('"')[1]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith("KUSTOMIZE_VERSION=")
    )
    bin_dir.mkdir()
    (bin_dir / "go").write_text(
        "#!/bin/sh\n"
        'printf \'#!/bin/sh\\necho "%s"\\n\' "' + version + '" > "$GOBIN/kustomize"\n'
        'chmod +x "$GOBIN/kustomize"\n'
    )
    (bin_dir / "go").chmod(0o755)


def run(repo: Path, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "scripts" / "install-kustomize.sh")],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_build_is_announced_with_its_duration_and_a_reuse_is_silent(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, repo / "scripts")
    fake_go(tmp_path / "bin")
    path = f"{tmp_path / 'bin'}:/usr/bin:/bin"

    first = run(repo, path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"{repo}/.tools/bin/kustomize\n"
    said = [line for line in first.stderr.splitlines() if line.startswith("install-kustomize:")]
    assert len(said) == 2, first.stderr
    assert said[0].startswith("install-kustomize: building kustomize v")
    assert "first run only" in said[0] and "about a minute" in said[0]
    assert said[1].startswith("install-kustomize: done in ") and said[1].endswith(" s")

    again = run(repo, path)
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, "")
