"""streams.topicids: the changelogs' topic ids, asked again while a broker has not yet
learnt of topics just created."""

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streams import topicids
from streams.config import WorkerSettings
from streams.errors import TopicSetupError


class _Admin:
    """describe_topics answering with `errors` first (one per call), then the ids."""

    def __init__(self, errors: list[int]) -> None:
        self.errors = errors
        self.calls = 0

    def describe_topics(self, topics: Any, request_timeout: float) -> dict[str, Future[Any]]:
        self.calls += 1
        future: Future[Any] = Future()
        if self.errors:
            future.set_exception(KafkaException(KafkaError(self.errors.pop(0))))
        else:
            future.set_result(SimpleNamespace(topic_id="id-1"))
        return {"t-changelog": future}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> _Admin:
    fake = _Admin([])
    monkeypatch.setattr(topicids, "AdminClient", lambda config: fake)
    monkeypatch.setattr(topicids, "RETRY_S", 0.0)
    return fake


def test_a_topic_not_yet_known_to_the_broker_is_described_again(admin: _Admin) -> None:
    admin.errors = [KafkaError.UNKNOWN_TOPIC_OR_PART] * 2
    assert topicids.topic_ids(WorkerSettings(), ["t-changelog"]) == {"t-changelog": "id-1"}
    assert admin.calls == 3


def test_any_other_error_is_one_clear_refusal_at_once(admin: _Admin) -> None:
    admin.errors = [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    with pytest.raises(TopicSetupError, match="cannot describe the changelog topics"):
        topicids.topic_ids(WorkerSettings(), ["t-changelog"])
    assert admin.calls == 1


def test_a_topic_that_stays_unknown_is_refused_after_the_timeout(admin: _Admin) -> None:
    admin.errors = [KafkaError.UNKNOWN_TOPIC_OR_PART] * 1000
    with pytest.raises(TopicSetupError, match="Unknown topic"):
        topicids.topic_ids(WorkerSettings(), ["t-changelog"], timeout_s=0.05)
