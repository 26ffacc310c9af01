"""The promotion policy: which source repositories promote into which targets, under which gates.

`load_policy` is the single validator: the Lambda calls it at cold start and the CDK app
calls it at synth time, so a policy that would fail at run time never deploys. Repository names
follow promoter.registry.reference, the one OCI name grammar.

Shape (JSON)::

    {"rules": [{"name": "microservice", "source": "dev-microservice", "target": "prod-microservice",
                "tags": ["v*"],
                "require": {"tests": ["integration"], "scan": {"fail_on": ["CRITICAL"]},
                            "approval": {"signed_by": [KEY, ...]}}}],
     "allow_override": false,
     "trust": {"test_results": {"signed_by": [KEY, ...]}}}

- `source`: a repository name or a glob with one `*`; `target` may use `{name}`, the part `*` matched.
- `tags`: globs of the tags to promote (default every tag); the same tag is written in the target.
- `require.tests`: suites that must have PASSED (a CodePipeline/CodeBuild success counts as suite
  `pipeline:<name>` / `codebuild:<project>`).
- `require.scan.fail_on`: severities that reject the image. A scan counts only once it is complete;
  while none is, the image is pending. A scan the scanner reports it can never finish (FAILED,
  UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED) rejects the image, with that reason: the rule asked
  for scan evidence and there will never be any, so an endless pending would only hide it (a rule
  that does not need a scan simply has no `scan` gate).
- `require.approval.signed_by`: the rule waits (pending, "approval: none yet") for an approval of the
  digest for this rule signed by one of these KMS keys; a signed reject is final for digest and rule.
- `trust.test_results.signed_by`: test results count only when their `attestation` (a DSSE
  envelope) is signed by one of these KMS keys and agrees with the event; any other result is
  ignored with its reason and nothing is recorded (also while no verifier is wired in: fail closed).
- KEY: a KMS key ARN, a key id (UUID or multi-Region `mrk-...`) or an alias ARN.
- `allow_override`: whether a manual promote may skip *pending* gates (never failed ones), never a
  missing approval (that needs a signature).

Chained rules: a rule's source may match another rule's target (`dev-*` → `staging-{name}`,
`staging-*` → `prod-{name}`); each invocation decides one hop and the promotion's own push event
starts the next. Chains that loop back (a rule reachable from itself) are refused, naming the rules.
Evidence is about content: a test result recorded for a digest in one repository of a chain counts
for that digest in every stage of the chain (promoter.promotion merges the records along the chain);
scans stay per repository (each stage's registry scans its own copy), approvals per rule.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from promoter.registry.reference import is_valid_repository_name

_TAG_GLOB = re.compile(r"^[A-Za-z0-9_.*?\-\[\]!]{1,128}$")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY_ID = rf"(?:{_UUID}|mrk-[0-9a-f]{{32}})"
_KMS_ARN = r"arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-[0-9]:[0-9]{12}:"
_KMS_KEY = re.compile(rf"^(?:{_KEY_ID}|{_KMS_ARN}key/{_KEY_ID}|{_KMS_ARN}alias/[A-Za-z0-9/_-]{{1,250}})$")

__all__ = ["Policy", "PolicyError", "Rule", "is_valid_repository_name", "load_policy"]


class PolicyError(ValueError):
    """The policy JSON is malformed or violates a rule; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class ScanGate(_Strict):
    fail_on: tuple[Severity, ...] = Field(min_length=1)


def _kms_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    for key in keys:
        if not _KMS_KEY.fullmatch(key):
            raise ValueError(f"{key[:120]!r} is not a KMS key ARN, key id (UUID or mrk-...) or alias ARN")
    return keys


KmsKeys = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_kms_keys)]


class SignedBy(_Strict):
    """Evidence must carry a signature by one of these KMS keys."""

    signed_by: KmsKeys


class Trust(_Strict):
    test_results: SignedBy | None = None


