"""Deployment settings: the `cdk.json` context, validated into one typed object.

Every mistake is reported as `ConfigError` naming the context key (a bad policy keeps its `PolicyError`
type), so a typo fails `cdk synth` instead of a deployment. That includes a policy the replication prefix
cannot ship safely (infra.prefix_safety) and `codebuild:`/`pipeline:` suites that name no valid project
(infra.ci_suites). A context key that looks like one of ours but is not (a typo) is refused too. Legal but
risky settings come back as `warnings`, which synth prints.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, ValidationError

from infra.ci_suites import CiSuites, SuiteNameError, ci_suites
from infra.prefix_safety import check_prefix
from promoter.contract import SuitePrefix
from promoter.policy import Policy, PolicyError, is_valid_repository_name, load_policy

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# Principals that can sign PutEvents: an account root, an IAM role or an IAM user.
_PRINCIPAL = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|role/[\w+=,.@/-]{1,512}|user/[\w+=,.@/-]{1,512})$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOPIC_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[\w-]{1,256}$")
# This app's settings are snake_case. CDK's own context keys (feature flags `@aws-cdk/...`, `aws:cdk:...`,
# lookups `availability-zones:...`, `acknowledged-issue-numbers`, `cli-telemetry`) never are: they pass.
_OUR_STYLE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$|^[a-z][a-z0-9]*$")

# The one cdk.json of this checkout, wherever the caller's working directory is.
CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"

REQUIRED_KEYS = (
    "promotion_policy",
    "source",
    "destination",
    "replication_prefix",
    "ci_principals",
)
OPTIONAL_KEYS = (
    "reconcile_schedule",
    "alarm_email",
    "alarm_topic_arns",
    "create_reference_repositories",
    "existing_target_repositories",
    "log_level",
    "signed_test_results",
    "attestation",
    "reserved_concurrency",
)
KNOWN_KEYS = (*REQUIRED_KEYS, *OPTIONAL_KEYS)
# Settings where an explicit null means something (not "use the default").
_NULLABLE_KEYS = {"reserved_concurrency"}
_STRUCTURED_KEYS = {
    "reserved_concurrency",
    "source",
    "destination",
    "ci_principals",
    "alarm_topic_arns",
    "existing_target_repositories",
    "signed_test_results",
    "attestation",
}
NO_TRUST_WARNING = (
    "cdk.json context 'promotion_policy': no 'trust' section, so test results are accepted unsigned: "
    "the test gate then trusts everyone who can put events in the account (add "
    "trust.test_results.signed_by; 'signed_test_results': true creates a CI signing key)"
)
# The fixed alias of the stack's CI signing key (infra.signing_keys), so a policy can name it before it exists.
CI_KEY_ALIAS = "alias/ecr-promoter/ci-test-results"
UNUSED_CI_KEY_WARNING = (
    "cdk.json context 'signed_test_results': the stack creates the CI signing key, but the policy does not name "
    f'it (trust.test_results.signed_by: "arn:aws:kms:<region>:<account>:{CI_KEY_ALIAS}"): results it signs '
    "count no more than unsigned ones"
)


class ConfigError(ValueError):
    """A `cdk.json` context value is missing or invalid; the message names the key."""


def _matches(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}, got {value!r}")
        return value

    return check


def _repository_prefix(value: str) -> str:
    if not value or not is_valid_repository_name(value + "x"):
        raise ValueError(f"must be the start of a repository name (e.g. 'prod-'), got {value!r}")
    return value


Account = Annotated[str, AfterValidator(_matches(_ACCOUNT, "a 12-digit AWS account id"))]
Region = Annotated[str, AfterValidator(_matches(_REGION, "an AWS region such as 'us-west-2'"))]
PrincipalArn = Annotated[
    str, AfterValidator(_matches(_PRINCIPAL, "an IAM ARN (arn:aws:iam::<account>:root|role/<name>|user/<name>)"))
]
Schedule = Annotated[str, AfterValidator(_matches(_SCHEDULE, "an EventBridge 'rate(...)' or 'cron(...)' expression"))]
Email = Annotated[str, AfterValidator(_matches(_EMAIL, "an e-mail address"))]
TopicArn = Annotated[
    str, AfterValidator(_matches(_TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"))
]
RepositoryPrefix = Annotated[str, AfterValidator(_repository_prefix)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountRegion(_Strict):
    account: Account
    region: Region

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    def repository_arn(self, name_pattern: str) -> str:
        """ARN of the ECR repositories named `name_pattern` (IAM wildcards allowed) in this registry."""
        return f"arn:{self.partition}:ecr:{self.region}:{self.account}:repository/{name_pattern}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


class DeployConfig(_Strict):
    policy: Policy
    policy_json: str = Field(description="the promotion policy as given in cdk.json, compact JSON")
    source: AccountRegion
    destination: AccountRegion
    replication_prefix: RepositoryPrefix
    ci_principals: tuple[PrincipalArn, ...] = Field(min_length=1)
    reconcile_schedule: Schedule = "rate(15 minutes)"
    alarm_email: Email | None = None
    # Existing topics every alarm also notifies (an alarm holds at most 5 actions; one is the stack's own topic).
    alarm_topic_arns: tuple[TopicArn, ...] = Field(default=(), max_length=4)
    # Creates the policy's named *source* repositories (a demo convenience). Named targets are always the
    # stack's: it creates them write-protected, unless listed in existing_target_repositories.
    create_reference_repositories: bool = False
    # Named targets that already exist in the source account: the stack does not create them (no
    # AlreadyExists on the first deploy); it applies the same write protection to them in place.
    existing_target_repositories: tuple[str, ...] = ()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # A KMS key (ECC_NIST_P256, SIGN_VERIFY) only `ci_principals` may sign test results with (infra.signing_keys).
    signed_test_results: StrictBool = False
    # A KMS key only the function may sign with: a signed verification summary on every promoted image.
    attestation: StrictBool = False
    # Concurrent promotions the function may run. ECR's PutImage rate is a per-account quota shared
    # with CI's own pushes: more instances than about 2 x rate x latency only queue 429s and retries.
    # `make bench-burst` (200 promotions at a PutImage-like 429 quota): 5 instances finished at 1.00x
    # the quota floor with no redelivery; 10 needed redeliveries; 20 lost images before retries were
    # raised. null leaves the function on the account's unreserved pool.
    reserved_concurrency: int | None = Field(default=5, ge=1, le=1000)

    @property
    def verification_keys(self) -> tuple[str, ...]:
        """Every KMS key the policy trusts (test results and approvals), in policy order, once each."""
        keys: list[str] = list(self.policy.trust.test_results.signed_by) if self.policy.trust.test_results else []
        for rule in self.policy.rules:
            if rule.require.approval is not None:
                keys.extend(rule.require.approval.signed_by)
        return tuple(dict.fromkeys(keys))

    @property
    def named_sources(self) -> tuple[str, ...]:
        """Source repositories the policy names outright (no glob), in policy order."""
        return _named(self.policy.source_patterns)

    @property
    def named_targets(self) -> tuple[str, ...]:
        """Target repositories the policy names outright (no `{name}`), in policy order."""
        return _named(self.policy.target_patterns)

    @property
    def wildcard_targets(self) -> tuple[str, ...]:
        """IAM patterns (`prod-*`) of targets the function creates on first promotion (rules with `{name}`)."""
        return tuple(pattern for pattern in self.policy.target_patterns if "*" in pattern)

    @property
    def created_targets(self) -> tuple[str, ...]:
        """Named targets this stack creates (the others exist already and are protected in place)."""
        return tuple(name for name in self.named_targets if name not in self.existing_target_repositories)

    @property
    def ci_suites(self) -> CiSuites:
        """CodeBuild projects and pipelines that required suites name (validated at load)."""
        return ci_suites(self.policy)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Legal but risky settings, printed at synth (the prefix overlaps of aws/containers-roadmap#2129)."""
        warnings = check_prefix(self.policy, self.replication_prefix).warnings
        if self.policy.trust.test_results is None and self._needs_posted_results:
            warnings = (*warnings, NO_TRUST_WARNING)
        if self.signed_test_results and not any(key.endswith(f":{CI_KEY_ALIAS}") for key in self.verification_keys):
            warnings = (*warnings, UNUSED_CI_KEY_WARNING)
        return warnings

    @property
    def _needs_posted_results(self) -> bool:
        """Whether a rule requires a suite that only a posted `Image Test Result` can pass (builds and
        pipeline runs are re-read from their APIs, so they are not forgeable by PutEvents)."""
        api_confirmed = tuple(prefix.value for prefix in SuitePrefix)
        return any(not suite.startswith(api_confirmed) for rule in self.policy.rules for suite in rule.require.tests)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeployConfig:
        """Build from CDK context (`app.node.get_all_context()`); raise ConfigError/PolicyError naming the key."""
        _refuse_unknown_keys(context)
        get = context.get
        missing = [key for key in REQUIRED_KEYS if get(key) is None]
        if missing:
            raise ConfigError(f"cdk.json context is missing {', '.join(repr(key) for key in missing)}")
        raw_policy = _decoded("promotion_policy", get("promotion_policy"))
        try:
            policy = load_policy(raw_policy)
        except PolicyError as error:
            raise PolicyError(f"cdk.json context 'promotion_policy': {error}") from None
        values: dict[str, Any] = {
            key: _decoded(key, get(key)) if key in _STRUCTURED_KEYS else get(key)
            for key in (*REQUIRED_KEYS[1:], *OPTIONAL_KEYS)
            if get(key) is not None or (key in _NULLABLE_KEYS and key in context)
        }
        try:
            config = cls(policy=policy, policy_json=json.dumps(raw_policy, separators=(",", ":")), **values)
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None
        config._check_consistency()
        return config

    def _check_consistency(self) -> None:
        if self.source == self.destination:
            raise ConfigError(
                "cdk.json context 'destination': must differ from 'source' (a registry cannot replicate into itself)"
            )
        report = check_prefix(self.policy, self.replication_prefix)
        if report.errors:
            raise ConfigError("; ".join(report.errors))
        try:
            ci_suites(self.policy)
        except SuiteNameError as error:
            raise ConfigError(f"cdk.json context 'promotion_policy': {error}") from None
        unknown = [name for name in self.existing_target_repositories if name not in self.named_targets]
        if unknown:
            raise ConfigError(
                f"cdk.json context 'existing_target_repositories': {', '.join(map(repr, unknown))} "
                f"is not a named target of the policy (named targets: {', '.join(map(repr, self.named_targets))})"
            )


