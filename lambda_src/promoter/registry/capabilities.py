"""What a registry can do, learnt once per process rather than probed on every copy.

Why a module of its own: the copy engine asks each registry for its OCI 1.1 referrers API on every
image; on a registry without it (CNCF distribution 2.8, older Harbor or Artifactory) that probe is a
wasted round trip per promotion. A warm Lambda environment or a long CLI run remembers the answer per
registry base URL, for the life of the process.
"""

from __future__ import annotations

import threading


class ReferrersSupport:
    """Which registries (base URLs) have no OCI 1.1 referrers API, learnt once per process. Registries do
    not lose or gain the API while a Lambda environment lives; `forget` is for tests and long tools."""

    def __init__(self) -> None:
        self._without: set[str] = set()
        self._lock = threading.Lock()

    def may_have_api(self, base_url: str) -> bool:
        with self._lock:
            return base_url not in self._without

    def record(self, base_url: str, *, has_api: bool) -> None:
        with self._lock:
            if has_api:
                self._without.discard(base_url)
            else:
                self._without.add(base_url)

    def forget(self) -> None:
        with self._lock:
            self._without.clear()


REFERRERS_SUPPORT = ReferrersSupport()
