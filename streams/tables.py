"""The worker's tables. Values are JSON objects (dicts); keys are built by streams.keys.

A table is written only while an event of raw-notifications is processed, through
streams.store, to the partition of that event: the partition of its organization
(raw-notifications is keyed by uId / tenantId), hence one organization's updates all
land in one changelog partition. Every value holds the `offset` of the last source
event applied to it: see streams.updates.

Every row is bounded in size by construction: a value holds a fixed set of fields, each
a number or a string that schemas bounds (an id, an email, an error message), never a
list that grows with the organization. An organization of 100,000 devices is 100,000
small rows, not one value that one day passes Kafka's record limit (max.message.bytes)
and stops its changelog partition. The assignments are one row per (uId, adamId,
pricingParam, serial number or clientUserId): `assignment_rows`, read a page at a time.

Names. A layout change takes a new table name (hence a new changelog topic): the old
`assignments` table, one list per asset, is not read by this version; its changelog
`<app_id>-assignments-changelog` can be deleted after an upgrade (README, "Upgrading").
"""

from typing import Any

from faust.types import TableT

from streams.app import app, settings

Table = TableT[Any, Any]  # keys str, values dict: see the module docstring


def _table(name: str, help: str) -> Table:
    return app.Table(
        name,
        # bytes: the "raw" key codec. The router hashes the serialized key to find the
        # worker holding it, and must hash b"<uId>" exactly as the producer of
        # raw-notifications did (with str, the JSON codec would hash b'"<uId>"').
        key_type=bytes,
        partitions=settings.partitions,
        help=help,
        options=settings.rocksdb_options(),  # bounded memory (streams.config)
    )


seen_notifications = _table(
    "seen_notifications",
    "First sighting of each (source, organization, notification id): sha256, position, "
    "time. Keys start with a time bucket so expiry deletes the oldest keys first.",
)
asset_counts = _table(
    "asset_counts",
    "Asset count per (uId, adamId, pricingParam): the totalCount of its last baseline plus "
    "the countDelta after it, or without a baseline the sum of countDelta.",
)
assignment_rows = _table(
    "assignment_rows",
    "One row per (uId, adamId, pricingParam, serialNumber or clientUserId): assigned or "
    "not since the last ASSET_MANAGEMENT success naming it.",
)
assignment_errors = _table(
    "assignment_errors",
    "The last ASSET_MANAGEMENT failure per (uId, adamId, pricingParam).",
)
user_status = _table("user_status", "Status, email, inviteCode, idHash per (uId, clientUserId).")
last_tests = _table("last_tests", "Last TEST_NOTIFICATION per uId.")
tenant_urls = _table("tenant_urls", "tenantRestUrl, productUuid and eventId per app tenantId.")

# The tables an update can name (streams.updates.Change.table) and the query views read.
TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        seen_notifications,
        asset_counts,
        assignment_rows,
        assignment_errors,
        user_status,
        last_tests,
        tenant_urls,
    )
}
