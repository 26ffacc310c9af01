"""Eight identical deliveries of one push event, each in its own process, at the same moment, against a shared
moto server and the real registry: exactly one promotion, seven `already-promoted`, no errors.

Reuses tests/integration/test_duplicate_delivery.py (and its invoke_once worker) with the process count raised.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.localregistry import LocalRegistry
from tests.integration import test_duplicate_delivery as duplicate_delivery

PROCESSES = 8


@pytest.mark.slow
def test_eight_concurrent_duplicates_promote_once_and_never_error(
    registry: LocalRegistry, repo_name, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duplicate_delivery, "PROCESSES", PROCESSES)
    duplicate_delivery.test_concurrent_duplicates_promote_once_and_never_error(registry, repo_name, tmp_path)
