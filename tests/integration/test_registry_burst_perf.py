"""The release-burst harness (benchmarks/release_burst.py) measures what it claims: every image promoted once
through the real handler in several processes, manifest PUTs above the rate answered 429 and retried, no
duplicate tag writes. Counted, never timed."""

from __future__ import annotations

import pytest

from benchmarks.release_burst import TokenBucket, burst


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
