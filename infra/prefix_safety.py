"""The replication filter is a plain string prefix: check at synth that it ships exactly the promoted images.

ECR replication `PREFIX_MATCH` compares the start of the repository name and nothing else
(aws/containers-roadmap#2129: the filter `prod-foo` also replicates `prod-foobar`). So:
- a rule whose source can match the prefix would replicate images nobody reviewed → refused;
- a rule whose target can fall outside the prefix would promote images that never ship → refused;
- a target that is the start of another repository's name shares every prefix-scoped control with it
  (replication filters, `prod-foo*` IAM/SCP patterns) → a warning, since it may be intended.
Chained stages (`dev-*` → `staging-{name}`, `staging-*` → `prod-{name}`; replication cannot chain, so the
promoter does): a rule whose target another rule reads is an intermediate stage and must stay *outside*
the prefix (it would replicate before its last gate); only a chain's last stage may, and must, match the
prefix; a cycle of rules is refused (an image would be promoted around it for ever).
Pure functions over (rule name, source, target) triples: the caller (infra.config) turns problems into
its ConfigError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

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


RuleShape = tuple[str, str, str]  # (name, source, target)


def _feeds(target: str, source: str) -> bool:
    """Whether the repositories `target` names can be read by `source` (a name or a one-`*` glob)."""
    return fnmatchcase(target.replace(NAME_PLACEHOLDER, "x"), source)


def _next_stages(rules: Sequence[RuleShape]) -> dict[str, list[str]]:
    return {name: [other for other, source, _ in rules if _feeds(target, source)] for name, _, target in rules}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once, as the rule names along it (first name repeated at the end)."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(path: list[str]) -> None:
        for following in graph[path[-1]]:
            if following in path:
                cycle = path[path.index(following) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, following])
            else:
                walk([*path, following])

    for start in graph:
        walk([start])
    return found


def check_stages(rules: Sequence[RuleShape], prefix: str, *, key: str = "replication_prefix") -> tuple[str, ...]:
    """The errors of a policy given as (name, source, target): sources, stages and cycles against `prefix`."""
    errors: list[str] = []
    graph = _next_stages(rules)
    for cycle in _cycles(graph):
        path = " → ".join(repr(name) for name in cycle)
        errors.append(
            f"cdk.json context 'promotion_policy': rules {path} form a cycle: each promotes into the next one's "
            "source, so an image would be promoted around it for ever"
        )
    for name, source, target in rules:
        if _source_can_start_with(source, prefix):
            errors.append(
                f"cdk.json context {key!r}: rule {name!r} reads source {source!r}, which can match "
                f"repositories starting with {prefix!r}: their unpromoted images would replicate too"
            )
        readers = graph[name]
        if readers:
            if _source_can_start_with(target.replace(NAME_PLACEHOLDER, "*"), prefix):
                errors.append(
                    f"cdk.json context {key!r}: rule {name!r} promotes into {target!r}, an intermediate stage "
                    f"that rule {readers[0]!r} reads, and it can start with {prefix!r}: it would replicate before "
                    "the last stage's gates; only a chain's last stage may match the prefix"
                )
        elif not _fixed_start(target).startswith(prefix):
            errors.append(
                f"cdk.json context {key!r}: rule {name!r} promotes into {target!r}, which does not "
                f"always start with {prefix!r}: promoted images would never replicate"
            )
    return tuple(errors)


def check_prefix(policy: Policy, prefix: str, *, key: str = "replication_prefix") -> PrefixReport:
    shapes = [(rule.name, rule.source, rule.target) for rule in policy.rules]
    return PrefixReport(errors=check_stages(shapes, prefix, key=key), warnings=tuple(_overlaps(policy, prefix, key)))


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
