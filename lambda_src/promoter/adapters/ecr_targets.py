"""Targets of `{name}` rules, created by the function itself with the stack's write protection.

Why: a `dev-*` → `prod-{name}` rule has targets that do not exist before their first promotion, and a
target must never be created by a push (a push-created repository carries no policy, mutable tags,
no scanning). So before the first write into such a target the function creates it the way the
stack creates named targets: CreateRepository with `imageTagMutability: IMMUTABLE_WITH_EXCLUSION`
(release tags immutable; only `sha256-*` tags, where the tag-schema referrer index and cosign's
`.att` image live, may be updated), `imageScanningConfiguration.scanOnPush: true` and tags, then
SetRepositoryPolicy with the document the stack put in `TARGET_REPOSITORY_POLICY` (ECR API
reference: CreateRepository, SetRepositoryPolicy; mutability defaults to MUTABLE when omitted, so it
is always sent).

A target that already exists is written into only when it is protected:
- tags neither IMMUTABLE nor IMMUTABLE_WITH_EXCLUSION limited to `sha256-*`: refused (someone else
  made it; a promoted tag could be moved);
- no repository policy (GetRepositoryPolicy: RepositoryPolicyNotFoundException): the policy is set,
  then the copy goes on. This finishes a creation interrupted between the two calls; a repository
  someone else created immutable becomes protected before anything of ours enters it;
- a policy that lacks any statement of ours: refused (the write protection was removed or never
  there; extra statements of the operator's are fine, every deny of ours still applies).
A refusal is a reason the decision records as `rejected`; AWS faults raise (Lambda retries).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from promoter.contract import SERVICE_NAME, TARGET_MUTABLE_TAG_FILTERS, TARGET_TAG_MUTABILITY

IMMUTABLE = "IMMUTABLE"
EXCLUSION_FILTERS = [{"filterType": "WILDCARD", "filter": pattern} for pattern in TARGET_MUTABLE_TAG_FILTERS]
CREATED_BY_TAG = {"Key": "created-by", "Value": SERVICE_NAME}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _canonical(value: Any) -> Any:
    """A policy value compared by meaning: key order, list order and one-item lists do not matter."""
    if isinstance(value, dict):
        return tuple(sorted((key, _canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        items = sorted((_canonical(item) for item in value), key=repr)
        return items[0] if len(items) == 1 else tuple(items)
    return value


def _statements(policy_text: str) -> set[Any]:
    document = json.loads(policy_text)
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return {_canonical(statement) for statement in statements}


class EcrTargetRepositories:
    """promoter.ports.TargetRepositories over the ECR API; `ecr` is a boto3 ECR client."""

    def __init__(self, ecr: Any, policy_text: str, *, tags: Mapping[str, str] | None = None) -> None:
        self._ecr = ecr
        self._policy = policy_text
        self._ours = _statements(policy_text)
        self._tags = [CREATED_BY_TAG, *({"Key": key, "Value": value} for key, value in (tags or {}).items())]
        self._protected: set[str] = set()  # checked in this execution environment: not asked again

    def prepare(self, repository: str) -> str | None:
        """None when `repository` exists protected (created now if missing); else why it is refused."""
        if repository in self._protected:
            return None
        existing = self._describe(repository)
        if existing is None and self._created(repository):
            self._protected.add(repository)
            return None
        # It exists, or a concurrent promotion created it first: check it like any existing target.
        existing = existing or self._describe(repository)
        if existing is None:
            return f"target {repository} vanished while being created"
        refusal = self._check(repository, existing)
        if refusal is None:
            self._protected.add(repository)
        return refusal

    def _describe(self, repository: str) -> Mapping[str, Any] | None:
        try:
            found = self._ecr.describe_repositories(repositoryNames=[repository])["repositories"]
        except ClientError as error:
            if _code(error) == "RepositoryNotFoundException":
                return None
            raise
        return found[0] if found else None

    def _created(self, repository: str) -> bool:
        """Create the target protected; False when it already exists (created concurrently)."""
        try:
            self._ecr.create_repository(
                repositoryName=repository,
                imageTagMutability=TARGET_TAG_MUTABILITY,
                imageTagMutabilityExclusionFilters=EXCLUSION_FILTERS,
                imageScanningConfiguration={"scanOnPush": True},
                tags=self._tags,
            )
        except ClientError as error:
            if _code(error) == "RepositoryAlreadyExistsException":
                return False
            raise
        self._ecr.set_repository_policy(repositoryName=repository, policyText=self._policy)
        return True

    def _check(self, repository: str, found: Mapping[str, Any]) -> str | None:
        mutability = found.get("imageTagMutability", "MUTABLE")
        exclusions = found.get("imageTagMutabilityExclusionFilters") or []
        protected = mutability == IMMUTABLE or (
            mutability == TARGET_TAG_MUTABILITY and all(f in EXCLUSION_FILTERS for f in exclusions)
        )
        if not protected:
            return f"target {repository} exists with {mutability} tags: refusing to promote into it (make it IMMUTABLE)"
        try:
            text = str(self._ecr.get_repository_policy(repositoryName=repository)["policyText"])
        except ClientError as error:
            if _code(error) != "RepositoryPolicyNotFoundException":
                raise
            self._ecr.set_repository_policy(repositoryName=repository, policyText=self._policy)
            return None
        missing = self._ours - _statements(text)
        if missing:
            return (
                f"target {repository} has a repository policy without the promoter's write protection "
                f"({len(missing)} statement(s) missing): refusing to promote into it"
            )
        return None
