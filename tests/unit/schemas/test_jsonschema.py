"""The committed JSON Schema files match the models they are generated from."""

from pathlib import Path

import pytest

from schemas import generate, topics

REGENERATE = "JSON Schema files are out of date; run: python -m schemas.generate"


def test_committed_schema_files_match_the_models() -> None:
    committed = {
        path.name: path.read_text(encoding="utf-8")
        for path in generate.SCHEMA_DIR.glob(f"*{generate.SUFFIX}")
    }
    expected = generate.rendered()
    assert sorted(committed) == sorted(expected), REGENERATE
    for name, text in expected.items():
        assert committed[name] == text, f"{name}: {REGENERATE}"


def test_every_per_type_topic_has_a_schema_named_after_it() -> None:
    assert set(generate.PAYLOAD_BY_TOPIC) == set(topics.PER_TYPE_TOPICS)
    assert sorted(generate.rendered()) == sorted(
        f"{topic}.schema.json" for topic in topics.PER_TYPE_TOPICS
    )


def test_check_mode_passes_on_the_committed_files() -> None:
    assert generate.main(["--check"]) == 0


def test_check_mode_fails_on_a_changed_missing_or_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate.main(["--dir", str(tmp_path)]) == 0
    assert generate.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "notifications.test.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "notifications.other.schema.json").unlink()
    (tmp_path / "notifications.gone.schema.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert generate.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    for name in ("notifications.test", "notifications.other", "notifications.gone"):
        assert f"{name}.schema.json" in err
    assert "python -m schemas.generate" in err
    assert generate.main(["--dir", str(tmp_path)]) == 0
    assert generate.stale(tmp_path) == []


def test_output_is_deterministic_and_newline_terminated() -> None:
    first, second = generate.rendered(), generate.rendered()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert '\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n' in text
