"""The shapes of the query views' answers: one pydantic model each.

The views build every 200 answer through these models (table-internal fields such as
`offset` are not in them, so they never leave the worker), and streams.openapi documents
the views from the same models: the document cannot drift from what is served.
"""

from pydantic import BaseModel, ConfigDict, Field, RootModel


class Answer(BaseModel):
    # extra="ignore": a table value carries internal fields (offset) that are dropped here.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssetBaseline(Answer):
    """The snapshot the count starts from: Apple's Get Assets counts when it was taken."""

    baselineId: str
    takenAt: int = Field(description="When the MDM fetched it, ms since the epoch.")
    receivedAt: int = Field(description="When the gateway accepted it, ms since the epoch.")
    totalCount: int = Field(description="Licenses owned when it was taken.")
    assignedCount: int = Field(description="Licenses assigned when it was taken (not updated).")
    availableCount: int = Field(description="Licenses unassigned when it was taken (not updated).")


class AssetCount(Answer):
    adamId: str
    pricingParam: str
    count: int = Field(
        description="The baseline's totalCount plus the countDelta values received after it; "
        "without a baseline, the sum of the countDelta values received."
    )
    baseline: AssetBaseline | None = Field(
        default=None, description="null when no baseline was imported for this asset."
    )


class AssetCounts(RootModel[list[AssetCount]]):
    """The organization's assets with a count, in (adamId, pricingParam) order."""

    model_config = ConfigDict(frozen=True)


class AssignmentError(Answer):
    notificationId: str
    eventId: str | None
    type: str
    result: str
    errorMessage: str | None
    errorNumber: int | str | None
    at: int = Field(description="When the gateway received it, ms since the epoch.")


class AssignmentsPage(Answer):
    uId: str
    adamId: str
    pricingParam: str
    clientUserIds: list[str] = Field(description="This page's clientUserIds, in order.")
    serialNumbers: list[str] = Field(
        description="This page's serial numbers, in order, after all clientUserIds."
    )
    lastError: AssignmentError | None = Field(
        description="The last ASSET_MANAGEMENT failure for this asset, if any."
    )
    next: str | None = Field(
        description="Pass as ?after= for the next page; null on the last page."
    )


class UserStatus(Answer):
    uId: str
    clientUserId: str
    email: str | None = None
    inviteCode: str | None = None
    idHash: str | None = None
    status: str | None = None
    updatedAt: int = Field(description="When the gateway received the update, ms since the epoch.")


class UsersPage(Answer):
    users: list[UserStatus]
    next: str | None = Field(
        description="Pass as ?after= for the next page; null on the last page."
    )


class LastTest(Answer):
    uId: str
    notificationId: str
    receivedAt: int


class TenantUrl(Answer):
    tenantId: str
    tenantRestUrl: str
    productUuid: str
    eventId: str
    updatedAt: int


class Problem(Answer):
    """Every refusal: 400, 401, 403, 404, 503 (with Retry-After)."""

    error: str
