"""`switchboard dead-letters`: reading dead letters, --reason/--since, planning a redrive."""

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from schemas import headers as h
from streams.keys import partition_for
from switchboard.cli import app
from switchboard.deadletters import (
    GONE,
    NO_KEY,
    PARTITION_MOVED,
    DeadLetter,
    DeadLetterError,
    DeadLetterSettings,
    Position,
    Record,
    Redrive,
    check_kind,
    parse_since,
    plan,
    selected,
    table,
)
from tests.examples import example_bytes

UID = "2049025000431439"
AT, NOW = 1_700_000_000_000, 1_700_000_900_000
RAW = "raw-notifications"
PARTITIONS = 8
HOME = partition_for(UID, PARTITIONS)
GATEWAY = (
    (h.TENANT, b"acme"),
    (h.SOURCE, b"apple"),
    (h.RECEIVED_AT, str(AT).encode()),
    (h.REQUEST_ID, b"req-1"),
)


def dead_letter(
    value: bytes,
    reason: str = "cannot-apply: too big",
    key: bytes | None = UID.encode(),
    source: str = f"{RAW}/{HOME}/10",
    headers: tuple[tuple[str, bytes], ...] = GATEWAY,
    at: int = AT + 1,
) -> DeadLetter:
    """A dead letter as streams.agents.dead_letter writes it."""
    record = Record(
        key,
        value,
        (
            *headers,
            (h.DEAD_LETTER_REASON, reason.encode()),
            (h.DEAD_LETTER_SOURCE, source.encode()),
            (h.SOURCE_OFFSET, source.rsplit("/", 1)[1].encode()),
        ),
    )
    return DeadLetter(record, HOME, 3, at)


def test_a_row_says_what_when_why_and_from_where() -> None:
    row = dead_letter(example_bytes("apple_asset_count")).row()
    assert row == {
        "deadLetteredAt": "2023-11-14T22:13:20+00:00",
        "receivedAt": "2023-11-14T22:13:20+00:00",
        "kind": "cannot-apply",
        "reason": "cannot-apply: too big",
        "source": f"{RAW}/{HOME}/10",
        "redriveOf": None,
        "omittedBytes": None,
        "tenant": "acme",
        "requestId": "req-1",
        "type": "ASSET_COUNT",
        "org": UID,
        "id": "4a7801be-53f0-42e1-9505-81c0d1dc9da3",
        "at": f"{HOME}/3",
    }


def test_an_app_notification_and_garbage_are_read_where_readable() -> None:
    app_row = dead_letter(example_bytes("app_tenant_rest_url_change")).row()
    assert (app_row["type"], app_row["org"]) == ("TENANT_REST_URL_CHANGE", "312022")
    garbage = dead_letter(b"\x00 not json", reason="invalid-body: (body): not JSON").row()
    assert (garbage["kind"], garbage["type"], garbage["org"], garbage["id"]) == (
        "invalid-body",
        None,
        None,
        None,
    )


@pytest.mark.parametrize("bad", ["²", "-5", "", "1.5", "x"])
def test_a_header_number_that_is_not_one_reads_as_none(bad: str) -> None:
    headers = ((h.RECEIVED_AT, bad.encode()), (h.DEAD_LETTER_OMITTED, bad.encode()))
    row = dead_letter(example_bytes("apple_asset_count"), headers=headers).row()
    assert row["receivedAt"] is None and row["omittedBytes"] is None


def test_the_table_has_a_line_per_dead_letter() -> None:
    rows = [dead_letter(example_bytes("apple_asset_count")).row()]
    lines = table(rows).splitlines()
    head = "DEAD-LETTERED REASON RAW POSITION TENANT TYPE ORG ID"
    assert lines[0].split() == head.split()
    assert lines[1].split()[1:4] == ["cannot-apply", f"{RAW}/{HOME}/10", "acme"]


def test_since_takes_a_time_or_a_duration_ago() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2h", now) == int(
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_since("30m", now) == int(now.timestamp() * 1000) - 30 * 60_000
    assert parse_since("2026-12-01T09:00:00Z", now) == parse_since("2026-12-01T09:00", now)
    assert parse_since("2026-12-01", now) == int(
        datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000
    )
    with pytest.raises(DeadLetterError, match="ISO 8601"):
        parse_since("yesterday", now)


def test_reason_must_be_a_kind() -> None:
    check_kind("invalid-body")
    check_kind(None)
    with pytest.raises(DeadLetterError, match=r"not a dead-letter kind.*redrive-refused"):
        check_kind("invalid")


def test_selected_by_kind_and_time() -> None:
    body = example_bytes("apple_asset_count")
    old = dead_letter(body, at=AT)
    new = dead_letter(body, reason="invalid-body: x", at=AT + 10)
    assert selected([old, new], None, None) == [old, new]
    assert selected([old, new], "invalid-body", None) == [new]
    assert selected([old, new], None, AT + 5) == [new]


