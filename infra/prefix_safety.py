"""The replication filter is a plain string prefix: check at synth that it ships exactly the promoted images.

ECR replication `PREFIX_MATCH` compares the start of the repository name and nothing else
(aws/containers-roadmap#2129: the filter `prod-foo` also replicates `prod-foobar`). So:
- a rule whose source can match the prefix would replicate images nobody reviewed → refused;
- a rule whose target can fall outside the prefix would promote images that never ship → refused;
- a target that is the start of another repository's name shares every prefix-scoped control with it
  (replication filters, `prod-foo*` IAM/SCP patterns) → a warning, since it may be intended.
Pure functions over the policy: the caller (infra.config) turns problems into its ConfigError.
"""

from __future__ import annotations

from dataclasses import dataclass

from promoter.policy import Policy, Rule

NAME_PLACEHOLDER = "{name}"


@dataclass(frozen=True)
class PrefixReport:
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def _source_can_start_with(source: str, prefix: str) -> bool:
    """Whether some repository the source (a name or a one-`*` glob) matches starts with `prefix`."""
    if "*" not in source:
        return source.startswith(prefix)
    literal = source.split("*", 1)[0]
    # Either the literal part already starts with the prefix, or the `*` can supply the rest of it.
    return literal.startswith(prefix) or prefix.startswith(literal)


def _fixed_start(target: str) -> str:
    """The part of a target every repository it names starts with (all of it without `{name}`)."""
    return target.split(NAME_PLACEHOLDER, 1)[0]


def check_prefix(policy: Policy, prefix: str, *, key: str = "replication_prefix") -> PrefixReport:
    errors: list[str] = []
    for rule in policy.rules:
        if _source_can_start_with(rule.source, prefix):
            errors.append(
                f"cdk.json context {key!r}: rule {rule.name!r} reads source {rule.source!r}, which can match "
                f"repositories starting with {prefix!r}: their unpromoted images would replicate too"
            )
        if not _fixed_start(rule.target).startswith(prefix):
            errors.append(
                f"cdk.json context {key!r}: rule {rule.name!r} promotes into {rule.target!r}, which does not "
                f"always start with {prefix!r}: promoted images would never replicate"
            )
    return PrefixReport(errors=tuple(errors), warnings=tuple(_overlaps(policy, prefix, key)))


def _overlaps(policy: Policy, prefix: str, key: str) -> list[str]:
    warnings: list[str] = []
    named = {rule.target: rule for rule in policy.rules if NAME_PLACEHOLDER not in rule.target}
    for target, rule in named.items():
        for other in sorted(name for name in named if name != target and name.startswith(target)):
            warnings.append(
                f"cdk.json context 'promotion_policy': rule {rule.name!r} target {target!r} is the start of "
                f"{other!r}: prefix-scoped controls on {target!r} (a replication filter, '{target}*' in IAM or "
                "an SCP) also cover it (aws/containers-roadmap#2129)"
            )
    for rule in policy.rules:
        if NAME_PLACEHOLDER in rule.target:
            warnings.extend(_glob_covers(rule, named))
    if prefix in named:
        warnings.append(
            f"cdk.json context {key!r}: {prefix!r} is a whole repository name; replication also ships every "
            f"repository whose name starts with it (e.g. '{prefix}x'). End the prefix with a separator such as '-'"
        )
    return warnings


def _glob_covers(rule: Rule, named: dict[str, Rule]) -> list[str]:
    start = _fixed_start(rule.target)
    end = rule.target.rsplit(NAME_PLACEHOLDER, 1)[1]
    return [
        f"cdk.json context 'promotion_policy': rule {rule.name!r} target {rule.target!r} can name {target!r}, "
        f"which rule {other.name!r} also promotes into: both rules may write there"
        for target, other in sorted(named.items())
        if other.name != rule.name and target.startswith(start) and target.endswith(end) and len(target) > len(start)
    ]
