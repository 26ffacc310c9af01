"""One function instance of the burst benchmark: events (a JSON list) on stdin, one JSON result per event on stdout.

Builds its services once, like a warm Lambda execution environment, and delivers each event through
`promoter.entry.handle`. An event whose handling raises is delivered again, at most twice, like Lambda's
asynchronous retries (`retry_attempts` 2); after that it counts as failed (the failure destination's share).
Waits for the file named by argv[1] so every instance starts at the same moment.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

LAMBDA_RETRIES = 2


def main() -> None:
    go = Path(sys.argv[1])
    events = json.loads(sys.stdin.read())
    from promoter.config import Settings
    from promoter.entry import handle
    from promoter.wiring import build_services

    services = build_services(Settings.from_environ(os.environ), None)
    while not go.exists():
        time.sleep(0.005)
    for event in events:
        started = time.monotonic()
        outcome, error, deliveries = "", "", 0
        for deliveries in range(1, LAMBDA_RETRIES + 2):
            try:
                response = handle(event, services, request_id=f"burst-{event['id']}-{deliveries}")
            except Exception as failure:
                error = f"{type(failure).__name__}: {str(failure)[:200]}"
                continue
            decisions = response.get("decisions") or []
            outcome = ",".join(str(d.get("outcome")) for d in decisions) or f"error: {response.get('error')}"
            error = ""
            break
        result = {
            "digest": event["detail"]["image-digest"],
            "outcome": outcome,
            "error": error,
            "deliveries": deliveries,
            "started": started,
            "seconds": time.monotonic() - started,
        }
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
