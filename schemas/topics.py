"""Kafka topic names, defined once.

`raw-notifications` is keyed by the organization (uId, or tenantId for app notifications),
so every record of one organization lands in one partition and is processed in order.
The per-type topics keep that key, so consumers of a per-type topic see the same order.
"""

from typing import Final

RAW_NOTIFICATIONS: Final = "raw-notifications"

ASSET_COUNT: Final = "notifications.asset-count"
ASSET_MANAGEMENT: Final = "notifications.asset-management"
USER_MANAGEMENT: Final = "notifications.user-management"
USER_ASSOCIATED: Final = "notifications.user-associated"
TEST: Final = "notifications.test"
TENANT_REST_URL_CHANGE: Final = "notifications.tenant-rest-url-change"
OTHER: Final = "notifications.other"

DEAD_LETTER: Final = "notifications.dead-letter"
CONFLICTS: Final = "notifications.conflicts"

# notificationType (Apple) or eventType (app) -> per-type topic. Anything else goes to OTHER.
TOPIC_BY_TYPE: Final[dict[str, str]] = {
    "ASSET_COUNT": ASSET_COUNT,
    "ASSET_MANAGEMENT": ASSET_MANAGEMENT,
    "USER_MANAGEMENT": USER_MANAGEMENT,
    "USER_ASSOCIATED": USER_ASSOCIATED,
    "TEST_NOTIFICATION": TEST,
    "TENANT_REST_URL_CHANGE": TENANT_REST_URL_CHANGE,
}

PER_TYPE_TOPICS: Final[tuple[str, ...]] = (*TOPIC_BY_TYPE.values(), OTHER)
ALL_TOPICS: Final[tuple[str, ...]] = (RAW_NOTIFICATIONS, *PER_TYPE_TOPICS, DEAD_LETTER, CONFLICTS)


def topic_for(notification_type: str) -> str:
    """The per-type topic for a notification type; unknown types go to `notifications.other`."""
    return TOPIC_BY_TYPE.get(notification_type, OTHER)
