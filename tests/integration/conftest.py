"""Fixtures for the copy engine's integration tests: a fault-injecting proxy and fast retry settings."""

from __future__ import annotations

import pytest

from promoter.registry import RetryPolicy


class RecordedSleeps(list[float]):
    """Stands in for time.sleep in a RetryPolicy: records each backoff delay and sleeps ~nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def fast_retry(sleeps: RecordedSleeps) -> RetryPolicy:
    """Four tries, backoff recorded instead of slept, short timeouts: fault tests stay fast and bounded."""
    return RetryPolicy(
        attempts=4, base_delay=0.01, max_delay=0.05, deadline=10.0, connect_timeout=2.0, read_timeout=2.0, sleep=sleeps
    )
