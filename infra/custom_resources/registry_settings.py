"""CloudFormation custom resource: merge ecr-promoter's registry-wide settings into what the account already has.

ECR keeps one replication configuration and one registry policy per registry, so a plain
`AWS::ECR::ReplicationConfiguration` / `AWS::ECR::RegistryPolicy` replaces other teams' rules on deploy and
wipes them on delete. This handler reads the current value, adds only ours, writes it back, and on delete
removes only ours. `BLOB_MOUNTING` is put back to the value it had before we enabled it.

What is "ours": the replication rule whose only destination and only filter are ours (a rule that was already
there before we came is adopted, never removed); the policy statement with our `Sid`. What we found is kept in
the physical resource id, the one piece of state CloudFormation hands back on update and delete.

ECR offers no compare-and-swap for these settings: two writers at the same moment can lose one update. Deploys
of this stack are serialized by CloudFormation; other writers are people or other stacks (see DEPLOY.md).

Runs in Lambda (python3.14, the runtime's boto3) behind the CDK Provider framework; no other imports.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

REPLICATION_RULE = "ReplicationRule"
REGISTRY_POLICY_STATEMENT = "RegistryPolicyStatement"
BLOB_MOUNTING = "BlobMounting"
BLOB_MOUNTING_SETTING = "BLOB_MOUNTING"
ADOPTED = "adopted"
POLICY_VERSION = "2012-10-17"

Json = dict[str, Any]


class SettingsError(ValueError):
    """The resource's properties or the account's current setting cannot be merged; nothing was written."""


# ---- replication configuration ---------------------------------------------------------------


def replication_rule(prefix: str, registry_id: str, region: str) -> Json:
    """Our rule in the shape of PutReplicationConfiguration's `rules[]`."""
    return {
        "destinations": [{"region": region, "registryId": registry_id}],
        "repositoryFilters": [{"filter": prefix, "filterType": "PREFIX_MATCH"}],
    }


def _same_rule(candidate: Json, ours: Json) -> bool:
    # Compare what identifies the rule; keys ECR may add (deleteReplication, ...) do not make it another rule.
    return all(candidate.get(key) == ours[key] for key in ("destinations", "repositoryFilters"))


def rules_of(configuration: Json | None) -> list[Json]:
    return list((configuration or {}).get("rules") or [])


def has_rule(configuration: Json | None, ours: Json) -> bool:
    return any(_same_rule(rule, ours) for rule in rules_of(configuration))


def with_rule(configuration: Json | None, ours: Json) -> Json:
    """The configuration with our rule appended (once); every other rule kept as it was, in order."""
    rules = rules_of(configuration)
    if not any(_same_rule(rule, ours) for rule in rules):
        rules.append(ours)
    return {"rules": rules}


def without_rule(configuration: Json | None, ours: Json) -> Json:
    """The configuration minus our rule; every other rule kept as it was, in order."""
    return {"rules": [rule for rule in rules_of(configuration) if not _same_rule(rule, ours)]}


def _rule_from(properties: Json) -> Json:
    try:
        return replication_rule(
            properties["Prefix"], properties["DestinationRegistryId"], properties["DestinationRegion"]
        )
    except KeyError as missing:
        raise SettingsError(f"ReplicationRule needs property {missing}") from None


def _replication_id(ours: Json, adopted: bool) -> str:
    destination, repository_filter = ours["destinations"][0], ours["repositoryFilters"][0]
    base = f"replication:{repository_filter['filter']}->{destination['registryId']}/{destination['region']}"
    return f"{base}:{ADOPTED}" if adopted else base


def apply_replication(ecr: Any, request: str, properties: Json, physical_id: str | None) -> str:
    ours = _rule_from(properties)
    if request == "Delete":
        if physical_id is None or physical_id.endswith(f":{ADOPTED}") or not physical_id.startswith("replication:"):
            LOG.info("replication rule %s was not created by this stack: left in place", physical_id)
            return physical_id or _replication_id(ours, adopted=True)
        current = ecr.describe_registry().get("replicationConfiguration")
        if has_rule(current, ours):
            ecr.put_replication_configuration(replicationConfiguration=without_rule(current, ours))
            LOG.info("removed replication rule %s", physical_id)
        return physical_id
    current = ecr.describe_registry().get("replicationConfiguration")
    same_rule_ids = (_replication_id(ours, adopted=False), _replication_id(ours, adopted=True))
    if request == "Update" and physical_id in same_rule_ids:
        kept = str(physical_id)  # the same rule as before: keep its id, so CloudFormation deletes nothing after
    else:
        # Create, or Update to another rule: CloudFormation deletes the old id (and so the old rule) afterwards.
        kept = _replication_id(ours, adopted=has_rule(current, ours))
    if not has_rule(current, ours):
        merged = with_rule(current, ours)
        ecr.put_replication_configuration(replicationConfiguration=merged)
        LOG.info("added replication rule %s; the registry now has %d rule(s)", kept, len(merged["rules"]))
    return kept


# ---- registry policy -------------------------------------------------------------------------


def statements_of(policy: Json | None) -> list[Json]:
    statements = (policy or {}).get("Statement") or []
    return list(statements) if isinstance(statements, list) else [statements]


