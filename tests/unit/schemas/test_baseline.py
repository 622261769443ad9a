"""The asset-count baseline model: Apple's Get Assets answer plus baselineId and takenAt."""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.baseline import MAX_BASELINE_ASSETS, AssetBaseline, parse_baseline
from schemas.bounds import INT64_MAX

# Apple's documented Get Assets (v2) answer, two of its assets, as an MDM stores it.
GET_ASSETS = Path(__file__).parents[2] / "fixtures" / "get_assets.json"


def body(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GET_ASSETS.read_bytes())
    document.update(baselineId="b-1", takenAt=1_764_587_700_000)
    document.update(changes)
    return document


def errors(document: Any) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        parse_baseline(json.dumps(document))
    return [(e["loc"], e["type"]) for e in caught.value.errors()]


def test_apples_get_assets_answer_with_id_and_time_is_a_baseline() -> None:
    baseline = parse_baseline(json.dumps(body()))
    assert (baseline.uId, baseline.baselineId, baseline.takenAt) == (
        "2049025000431439",
        "b-1",
        1_764_587_700_000,
    )
    first = baseline.assets[0]
    assert (first.adamId, first.pricingParam, first.productType) == ("408709785", "STDQ", "App")
    assert (first.totalCount, first.assignedCount, first.availableCount) == (15000, 5000, 10000)
    assert baseline.model_extra == {  # Apple's other fields are kept, not modelled
        "currentPageIndex": 0,
        "size": 2,
        "tokenExpirationDate": "2030-11-08T22:33:22+0000",
        "totalPages": 1,
        "versionId": "009061cb-87d1-4ea8-ae4c-7849dc49224e",
    }
    assert first.model_extra is not None and first.model_extra["revocable"] is True


@pytest.mark.parametrize("field", ["baselineId", "takenAt", "uId", "assets"])
def test_each_envelope_field_is_required(field: str) -> None:
    document = body()
    del document[field]
    assert errors(document) == [((field,), "missing")]


@pytest.mark.parametrize("field", ["adamId", "pricingParam", "totalCount", "assignedCount"])
def test_each_asset_needs_its_id_and_counts(field: str) -> None:
    document = body()
    del document["assets"][1][field]
    assert errors(document) == [(("assets", 1, field), "missing")]


@pytest.mark.parametrize(
    ("count", "kind"),
    [
        (-1, "greater_than_equal"),
        (INT64_MAX + 1, "less_than_equal"),
        ("15000", "int_type"),  # strict: a string is not a number
        (1.5, "int_type"),
        (True, "int_type"),
    ],
)
def test_counts_are_non_negative_64_bit_integers(count: Any, kind: str) -> None:
    document = body()
    document["assets"][0]["totalCount"] = count
    assert errors(document) == [(("assets", 0, "totalCount"), kind)]


@pytest.mark.parametrize("taken_at", [0, -5, 10**13, "2026-12-01T11:00:00Z", True])
def test_taken_at_is_epoch_milliseconds(taken_at: Any) -> None:
    assert [loc for loc, _ in errors(body(takenAt=taken_at))] == [("takenAt",)]


def test_ids_are_bounded_and_non_empty() -> None:
    assert errors(body(uId="")) == [(("uId",), "string_too_short")]
    assert errors(body(baselineId="x" * 1025)) == [(("baselineId",), "string_too_long")]


def test_an_asset_listed_twice_is_ambiguous() -> None:
    document = body()
    document["assets"][1]["adamId"] = document["assets"][0]["adamId"]
    assert errors(document) == [(("assets",), "value_error")]
    document["assets"][1]["pricingParam"] = "PLUS"  # another asset: fine
    assert len(parse_baseline(json.dumps(document)).assets) == 2


def test_the_asset_list_is_bounded() -> None:
    asset = body()["assets"][0]
    many = [{**asset, "adamId": str(i)} for i in range(MAX_BASELINE_ASSETS + 1)]
    assert errors(body(assets=many)) == [(("assets",), "too_long")]


def test_a_body_that_is_not_strict_json_is_json_invalid() -> None:
    repeated = b'{"uId": "1", "uId": "2", "baselineId": "b", "takenAt": 1, "assets": []}'
    for raw in (b"not json", repeated):
        with pytest.raises(ValidationError) as caught:
            parse_baseline(raw)
        assert caught.value.errors()[0]["type"] == "json_invalid"


def test_the_model_is_frozen() -> None:
    baseline = AssetBaseline.model_validate(body())
    with pytest.raises(ValidationError):
        baseline.uId = "other"  # type: ignore[misc]
