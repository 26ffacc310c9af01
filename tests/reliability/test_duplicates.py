"""Eight identical deliveries of one push event, each in its own process, at the same moment, against a shared
moto server and the real registry: exactly one promotion, seven `already-promoted`, no errors.

The same scenario as tests/integration/test_duplicate_delivery.py (tests/support/duplicates.py), more processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.localregistry import LocalRegistry
from tests.support.duplicates import deliver_concurrently_and_check

PROCESSES = 8


@pytest.mark.slow
def test_eight_concurrent_duplicates_promote_once_and_never_error(
    registry: LocalRegistry, repo_name, tmp_path: Path
) -> None:
    deliver_concurrently_and_check(registry, repo_name, tmp_path, PROCESSES)
