"""Fixtures of the reliability suite: fault proxies, fast bounded retries, the CLI run in-process with
those retries, and the synthesized CDK templates (shared with tests/infra through its lock file)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from promoter import cli
from promoter.registry import RegistryClient, RetryPolicy
from tests.support.cdk import Synthesized, scenario_context, synth_once


def fast_policy() -> RetryPolicy:
    """Four tries, no real backoff, short timeouts: a permanent fault fails in seconds, not minutes."""
    return RetryPolicy(
        attempts=4,
        base_delay=0.001,
        max_delay=0.005,
        deadline=30.0,
        max_retry_after=0.01,
        connect_timeout=2.0,
        read_timeout=0.3,
        sleep=lambda _: None,
    )


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str
    seconds: float


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """`python -m promoter ARGS…` in this process, every registry client built with `fast_policy()`."""
    original = RegistryClient.for_host.__func__  # type: ignore[attr-defined]

    def for_host(
        cls: type[RegistryClient], host: str, ecr_client_factory=None, *, retry=None, **options
    ) -> RegistryClient:
        return original(cls, host, ecr_client_factory, retry=retry or fast_policy(), **options)

    monkeypatch.setattr(RegistryClient, "for_host", classmethod(for_host))

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        started = time.monotonic()
        code = cli.main(list(args))
        seconds = time.monotonic() - started
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err, seconds)

    return run


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app as cdk.json configures it; synthesized once per run even alongside tests/infra."""
    return synth_once(tmp_path_factory, "scenario", scenario_context())