class Requirements(_Strict):
    tests: tuple[str, ...] = ()
    scan: ScanGate | None = None
    approval: SignedBy | None = None

    @field_validator("tests")
    @classmethod
    def _suites_are_named(cls, suites: tuple[str, ...]) -> tuple[str, ...]:
        for suite in suites:
            if not suite or len(suite) > 128 or not suite.isprintable():
                raise ValueError(f"test suite names must be 1-128 printable characters, got {suite!r}")
        return suites


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=64)
    source: str
    target: str
    tags: tuple[str, ...] = ("*",)
    require: Requirements = Requirements()

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, name: str) -> str:
        # Rule names go into logs, events and status: no control, line-break or bidi-override characters.
        if not name.isprintable():
            raise ValueError(f"rule names must be printable characters only, got {name[:80]!r}")
        return name

    @field_validator("tags")
    @classmethod
    def _tags_are_globs(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        if not tags:
            raise ValueError("tags must list at least one glob (default is ['*'])")
        for tag in tags:
            if not _TAG_GLOB.fullmatch(tag):
                raise ValueError(f"{tag!r} is not a tag glob (tag characters plus * ? [ ])")
        return tags

    @model_validator(mode="after")
    def _source_and_target_are_names(self) -> Rule:
        stars = self.source.count("*")
        if stars > 1:
            raise ValueError(f"source {self.source!r} may contain at most one '*'")
        if stars == 0 and "{name}" in self.target:
            raise ValueError(f"target {self.target!r} uses {{name}} but source {self.source!r} has no '*'")
        if not is_valid_repository_name(self.source.replace("*", "x")):
            raise ValueError(f"source {self.source!r} is not a valid repository name or glob")
        if any(ch in self.target for ch in "*?[]"):
            raise ValueError(f"target {self.target!r} may not contain glob characters (use {{name}})")
        sample = self.target.replace("{name}", "x")
        if "{" in sample or "}" in sample or not is_valid_repository_name(sample):
            raise ValueError(f"target {self.target!r} is not a valid repository name")
        if stars == 0 and self.source == self.target:
            raise ValueError(f"source and target are the same repository ({self.source!r})")
        return self

    @property
    def creates_target(self) -> bool:
        """Its targets exist only once promoted into: the function creates them (`{name}` targets)."""
        return "{name}" in self.target

    @property
    def requires_scan(self) -> bool:
        return self.require.scan is not None

    def target_for(self, repository: str) -> str | None:
        """The target repository for `repository`, or None when this rule's source does not match."""
        if "*" not in self.source:
            return self.target if repository == self.source else None
        prefix, suffix = self.source.split("*")
        if not (repository.startswith(prefix) and repository.endswith(suffix)) or len(repository) < len(prefix) + len(
            suffix
        ):
            return None
        name = repository[len(prefix) : len(repository) - len(suffix)] if suffix else repository[len(prefix) :]
        if not name:
            return None
        target = self.target.replace("{name}", name)
        if target == repository or not is_valid_repository_name(target):
            return None
        return target

    def source_for(self, target: str) -> str | None:
        """The source repository this rule promotes into `target` from, when exactly one can (inverse of target_for)."""
        if "{name}" not in self.target:
            return self.source if target == self.target and "*" not in self.source else None
        prefix, suffix = self.target.split("{name}", 1)
        if not (target.startswith(prefix) and target.endswith(suffix)) or len(target) <= len(prefix) + len(suffix):
            return None
        source = self.source.replace("*", target[len(prefix) : len(target) - len(suffix)])
        return source if self.target_for(source) == target else None

    def promotable_tags(self, tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(tag for tag in set(tags) if any(fnmatch.fnmatchcase(tag, glob) for glob in self.tags)))

    @property
    def source_pattern(self) -> str:
        """IAM-style resource pattern of the source repositories (`dev-*`)."""
        return self.source

    @property
    def target_pattern(self) -> str:
        """IAM-style resource pattern of the target repositories (`prod-{name}` → `prod-*`)."""
        return self.target.replace("{name}", "*")


class Policy(_Strict):
    rules: tuple[Rule, ...] = Field(min_length=1)
    allow_override: bool = False
    trust: Trust = Trust()

    @model_validator(mode="after")
    def _names_unique_and_no_cycles(self) -> Policy:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique: {', '.join(duplicates)}")
        cycle = _cycle(self.rules)
        if cycle:
            raise ValueError(
                f"rules {' -> '.join(repr(name) for name in cycle)} form a cycle (each promotes into a repository "
                "the next reads as a source): promotion chains are not allowed to loop back"
            )
        return self

    def next_stages(self, rule: Rule) -> list[Rule]:
        """The rules that read, as a source, a repository `rule` promotes into (the next stages of a chain)."""
        return [other for other in self.rules if _overlap(rule.target_pattern, other.source)]

    @property
    def has_chains(self) -> bool:
        return any(self.next_stages(rule) for rule in self.rules)

    def chain_repositories(self, repository: str) -> tuple[str, ...]:
        """The other repositories of `repository`'s chain: the stages a digest came from and goes to.

        Evidence about a digest recorded in any of them counts in every stage. Without chains: ().
        Bounded: chains have no cycles, and each hop is one rule.
        """
        if not self.has_chains:
            return ()
        seen = [repository]
        for current in seen:  # grows while walking: breadth-first over both directions
            if len(seen) > 4 * len(self.rules) + 1:
                break
            following = [target for _, target in self.rules_for(current)]
            preceding = [source for rule in self.rules if (source := rule.source_for(current)) is not None]
            seen += [repo for repo in (*following, *preceding) if repo not in seen]
        return tuple(seen[1:])

    def rule_named(self, name: str) -> Rule:
        return next(rule for rule in self.rules if rule.name == name)

    def rules_for(self, repository: str) -> list[tuple[Rule, str]]:
        """Every (rule, target repository) whose source matches `repository`, in policy order."""
        matches = []
        for rule in self.rules:
            target = rule.target_for(repository)
            if target is not None:
                matches.append((rule, target))
        return matches

    @property
    def source_patterns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.source_pattern for rule in self.rules))

    @property
    def target_patterns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.target_pattern for rule in self.rules))


