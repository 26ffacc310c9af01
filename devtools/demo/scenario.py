"""What the demo plays: the reference scenario as cdk.json configures it, and the function's local environment.

cdk.json is read through `infra.config.load_deploy_config` (the one reader), then checked against what the
story needs (one rule for dev-microservice, tests and a CRITICAL scan gate, no override), so a policy the
story cannot tell is refused up front with a reason instead of failing halfway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SOURCE_REPOSITORY = "dev-microservice"  # the blog's development repository
LEDGER_TABLE = "ecr-promoter-ledger"
CI_URL = "https://ci.example/runs/"  # the `run-url` of CI test results
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # only moto sees them


class CannotRun(Exception):
    """The demo cannot start (its message says why and what to do)."""


@dataclass(frozen=True)
class Scenario:
    """What the demo needs from cdk.json, checked against the reference scenario."""

    policy_json: str
    replication_prefix: str
    source_account: str
    destination_account: str
    region: str
    target_repository: str
    tag_globs: tuple[str, ...]
    suites: tuple[str, ...]
    fail_on: tuple[str, ...]


def load_scenario() -> Scenario:
    """Read the policy and replication prefix from cdk.json and check they describe the blog's scenario."""
    from infra.config import CDK_JSON, ConfigError, load_deploy_config  # noqa: PLC0415 - after sys.path is set
    from promoter.policy import PolicyError  # noqa: PLC0415

    try:
        config = load_deploy_config()
    except FileNotFoundError:
        raise CannotRun(f"{CDK_JSON} not found: the demo reads the policy and replication prefix from it") from None
    except (ConfigError, PolicyError, ValueError) as error:
        raise CannotRun(f"{CDK_JSON}: {error}") from None
    policy, prefix = config.policy, config.replication_prefix
    matches = policy.rules_for(SOURCE_REPOSITORY)
    if len(matches) != 1:
        raise CannotRun(
            f"{CDK_JSON}: the scenario needs exactly one rule for {SOURCE_REPOSITORY}, found {len(matches)}"
        )
    rule, target = matches[0]
    problems = []
    if not target.startswith(prefix) or SOURCE_REPOSITORY.startswith(prefix):
        problems.append(f"replication_prefix {prefix!r} must match {target} and not {SOURCE_REPOSITORY}")
    if rule.promotable_tags(["v1.0.0"]) != ("v1.0.0",) or rule.promotable_tags(["build-101"]):
        problems.append(f"tags {list(rule.tags)} must promote v1.0.0 and not build-101")
    if not rule.require.tests:
        problems.append("the rule must require a test suite")
    if rule.require.scan is None or "CRITICAL" not in rule.require.scan.fail_on:
        problems.append("the rule must require a scan failing on CRITICAL")
    if policy.allow_override:
        problems.append("allow_override must be false")
    if problems:
        raise CannotRun(f"{CDK_JSON}: the policy is not the reference scenario's: " + "; ".join(problems))
    return Scenario(
        policy_json=config.policy_json,
        replication_prefix=prefix,
        source_account=config.source.account,
        destination_account=config.destination.account,
        region=config.source.region,
        target_repository=target,
        tag_globs=tuple(rule.tags),
        suites=tuple(rule.require.tests),
        fail_on=tuple(rule.require.scan.fail_on) if rule.require.scan else (),
    )


def function_environment(
    scenario: Scenario, registry_endpoint: str, ledger_endpoint: str, policy_json: str | None = None
) -> dict[str, str]:
    """The function's environment as the stack sets it in local mode, plus what reaches the local ledger
    (and its KMS): the same variables a shell needs to drive the kept demo with `python -m promoter … --local`.
    `policy_json` replaces cdk.json's policy (the demo adds a trust section for signed CI results)."""
    from promoter.contract import Env  # noqa: PLC0415 - after sys.path is set

    return {
        Env.PROMOTION_POLICY.value: policy_json or scenario.policy_json,
        Env.LEDGER_TABLE.value: LEDGER_TABLE,
        Env.REGISTRY_ENDPOINT.value: registry_endpoint,
        "AWS_ENDPOINT_URL": ledger_endpoint,
        **DUMMY_CREDENTIALS,
        "AWS_REGION": scenario.region,
        "AWS_DEFAULT_REGION": scenario.region,
    }


def use_environment(environment: dict[str, str]) -> None:
    """Make this process's AWS SDK see only the local ledger: no profile, no other endpoint or credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_ECR"):
        os.environ.pop(name, None)
    os.environ.update({**environment, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})


def build_local_services(environment: dict[str, str], scenario: Scenario) -> Any:
    """The function's services for local mode, built the way the handler builds them."""
    from promoter.config import Settings  # noqa: PLC0415 - after sys.path is set
    from promoter.wiring import build_services  # noqa: PLC0415

    return build_services(Settings.from_environ(environment), scenario.source_account)
