"""Topic names: the agreed names, unique, and every type routed to its topic."""

import pytest

from schemas import topics

AGREED = {
    "raw-notifications",
    "notifications.asset-count",
    "notifications.asset-management",
    "notifications.user-management",
    "notifications.user-associated",
    "notifications.test",
    "notifications.tenant-rest-url-change",
    "notifications.other",
    "notifications.dead-letter",
    "notifications.conflicts",
}


def test_all_topics_are_the_agreed_names_each_once() -> None:
    assert len(topics.ALL_TOPICS) == len(set(topics.ALL_TOPICS))
    assert set(topics.ALL_TOPICS) == AGREED


def test_per_type_topics_exclude_raw_dead_letter_and_conflicts() -> None:
    assert set(topics.PER_TYPE_TOPICS) == AGREED - {
        topics.RAW_NOTIFICATIONS,
        topics.DEAD_LETTER,
        topics.CONFLICTS,
    }


@pytest.mark.parametrize(
    ("notification_type", "topic"),
    [
        ("ASSET_COUNT", "notifications.asset-count"),
        ("ASSET_MANAGEMENT", "notifications.asset-management"),
        ("USER_MANAGEMENT", "notifications.user-management"),
        ("USER_ASSOCIATED", "notifications.user-associated"),
        ("TEST_NOTIFICATION", "notifications.test"),
        ("TENANT_REST_URL_CHANGE", "notifications.tenant-rest-url-change"),
        ("SUBSCRIPTION_MANAGEMENT", "notifications.other"),
        ("UNLIMITED_ASSET", "notifications.other"),
        ("asset_count", "notifications.other"),
        ("", "notifications.other"),
    ],
)
def test_topic_for(notification_type: str, topic: str) -> None:
    assert topics.topic_for(notification_type) == topic
