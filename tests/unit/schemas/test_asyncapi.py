"""The AsyncAPI document: up to date, one channel per topic written, every reference resolves."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas import generate, topics
from schemas import headers as h

DOCUMENT = generate.ASYNCAPI_FILE


def committed() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return document


def test_the_committed_document_is_what_the_contracts_generate() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == generate.render_asyncapi(), (
        "schemas/asyncapi.yaml is out of date; run: python -m schemas.generate"
    )


def test_every_topic_switchboard_writes_is_a_channel_with_a_send_operation() -> None:
    document = committed()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(topics.ALL_TOPICS)
    sent = {op["channel"]["$ref"] for op in document["operations"].values()}
    assert sent == {f"#/channels/{name}" for name in document["channels"]}
    assert {op["action"] for op in document["operations"].values()} == {"send"}


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_resolves() -> None:
    document = committed()
    for ref in refs(document):
        if ref.startswith("./"):
            assert (DOCUMENT.parent / ref).is_file(), ref
        else:
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
            assert isinstance(target, dict), ref


def message(topic: str) -> dict[str, Any]:
    document = committed()
    found: list[dict[str, Any]] = [
        document["components"]["messages"][name]
        for name, channel in document["channels"].items()
        if channel["address"] == topic
    ]
    [only] = found
    return only


def header_names(topic: str) -> set[str]:
    return set(message(topic)["headers"]["properties"])


def test_headers_are_those_the_gateway_and_the_workers_set() -> None:
    gateway = {h.TENANT, h.SOURCE, h.RECEIVED_AT, h.CONTENT_SHA256, h.REQUEST_ID, h.TRACEPARENT}
    gateway |= {h.REDRIVE_SOURCE, h.REDRIVE_RECEIVED_AT}  # on redriven dead letters
    assert header_names(topics.RAW_NOTIFICATIONS) == gateway
    for topic in topics.PER_TYPE_TOPICS:
        assert header_names(topic) == gateway | {h.SOURCE_OFFSET}, topic
    dead = {h.DEAD_LETTER_REASON, h.DEAD_LETTER_SOURCE, h.DEAD_LETTER_OMITTED}
    assert header_names(topics.DEAD_LETTER) == gateway | {h.SOURCE_OFFSET} | dead
    assert h.CONFLICT_FIRST_SHA256 in header_names(topics.CONFLICTS)


def test_each_per_type_payload_is_its_json_schema_file() -> None:
    for topic in topics.PER_TYPE_TOPICS:
        assert message(topic)["payload"] == {"$ref": f"./jsonschema/{topic}.schema.json"}
    raw = message(topics.RAW_NOTIFICATIONS)["payload"]["anyOf"]
    assert raw[:-1] == [{"$ref": f"./jsonschema/{t}.schema.json"} for t in topics.PER_TYPE_TOPICS]
    assert raw[-1] == {"$ref": "#/components/schemas/AssetBaseline"}  # the gateway's baselines


def test_check_mode_names_a_stale_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text("asyncapi: 3.0.0\n", encoding="utf-8")
    # --dir too: without it the write below regenerates the repository's own JSON Schema
    # files, which under another pydantic version silently rewrote them.
    paths = ["--asyncapi", str(stale), "--dir", str(tmp_path / "jsonschema")]
    assert generate.main(["--check", *paths]) == 1
    assert str(stale) in capsys.readouterr().err
    assert generate.main(paths) == 0
    assert generate.main(["--check", *paths]) == 0
