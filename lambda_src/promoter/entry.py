"""The one entry point every caller shares: the Lambda handler, `--local` CLI commands, the demo, the tests."""

from __future__ import annotations

import uuid
from typing import Any

from promoter.events import InvalidEvent, parse_event
from promoter.promotion import Services, promote


def handle(raw_event: Any, services: Services, request_id: str | None = None) -> dict[str, Any]:
    """Parse one raw input and act on it; returns the response. Unreadable input writes nothing."""
    try:
        command = parse_event(raw_event, request_id=request_id or f"local-{uuid.uuid4()}")
    except InvalidEvent as error:
        return {"decisions": [], "error": str(error)}
    return promote(command, services).response()
