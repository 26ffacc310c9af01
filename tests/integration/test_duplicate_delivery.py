"""Duplicate deliveries of one event in separate processes, against a shared moto server."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.localregistry import LocalRegistry
from tests.support.duplicates import deliver_concurrently_and_check

PROCESSES = 4


@pytest.mark.slow
def test_concurrent_duplicates_promote_once_and_never_error(registry: LocalRegistry, repo_name, tmp_path: Path) -> None:
    deliver_concurrently_and_check(registry, repo_name, tmp_path, PROCESSES)