def with_statement(policy: Json | None, ours: Json) -> Json:
    """The policy with our statement (by Sid) replaced or appended; the rest of the document kept."""
    merged = dict(policy or {"Version": POLICY_VERSION})
    merged["Statement"] = [s for s in statements_of(policy) if s.get("Sid") != ours["Sid"]] + [ours]
    return merged


def without_statement(policy: Json | None, sid: str) -> Json | None:
    """The policy minus our statement, or None when nothing else is left (the policy is then deleted)."""
    rest = [s for s in statements_of(policy) if s.get("Sid") != sid]
    if not rest:
        return None
    return {**(policy or {}), "Statement": rest}


def _current_policy(ecr: Any) -> Json | None:
    try:
        text = ecr.get_registry_policy()["policyText"]
    except ecr.exceptions.RegistryPolicyNotFoundException:
        return None
    policy = json.loads(text)
    if not isinstance(policy, dict):
        raise SettingsError("the registry policy is not a JSON object; not touching it")
    return policy


def _statement_from(properties: Json) -> Json:
    try:
        statement = json.loads(properties["Statement"])
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise SettingsError(f"RegistryPolicyStatement needs a JSON 'Statement' property ({error})") from None
    if not isinstance(statement, dict) or not statement.get("Sid"):
        raise SettingsError("RegistryPolicyStatement: the statement must be an object with a Sid")
    return statement


def apply_registry_policy(ecr: Any, request: str, properties: Json, physical_id: str | None) -> str:
    ours = _statement_from(properties)
    kept = f"registry-policy-statement:{ours['Sid']}"
    current = _current_policy(ecr)
    if request == "Delete":
        rest = without_statement(current, ours["Sid"])
        if current is None or rest == current:
            return physical_id or kept
        if rest is None:
            with contextlib.suppress(ecr.exceptions.RegistryPolicyNotFoundException):
                ecr.delete_registry_policy()
        else:
            ecr.put_registry_policy(policyText=json.dumps(rest))
        LOG.info("removed registry policy statement %s", ours["Sid"])
        return physical_id or kept
    merged = with_statement(current, ours)
    if merged != current:
        ecr.put_registry_policy(policyText=json.dumps(merged))
        LOG.info("registry policy statement %s written; %d statement(s) in all", ours["Sid"], len(merged["Statement"]))
    return kept


# ---- BLOB_MOUNTING account setting -------------------------------------------------------------


def _prior_from(physical_id: str | None) -> str | None:
    prefix = f"{BLOB_MOUNTING_SETTING}:prior="
    if physical_id and physical_id.startswith(prefix):
        return physical_id.removeprefix(prefix) or None
    return None


def apply_blob_mounting(ecr: Any, request: str, properties: Json, physical_id: str | None) -> str:
    wanted = properties.get("Value", "ENABLED")
    if wanted not in ("ENABLED", "DISABLED"):
        raise SettingsError(f"BlobMounting Value must be ENABLED or DISABLED, got {wanted!r}")
    if request == "Delete":
        prior = _prior_from(physical_id)
        if prior is None:
            LOG.info("no prior BLOB_MOUNTING value recorded in %r: left as it is", physical_id)
        else:
            ecr.put_account_setting(name=BLOB_MOUNTING_SETTING, value=prior)
            LOG.info("BLOB_MOUNTING restored to %s", prior)
        return physical_id or f"{BLOB_MOUNTING_SETTING}:prior="
    if request == "Update" and _prior_from(physical_id) is not None:
        kept = str(physical_id)  # the value before our first Create stays the one to restore
    else:
        prior = ecr.get_account_setting(name=BLOB_MOUNTING_SETTING).get("value") or "DISABLED"
        kept = f"{BLOB_MOUNTING_SETTING}:prior={prior}"
    ecr.put_account_setting(name=BLOB_MOUNTING_SETTING, value=wanted)
    LOG.info("BLOB_MOUNTING set to %s (%s)", wanted, kept)
    return kept


# ---- entry point --------------------------------------------------------------------------------

APPLY = {
    REPLICATION_RULE: apply_replication,
    REGISTRY_POLICY_STATEMENT: apply_registry_policy,
    BLOB_MOUNTING: apply_blob_mounting,
}


def handle(event: Json, ecr: Any) -> Json:
    """One CloudFormation request (Create/Update/Delete) → the Provider framework's answer."""
    properties = event.get("ResourceProperties") or {}
    setting = properties.get("Setting")
    if setting not in APPLY:
        raise SettingsError(f"unknown Setting {setting!r}; expected one of {sorted(APPLY)}")
    request = event["RequestType"]
    physical_id = APPLY[setting](ecr, request, properties, event.get("PhysicalResourceId"))
    return {"PhysicalResourceId": physical_id}


def on_event(event: Json, _context: object) -> Json:
    import boto3  # noqa: PLC0415 - the Lambda runtime's SDK; imported here so the merge logic imports nothing

    LOG.info("%s %s", event.get("RequestType"), (event.get("ResourceProperties") or {}).get("Setting"))
    return handle(event, boto3.client("ecr"))
