"""Invoke the function once in this process (build_services + handle, a cold start): event JSON on stdin,
response JSON on stdout.

Used to deliver the same event from several processes at the same moment (duplicate delivery).
Waits for the file named by argv[1] to exist before invoking, so every process starts together.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from promoter.config import Settings
from promoter.entry import handle
from promoter.wiring import build_services


def main() -> None:
    go = Path(sys.argv[1])
    event = json.loads(sys.stdin.read())
    services = build_services(Settings.from_environ(os.environ), account_id=None)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    response = handle(event, services)
    sys.stdout.write(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
