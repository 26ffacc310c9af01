"""Invoke the real handler once in this process: event JSON on stdin, response JSON on stdout.

Used to deliver the same event from several processes at the same moment (duplicate delivery).
Waits for the file named by argv[1] to exist before invoking, so every process starts together.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from promoter import handler
from tests.support.promotion import FakeContext


def main() -> None:
    go = Path(sys.argv[1])
    event = json.loads(sys.stdin.read())
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    response = handler.lambda_handler(event, FakeContext())
    sys.stdout.write(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
