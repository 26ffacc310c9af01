"""Shared fixtures: the real CNCF registry on loopback, started per test session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from devtools.faultproxy import FaultProxy
from devtools.localregistry import LocalRegistry, start_registry

pytest_plugins = ["tests.support.promotion"]


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """One registry for the session; tests isolate themselves with unique repository names."""
    with start_registry() as running:
        yield running


@pytest.fixture(scope="session")
def second_registry() -> Iterator[LocalRegistry]:
    """Another registry (another 'account'), for cross-registry copies."""
    with start_registry() as running:
        yield running


@pytest.fixture
def fresh_registry() -> Iterator[Callable[[], LocalRegistry]]:
    """Factory for registries private to one test (e.g. to count every request it receives)."""
    started: list[LocalRegistry] = []

    def make() -> LocalRegistry:
        running = start_registry()
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def repo_name() -> Callable[[str], str]:
    """Unique, valid repository names so tests sharing a registry never collide."""

    def make(prefix: str = "dev-app") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[LocalRegistry], FaultProxy]]:
    """Factory: a FaultProxy in front of a registry; stopped after the test."""
    started: list[FaultProxy] = []

    def make(upstream: LocalRegistry) -> FaultProxy:
        proxy = FaultProxy(upstream.url).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
