"""The one entry point every caller shares: the Lambda handler, `--local` CLI commands, the demo, the tests.

`handle` parses one raw input and acts on it. Unreadable input writes nothing and is answered with
`{"decisions": [], "error": ...}`, never an exception; transient faults raise so Lambda retries.
`run` is the same call returning the Report, for callers that also want metrics (the handler).
"""

from __future__ import annotations

import uuid
from typing import Any

from promoter.events import InvalidEvent, parse_event
from promoter.promotion import Report, Services, promote


def run(raw_event: Any, services: Services, request_id: str | None = None) -> Report:
    """Parse `raw_event` and act on it; the Report behind the response."""
    try:
        command = parse_event(raw_event, request_id=request_id or f"local-{uuid.uuid4()}")
    except InvalidEvent as error:
        return Report(error=str(error), invalid_input=True)
    return promote(command, services)


def handle(raw_event: Any, services: Services, request_id: str | None = None) -> dict[str, Any]:
    """Parse one raw input and act on it; returns the response. Unreadable input writes nothing."""
    return run(raw_event, services, request_id).response()