def test_a_redrive_is_the_original_with_its_origin_and_the_redrive_time() -> None:
    body = example_bytes("apple_asset_count")
    letter = dead_letter(body)
    redrive = plan(letter.original(), Position(RAW, HOME, 10), PARTITIONS, NOW)
    assert redrive == Redrive(
        HOME,
        UID.encode(),
        body,
        (
            (h.TENANT, b"acme"),
            (h.SOURCE, b"apple"),
            (h.REQUEST_ID, b"req-1"),
            (h.RECEIVED_AT, str(NOW).encode()),
            (h.REDRIVE_SOURCE, f"{RAW}/{HOME}/10".encode()),
            (h.REDRIVE_RECEIVED_AT, str(AT).encode()),
        ),
    )


def test_a_redrive_dead_lettered_again_keeps_the_first_origin() -> None:
    body = example_bytes("apple_asset_count")
    first = (
        *[(k, v) for k, v in GATEWAY if k != h.RECEIVED_AT],
        (h.RECEIVED_AT, str(NOW).encode()),
        (h.REDRIVE_SOURCE, f"{RAW}/{HOME}/10".encode()),
        (h.REDRIVE_RECEIVED_AT, str(AT).encode()),
    )
    letter = dead_letter(body, source=f"{RAW}/{HOME}/50", headers=first)
    redrive = plan(letter.original(), Position(RAW, HOME, 50), PARTITIONS, NOW + 1)
    assert isinstance(redrive, Redrive)
    headers = dict(redrive.headers)
    assert headers[h.REDRIVE_SOURCE] == f"{RAW}/{HOME}/10".encode()
    assert headers[h.REDRIVE_RECEIVED_AT] == str(AT).encode()
    assert headers[h.RECEIVED_AT] == str(NOW + 1).encode()
    assert [k for k, _ in redrive.headers].count(h.REDRIVE_SOURCE) == 1


def test_a_record_keyed_wrongly_is_keyed_as_the_gateway_keys_it() -> None:
    body = example_bytes("apple_asset_count")
    letter = dead_letter(body, reason="key-mismatch: x", key=b"someone-else")
    redrive = plan(letter.original(), Position(RAW, HOME, 10), PARTITIONS, NOW)
    assert isinstance(redrive, Redrive) and redrive.key == UID.encode()


def test_a_redrive_that_would_land_in_another_partition_is_skipped() -> None:
    body = example_bytes("apple_asset_count")
    other = (HOME + 1) % PARTITIONS  # e.g. partitions were added since
    letter = dead_letter(body, source=f"{RAW}/{other}/10")
    assert plan(letter.original(), Position(RAW, other, 10), PARTITIONS, NOW) == PARTITION_MOVED
    garbage = dead_letter(b"not json", key=None)
    assert plan(garbage.original(), Position(RAW, HOME, 10), PARTITIONS, NOW) == NO_KEY


def test_position_parse() -> None:
    assert Position.parse("it1.raw-notifications/3/42") == Position("it1.raw-notifications", 3, 42)
    assert Position.parse("nonsense") is None
    assert Position.parse("t/x/1") is None
    assert Position.parse("t/-1/1") is None
    assert Position.parse("t/\u00b2/1") is None  # isdigit() but not int()
    assert str(Position("t", 3, 42)) == "t/3/42"
    assert GONE.startswith("its original was omitted")


runner = CliRunner()


@pytest.mark.parametrize("command", ["list", "redrive"])
def test_help_lists_every_variable_the_commands_read(command: str) -> None:
    result = runner.invoke(app, ["dead-letters", command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in DeadLetterSettings.model_fields:
        assert f"SWITCHBOARD_{name.upper()}=" in result.output, name


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["list", "--reason", "nope"], "--reason 'nope': not a dead-letter kind"),
        (["redrive", "--reason", "nope"], "--reason 'nope': not a dead-letter kind"),
        (["list", "--since", "soon"], "--since 'soon': give an ISO 8601 time"),
        (["redrive", "--since", "soon", "--dry-run"], "--since 'soon': give an ISO 8601 time"),
    ],
)
def test_bad_options_are_one_line_and_exit_1(args: list[str], says: str) -> None:
    result = runner.invoke(app, ["dead-letters", *args])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith(f"switchboard dead-letters: {says}")


def test_incomplete_kafka_settings_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    result = runner.invoke(app, ["dead-letters", "list"])
    assert result.exit_code == 1
    assert (
        "settings refused" in result.output and "SWITCHBOARD_KAFKA_SASL_USERNAME" in result.output
    )
    assert len(result.output.strip().splitlines()) == 1
