"""The release-burst harness (benchmarks/release_burst.py) measures what it claims: every image promoted once
through the real handler in several processes, manifest PUTs above the rate answered 429 and retried, no
duplicate tag writes. Counted, never timed."""

from __future__ import annotations

import pytest

from benchmarks.release_burst import TokenBucket, burst
from promoter.registry import RetryPolicy


def test_token_bucket_lets_one_second_of_puts_through_then_says_how_long_to_wait() -> None:
    # Given a bucket of 3 per second
    bucket = TokenBucket(3)

    # When 4 PUTs arrive at once
    waits = [bucket.take() for _ in range(4)]

    # Then 3 pass and the 4th is told to wait a fraction of a second
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 1 / 3


@pytest.mark.slow
def test_a_small_burst_promotes_every_image_once_at_the_rate() -> None:
    # Given 8 images, 3 handler processes and a quota of 2 manifest PUTs per second
    # When the burst runs
    (result,) = burst(8, [3], rate=2.0)

    # Then every image is in its target exactly once and nothing failed
    assert (result.images, result.failures, result.duplicates, result.wrong_targets) == (8, 0, 0, 0)
    # and 3 processes against 2 PUTs/s met the quota: some PUTs were refused with 429 and retried
    assert result.throttled_429 > 0


def test_a_throttled_request_gets_more_tries_than_a_failing_one_within_the_same_deadline() -> None:
    # Given a policy of 3 tries, 6 when throttled, whose sleeps are recorded instead of slept
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, throttled_attempts=6, max_retry_after=2.0, sleep=slept.append)
    far = 1e12

    # Then a 5xx stops after its 3rd try, a 429 after its 6th, honouring Retry-After, and neither past the deadline
    assert policy.wait_before_retry(1, far) is True
    assert policy.wait_before_retry(2, far) is False
    assert all(policy.wait_before_retry(n, far, 1.0, throttled=True) for n in range(5))
    assert policy.wait_before_retry(5, far, 1.0, throttled=True) is False
    assert policy.wait_before_retry(0, 0.0, 1.0, throttled=True) is False
    assert slept[1:] == [1.0] * 5
