"""The demo's process: start the registries and the ledger, tell the story, print the result, clean up.

Whatever happens (an expectation fails, Ctrl-C, SIGTERM), both registries and the ledger are stopped and
their storage is removed; with --keep that happens when the user stops the demo.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from devtools.demo.bus import subscribe
from devtools.demo.operations import NEXT_PIPELINE, SECURITY_TEAM
from devtools.demo.report import drive_by_hand, look_inside, print_result, say
from devtools.demo.scenario import (
    LEDGER_TABLE,
    SOURCE_REPOSITORY,
    CannotRun,
    build_local_services,
    function_environment,
    load_scenario,
    use_environment,
)
from devtools.demo.signing import CiSigner, create_signing_key, kms_client, with_trust
from devtools.demo.stages import DEV as CHAIN_DEV
from devtools.demo.stages import PROD as CHAIN_PROD
from devtools.demo.stages import STAGING as CHAIN_STAGING
from devtools.demo.stages import chain_rules
from devtools.demo.story import Demo
from devtools.lambda_local import start_local_ledger
from devtools.localregistry import LocalRegistry, RegistryUnavailable, start_registry

ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_FAILED, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130
T = TypeVar("T")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _use_checkout_sources() -> None:
    """`python -m devtools.demo` from the checkout: the function's code (lambda_src) and infra importable."""
    for path in (str(ROOT / "lambda_src"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)


def _start(stack: ExitStack, workdir: Path, name: str) -> LocalRegistry:
    try:
        registry = start_registry(workdir / name)
    except (RegistryUnavailable, OSError) as error:
        raise CannotRun(
            f"cannot start the {name} registry ({error}); `make demo` installs Debian's docker-registry, "
            "or set REGISTRY_BIN to a CNCF distribution `registry` binary"
        ) from None
    stack.callback(registry.stop)
    return registry


def _play(demo: Demo, step: Callable[[], T], verbose: bool) -> T | None:
    """Run a part of the story; an exception is one more failed expectation, not a traceback."""
    try:
        return step()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        if verbose:
            import traceback  # noqa: PLC0415

            traceback.print_exc()
        demo.failures.append(f"the scenario stopped: {type(error).__name__}: {error}")
        say(f"     !! UNEXPECTED: {demo.failures[-1]}")
        return None


def run_demo(args: argparse.Namespace, stack: ExitStack) -> int:
    started = time.monotonic()
    _use_checkout_sources()
    scenario = load_scenario()
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-demo-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)  # runs last: after both registries stopped
    dev, prod = _start(stack, workdir, "dev"), _start(stack, workdir, "production")
    ledger = start_local_ledger(scenario.region, LEDGER_TABLE)
    stack.callback(ledger.stop)
    kms = kms_client(ledger.endpoint, scenario.region)
    ci_key = create_signing_key(kms, "CI: signs the test results it reports")
    approver_key = create_signing_key(kms, "release board: approves promotions into prod-checkout")
    attestation_key = create_signing_key(kms, "ecr-promoter: signs the VSA of every promotion")
    from promoter.contract import Env  # noqa: PLC0415 - lambda_src is on sys.path from here on

    policy_json = with_trust(scenario.policy_json, ci_key, chain_rules(approver_key))
    environment = {
        **function_environment(scenario, dev.url, ledger.endpoint, policy_json),
        "EVENT_BUS": "default",
        Env.ATTESTATION_KEY.value: attestation_key,
    }
    listeners = {
        name: subscribe(ledger.endpoint, scenario.region, "default", name, pattern)
        for name, pattern in (("next-pipeline", NEXT_PIPELINE), ("security-team", SECURITY_TEAM))
    }
    use_environment(environment)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="     log: %(message)s")
    services = build_local_services(environment, scenario)
    from promoter.entry import handle  # noqa: PLC0415 - lambda_src is on sys.path from here on

    def deliver(event: dict[str, Any]) -> dict[str, Any]:
        return handle(event, services, request_id=f"demo-{uuid.uuid4()}")

    rule = f"{SOURCE_REPOSITORY} -> {scenario.target_repository}, tags {' '.join(scenario.tag_globs)}"
    gates = f"tests {', '.join(scenario.suites)} PASSED, scan without {'/'.join(scenario.fail_on)}"
    say("ecr-promoter demo: the ECR replication scenario on this machine (no AWS account, no Docker)")
    say(f"   dev account {scenario.source_account} registry:          {dev.url}")
    say(f"   production account {scenario.destination_account} registry:   {prod.url}")
    say(f"   ledger: DynamoDB table {LEDGER_TABLE} (moto server, {ledger.endpoint})")
    say(f"   policy (cdk.json): {rule}; requires {gates}")
    say(f"   trust: test results count only when signed by the CI's KMS key {ci_key}")
    say(f"   chain: {' -> '.join((CHAIN_DEV, CHAIN_STAGING, CHAIN_PROD))}, the last hop approved by {approver_key}")
    say("   events: EVENT_BUS=default; rules: next-pipeline (Image Promoted), security-team (Unrecorded Image)")
    say(f"   replication (cdk.json): PREFIX_MATCH {scenario.replication_prefix!r} -> {scenario.destination_account}")

    demo = Demo(
        scenario,
        dev,
        prod,
        deliver,
        CiSigner(kms, ci_key),
        approver_key,
        listeners,
        attestation_key,
        verbose=args.verbose,
    )
    _play(demo, demo.run, args.verbose)
    print_result(demo.rows, demo.failures, demo.checks, time.monotonic() - started)
    code = EXIT_FAILED if demo.failures else EXIT_OK
    if args.keep:
        for line in look_inside(dev, prod, scenario.target_repository):
            say(line)
        failed_before = len(demo.failures)
        waiting = _play(demo, demo.leave_one_waiting, args.verbose)
        if waiting is not None and len(demo.failures) == failed_before:
            for line in drive_by_hand(environment, "v1.4.0", waiting.digest, scenario.suites[-1], ci_key):
                say(line)
        else:
            code = EXIT_FAILED
        pid = os.getpid()
        say(f"Press Ctrl-C (or kill -INT {pid}) to stop the registries and the ledger and remove their storage.")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            say("stopping the registries and the ledger")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description="make demo: see README.md")
    parser.add_argument(
        "--keep", action="store_true", help="leave the registries and the ledger running until Ctrl-C, to drive by hand"
    )
    parser.add_argument("--verbose", action="store_true", help="print every response and the function's logs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    stack = ExitStack()
    try:
        return run_demo(args, stack)
    except CannotRun as error:
        print(f"demo: cannot run: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        # Nothing may interrupt the clean-up: stop the registries and the ledger, remove their storage.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()
