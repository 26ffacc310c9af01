"""`invoke FILE.json --digest/--tag`: which fields are replaced, and the one-line errors for bad files."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest

from promoter.cli import CliFailure
from promoter.cli.exits import EXIT_USAGE
from promoter.cli.replay import load_event, substituted


def _digest() -> str:
    return "sha256:" + uuid.uuid4().hex * 2


def test_image_fields_are_replaced_wherever_they_are_and_the_input_is_untouched() -> None:
    # Given an EventBridge sample and a manual request, with placeholder image fields
    old, new = _digest(), _digest()
    scan = {"id": "x", "detail": {"image-digest": old, "image-tags": ["v1", "latest"], "repository-name": "dev-a"}}
    push = {"detail": {"image-digest": old, "image-tag": "v1"}}
    manual = {"action": "promote", "repository": "dev-a", "digest": old, "tag": "v1"}
    before = copy.deepcopy([scan, push, manual])

    # When digest and tag are substituted
    results = [substituted(event, digest=new, tag="v2") for event in (scan, push, manual)]

    # Then every image field holds the new values, nothing else changed, and the originals are intact
    assert results[0] == (
        {"id": "x", "detail": {"image-digest": new, "image-tags": ["v2"], "repository-name": "dev-a"}},
        {"digest", "tag"},
    )
    assert results[1] == ({"detail": {"image-digest": new, "image-tag": "v2"}}, {"digest", "tag"})
    assert results[2] == ({"action": "promote", "repository": "dev-a", "digest": new, "tag": "v2"}, {"digest", "tag"})
    assert [scan, push, manual] == before


def test_nothing_is_reported_replaced_when_the_event_has_no_such_field() -> None:
    event = {"action": "reconcile", "nested": [{"suite": "x"}]}

    assert substituted(event, digest=_digest(), tag="v1") == (event, set())
    assert substituted(event, digest=None, tag=None) == (event, set())


def test_a_json_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text('{\n  "action": "status"\n  "tag": "v1"\n}\n')

    with pytest.raises(CliFailure) as failure:
        load_event(path)

    assert str(failure.value) == f"{path}:3:3: Expecting ',' delimiter" and failure.value.code == EXIT_USAGE


@pytest.mark.parametrize("content", [None, b"\xff\xfe{}"])
def test_a_missing_or_binary_file_is_a_usage_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(CliFailure) as failure:
        load_event(path)

    assert failure.value.code == EXIT_USAGE and str(path) in str(failure.value)


def test_a_valid_file_loads_as_json(tmp_path: Path) -> None:
    event = {"action": "status", "repository": "dev-a", "tag": "v1"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    assert load_event(path) == event


def test_a_closed_stdout_pipe_exits_1_without_a_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a reader that went away (`python -m promoter invoke … | head -1`)
    from promoter import cli
    from promoter.cli import replay

    def closed_pipe(document: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(replay, "invoker_for", lambda args, env: type("I", (), {"invoke": lambda self, r: {}})())
    monkeypatch.setattr(replay, "print_json", closed_pipe)
    path = tmp_path / "event.json"
    path.write_text("{}")

    # When the response is printed, Then exit 1 and nothing on stderr
    assert cli.main(["invoke", "--local", str(path)]) == cli.EXIT_FAILURE
    assert capsys.readouterr().err == ""
