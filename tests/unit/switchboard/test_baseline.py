"""`switchboard baseline import`: the body it builds from a Get Assets file, and its answers."""

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from schemas.baseline import parse_baseline
from switchboard import baseline
from switchboard.cli import app
from switchboard.localkafka import free_port

UID = "2049025000431439"
GET_ASSETS = Path(__file__).parents[2] / "fixtures" / "get_assets.json"
runner = CliRunner()


@pytest.fixture
def page(tmp_path: Path) -> Path:
    file = tmp_path / "assets.json"
    file.write_bytes(GET_ASSETS.read_bytes())
    os.utime(file, (1_764_587_700, 1_764_587_700))
    return file


class Gateway:
    """Stands in for httpx.post: keeps each request, answers `status`."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, content: bytes, headers: dict[str, str], **_: Any) -> Any:
        self.requests.append((url, content, headers))
        answer = {"status": "accepted"} if self.status == 202 else {"detail": "no"}
        return httpx.Response(self.status, json=answer)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Gateway:
    fake = Gateway()
    monkeypatch.setattr(httpx, "post", fake)
    return fake


def test_the_file_is_posted_with_its_uid_time_and_a_content_derived_id(
    page: Path, gateway: Gateway
) -> None:
    done = baseline.import_file(page, UID, "tok", "http://gw:8080/")
    [(url, body, headers)] = gateway.requests
    assert url == "http://gw:8080/v1/asset-baselines"
    assert headers["Authorization"] == "Bearer tok"
    sent = parse_baseline(body)
    assert (sent.uId, sent.takenAt, sent.baselineId) == (UID, 1_764_587_700_000, done.baseline_id)
    assert len(sent.assets) == done.assets == 2
    assert sent.model_extra and sent.model_extra["versionId"]  # the rest of Apple's answer
    baseline.import_file(page, UID, "tok", "http://gw:8080")  # a retry: the same id
    assert parse_baseline(gateway.requests[1][1]).baselineId == done.baseline_id
    later = baseline.import_file(page, UID, "tok", "http://gw", "2026-12-01T12:00:00Z")
    assert later.taken_at_ms == 1_796_126_400_000 and later.baseline_id != done.baseline_id


def test_a_file_with_its_own_id_and_time_keeps_them(tmp_path: Path, gateway: Gateway) -> None:
    document = json.loads(GET_ASSETS.read_bytes()) | {"baselineId": "mine", "takenAt": 5}
    file = tmp_path / "b.json"
    file.write_text(json.dumps(document))
    done = baseline.import_file(file, UID, "tok", "http://gw")
    assert (done.baseline_id, done.taken_at_ms) == ("mine", 5)


@pytest.mark.parametrize(
    ("content", "uid", "taken_at", "message"),
    [
        (None, "9999", None, "the file is the answer for uId '2049025000431439', not '9999'"),
        (b"{", UID, None, "not JSON"),
        (b'{"assets": "none"}', UID, None, "not a Get Assets answer: no `assets` list"),
        (b'{"assets": [{"adamId": "1"}]}', UID, None, "assets.0.pricingParam: Field required"),
        (None, UID, "yesterday", "--taken-at 'yesterday' is not an ISO 8601 time"),
        (None, UID, "2026-12-01T11:00", "needs a zone"),
    ],
)
def test_a_file_or_time_that_cannot_be_a_baseline_is_refused_before_posting(
    page: Path,
    gateway: Gateway,
    content: bytes | None,
    uid: str,
    taken_at: str | None,
    message: str,
) -> None:
    if content is not None:
        page.write_bytes(content)
    with pytest.raises(baseline.BaselineImportError, match=message.replace("?", r"\?")):
        baseline.import_file(page, uid, "tok", "http://gw", taken_at)
    assert gateway.requests == []


def test_the_command_prints_what_was_accepted(page: Path, gateway: Gateway) -> None:
    result = runner.invoke(app, ["baseline", "import", "--uid", UID, "--token", "t", str(page)])
    assert result.exit_code == 0, result.output
    assert "accepted baseline" in result.output and "2 assets" in result.output


def test_a_refusal_by_the_gateway_is_one_line_and_exit_1(page: Path, gateway: Gateway) -> None:
    gateway.status = 403
    result = runner.invoke(app, ["baseline", "import", "--uid", UID, "--token", "t", str(page)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert "/v1/asset-baselines: 403" in result.output


def test_no_gateway_is_one_line_and_exit_1(page: Path) -> None:
    gateway = f"http://127.0.0.1:{free_port()}"
    args = ["baseline", "import", "--uid", UID, "--token", "t", "--gateway", gateway, str(page)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.output.startswith(f"switchboard baseline import: {gateway}/v1/asset-baselines:")
    assert result.output.strip().count("\n") == 0