def _refuse_unknown_keys(context: Mapping[str, Any]) -> None:
    """A misspelt setting would otherwise be ignored silently and its default deployed."""
    unknown = [key for key in context if key not in KNOWN_KEYS and _looks_like_ours(key)]
    if not unknown:
        return
    problems = []
    for key in unknown:
        close = difflib.get_close_matches(key.replace("-", "_"), KNOWN_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"cdk.json context {key!r}: unknown setting{hint}")
    raise ConfigError(f"{'; '.join(problems)}; the settings are {', '.join(map(repr, KNOWN_KEYS))}")


def _looks_like_ours(key: str) -> bool:
    return bool(_OUR_STYLE.fullmatch(key)) or key.replace("-", "_") in KNOWN_KEYS


def _named(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(pattern for pattern in patterns if "*" not in pattern)


def _decoded(key: str, value: Any) -> Any:
    """Structured values may come as JSON text (`cdk synth -c source='{...}'`)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise ConfigError(f"cdk.json context {key!r}: not valid JSON ({error})") from None


def _describe(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        key = ".".join(str(part) for part in issue["loc"])
        message = issue["msg"].removeprefix("Value error, ")
        if issue["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append(f"cdk.json context {key!r}: {message}")
    return "; ".join(problems)


def context_from_file(path: str | Path | None = None) -> Mapping[str, Any]:
    """The `context` object of a cdk.json file (default: this checkout's); the CDK CLI passes it itself,
    plain `python app.py` and the tests read it here."""
    path = path or CDK_JSON
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise ConfigError(f"{path}: 'context' must be an object")
    return context


def load_deploy_config(path: Path | None = None) -> DeployConfig:
    """The validated settings of a cdk.json file (default: this checkout's): the one reader of cdk.json."""
    return DeployConfig.from_context(context_from_file(path))
