"""The local broker's settings, without starting it."""

from switchboard import localkafka


def cluster() -> localkafka.Cluster:
    node = localkafka.Node(1, 9092, 9192, "/tmp/data", "/tmp/kafka.log")
    return localkafka.Cluster("/tmp", "id", [node])


def properties(overrides: dict[str, str] | None = None) -> dict[str, str]:
    c = cluster()
    text = localkafka._properties(c, c.nodes[0], overrides)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_local_broker_creates_no_topic_by_itself() -> None:
    """As production clusters: a client asking for a missing topic must not get one with
    the default partition count (the workers then refused it forever)."""
    assert properties()["auto.create.topics.enable"] == "false"


def test_overrides_replace_a_setting() -> None:
    assert properties({"auto.create.topics.enable": "true"})["auto.create.topics.enable"] == "true"
