"""switchboard.rebuild's decisions, without Kafka: what it refuses, warns and plans."""

from pathlib import Path

from switchboard.rebuild import Span, Survey, refusal, summary


def survey(*spans: Span, members: int = 0) -> Survey:
    return Survey("sb", "raw-notifications", members, list(spans), ["sb-a-changelog"], 10)


def test_a_group_with_members_is_refused_naming_the_group_and_what_to_do() -> None:
    message = refusal(survey(Span(0, 0, 5, 5), members=2))
    assert message is not None
    assert "the worker group sb has 2 members: stop every worker first" in message
    assert refusal(survey(Span(0, 0, 5, 5))) is None


def test_records_past_retention_are_warned_with_the_numbers() -> None:
    s = survey(Span(0, 0, 50, 50), Span(1, 120, 300, 300), Span(2, 40, 90, 10))
    assert s.warnings() == [
        "raw-notifications partition 1 starts at offset 120: the 120 records before it are "
        "past retention, and their updates will not be in the rebuilt tables",
        "raw-notifications partition 2 starts at offset 40: the 40 records before it are "
        "past retention, and their updates will not be in the rebuilt tables",
        "raw-notifications partition 2: the worker group had processed only up to offset "
        "10; records 10..39 were never processed and are gone",
    ]
    assert survey(Span(0, 0, 50, 50)).warnings() == []


def test_the_plan_names_the_topics_the_directory_and_the_floors(tmp_path: Path) -> None:
    s = survey(Span(0, 0, 50, 48), Span(1, 10, 30, 30))
    plan = s.plan(tmp_path / "tables")
    assert plan[0] == "delete the changelog topics (1): sb-a-changelog"
    assert plan[1].endswith("tables (absent here)")
    assert "replay 70 records" in plan[2]
    assert plan[2].endswith("below the group's offsets 0:48, 1:30")


def test_the_summary_counts_what_the_outputs_got() -> None:
    text = summary(survey(Span(0, 0, 50, 50)), 7, 13, 2.0)
    assert text.startswith("rebuilt the 7 tables from 50 records of raw-notifications")
    assert "records written to the output topics meanwhile: 3" in text