def _overlap(first: str, second: str) -> bool:
    """Whether two repository patterns (names, or globs with one `*` matching at least one character)
    can name the same repository. Two globs `a*b` and `c*d` can when one prefix extends the other and
    one suffix extends the other: the `*`s then absorb the difference."""
    if "*" not in first and "*" not in second:
        return first == second
    if "*" not in first:
        first, second = second, first
    prefix, suffix = first.split("*", 1)
    if "*" not in second:
        return len(second) > len(prefix) + len(suffix) and second.startswith(prefix) and second.endswith(suffix)
    other_prefix, other_suffix = second.split("*", 1)
    prefixes = prefix.startswith(other_prefix) or other_prefix.startswith(prefix)
    suffixes = suffix.endswith(other_suffix) or other_suffix.endswith(suffix)
    return prefixes and suffixes


def _feeds_itself(rule: Rule) -> bool:
    """Whether every target of the rule is again one of its sources: `dev-*` → `dev-again-{name}` loops
    forever. One that only sometimes is (`prod-dev-*` → `prod-{name}`, `*-app` → `prod-{name}`)
    consumes part of the name at each hop, so its chain ends (other checks may still refuse it)."""
    if "{name}" not in rule.target or "*" not in rule.source:
        return False
    prefix, suffix = rule.source.split("*", 1)
    before, after = rule.target.split("{name}", 1)
    return before.startswith(prefix) and after.endswith(suffix)


def _cycle(rules: tuple[Rule, ...]) -> list[str]:
    """The names along a cycle of rules (first name repeated at the end), or [] when the chains end."""
    following = {
        rule.name: [
            other.name
            for other in rules
            if (_feeds_itself(rule) if other is rule else _overlap(rule.target_pattern, other.source))
        ]
        for rule in rules
    }
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return []
        for after in following[name]:
            found = walk(after, [*path, name])
            if found:
                return found
        done.add(name)
        return []

    for rule in rules:
        found = walk(rule.name, [])
        if found:
            return found
    return []


def load_policy(raw: str | bytes | Mapping[str, Any]) -> Policy:
    """Parse and validate a policy (JSON text or an already-decoded mapping); raise PolicyError with a clear reason."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except UnicodeDecodeError:
            raise PolicyError("policy is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise PolicyError(f"policy is not valid JSON: {error}") from None
    if not isinstance(raw, Mapping):
        raise PolicyError("policy must be a JSON object with a 'rules' list")
    try:
        return Policy.model_validate(dict(raw))
    except ValidationError as error:
        issues = error.errors()
        # A rule that fails validation also makes the rules tuple "too short"; report only the cause.
        specific = [issue for issue in issues if issue["type"] != "too_short"] or issues
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'policy'}: {_clipped(issue['msg'])}"
            for issue in specific[:_MAX_PROBLEMS]
        )
        if len(specific) > _MAX_PROBLEMS:
            problems += f"; and {len(specific) - _MAX_PROBLEMS} more"
        raise PolicyError(f"invalid promotion policy: {problems}") from None


# A hostile or broken policy must not turn into a 100 kB error message (it is logged and printed).
_MAX_PROBLEMS = 10
_MAX_PROBLEM_LENGTH = 300


def _clipped(message: str) -> str:
    return message if len(message) <= _MAX_PROBLEM_LENGTH else message[: _MAX_PROBLEM_LENGTH - 1] + "…"
