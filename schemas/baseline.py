"""An asset-count baseline: Apple's Get Assets answer for one organization, and when it was taken.

ASSET_COUNT notifications carry only a countDelta (a purchase, a transfer, a refund changes
an asset's total license count), so summing them gives the change since Switchboard first
listened, not the count Apple's portal shows. The provider's MDM already fetches the
absolute counts with Apple's Get Assets (GET /mdm/v2/assets): its `assets` array holds,
per adamId and pricingParam, `totalCount`, `assignedCount` and `availableCount`.

A baseline is that answer, as the MDM fetched it (its other fields, such as
currentPageIndex or versionId, and each asset's productType, revocable, ... are kept in
the record but never stored), plus two fields Apple's answer lacks:

- `baselineId`: chosen by the sender, unique per snapshot. A resend with the same id is a
  duplicate and is dropped (a retried import never resets a count twice).
- `takenAt`: when the MDM fetched it, ms since the epoch.

It travels through raw-notifications keyed by its uId, so it is ordered with that
organization's deltas: the count becomes `totalCount`, and the deltas after it add to it.
An asset the baseline does not list keeps its count (Get Assets is paginated and
filtered by pricingParam and productType: absent is not zero).
"""

from typing import Annotated, Final

from pydantic import Field, field_validator

from schemas.apple import AppleModel
from schemas.bounds import INT64_MAX, Id, OptionalId
from schemas.strictjson import load_json

BASELINE_TYPE: Final = "ASSET_BASELINE"  # its type in the worker (metrics, dedupe)
MAX_BASELINE_ASSETS: Final = 20_000  # one table row each; a 1 MiB body holds fewer
MAX_TIME_MS: Final = 10**13  # year 2286, as for the gateway's receive time

Count = Annotated[int, Field(ge=0, le=INT64_MAX)]


class BaselineAsset(AppleModel):
    """One element of Get Assets' `assets` (Apple's ResponseAsset); counts are licenses."""

    adamId: Id
    pricingParam: Id = Field(examples=["STDQ", "PLUS"])
    totalCount: Count = Field(description="Licenses the organization owns.")
    assignedCount: Count = Field(description="Licenses assigned to a user or a device.")
    availableCount: Count = Field(description="Licenses left to assign.")
    productType: OptionalId | None = Field(default=None, examples=["App", "Book"])


class AssetBaseline(AppleModel):
    """A Get Assets answer with `baselineId` and `takenAt` added; `uId` names the organization."""

    baselineId: Id = Field(description="Unique per snapshot; a resend with the same id is dropped.")
    uId: Id = Field(description="The organization (location) the counts are of.")
    takenAt: int = Field(
        gt=0, lt=MAX_TIME_MS, description="When the MDM fetched it, ms since the epoch."
    )
    assets: list[BaselineAsset] = Field(max_length=MAX_BASELINE_ASSETS)

    @field_validator("assets")
    @classmethod
    def _each_asset_once(cls, assets: list[BaselineAsset]) -> list[BaselineAsset]:
        seen: set[tuple[str, str]] = set()
        for asset in assets:
            key = (asset.adamId, asset.pricingParam)
            if key in seen:
                raise ValueError(
                    f"adamId {asset.adamId[:64]!r} with pricingParam {asset.pricingParam[:64]!r} "
                    "is listed twice: which count holds is ambiguous"
                )
            seen.add(key)
        return assets


def parse_baseline(raw: bytes | str) -> AssetBaseline:
    """Validate a raw JSON body; pydantic.ValidationError, and nothing else, if it is not one
    (a body that is not strict JSON is one error of type "json_invalid", as parse_apple)."""
    return AssetBaseline.model_validate(load_json(raw, AssetBaseline.__name__))
