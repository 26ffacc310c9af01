"""Promotion with its attestation (ATTESTATION_KEY set): copy by digest, publish the VSA, then tag.

Why this module exists: the promotion attestation (docs/ATTESTATION.md) must be pushed *before* the promoted tag, so
a tag is never seen without its VSA, and an attestation failure must fail the promotion. The plain
copy (promoter.images) writes tags as its last step; here the same copy is made untagged, the VSA is
published (promoter.provenance), and only then are the tags written. The evidence the gates passed
on is listed in the VSA's `inputAttestations` (`evidence_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from promoter.attest.intoto import ResourceDescriptor
from promoter.gates import Evidence
from promoter.provenance import Signer, evidence_descriptor, publish_attestation
from promoter.registry import CopyResult, RegistryClient, copy_image
from promoter.registry.errors import ImageNotFound, TagConflict

# What the VSA names as the verifier's version (pyproject's project version).
VERIFIER_VERSION = {"ecr-promoter": "0.1.0"}
_HEX_PREFIX = "sha256:"


@dataclass(frozen=True)
class AttestedPromotion:
    """The result of one attested copy: the copy, and the referrer manifest digest of its VSA."""

    copy: CopyResult
    attestation_digest: str


def evidence_inputs(
    evidence: Evidence, suites: Sequence[str], envelopes: Mapping[str, str] | None = None, *, rule: str | None = None
) -> list[ResourceDescriptor]:
    """`inputAttestations`: the signed envelopes, and the test results and scan the gates used.

    Approvals and signed test results (`envelopes`: suite -> `sha256:<hex>` of its envelope) are listed by
    the sha256 of their DSSE envelope as stored; an unsigned test result and the scan as JSON evidence
    records (their canonical JSON's sha256), with the CI run's URL when there is one.
    """
    signed = envelopes or {}
    inputs = [
        ResourceDescriptor({"sha256": approval.attestation_digest.removeprefix(_HEX_PREFIX)})
        for approval in evidence.approvals
        # Only the approvals this rule's gate used: another stage's approval is not this promotion's evidence.
        if approval.decision == "approve" and (rule is None or approval.rule == rule)
    ]
    for suite in suites:
        result = evidence.tests.get(suite)
        if suite in signed:
            url = result.run_url if result is not None else None
            inputs.append(ResourceDescriptor({"sha256": signed[suite].removeprefix(_HEX_PREFIX)}, url))
        elif result is not None:
            record = {"suite": result.suite, "result": str(result.result), "at": result.at.isoformat()}
            inputs.append(evidence_descriptor(record, uri=result.run_url))
    scan = evidence.scan
    if scan is not None:
        inputs.append(evidence_descriptor({"severity_counts": dict(scan.severity_counts), "at": scan.at.isoformat()}))
    return inputs


class AttestedCopies:
    """Copies an image untagged, publishes its VSA signed by the attestation key, then writes the tags."""

    def __init__(
        self,
        client: RegistryClient,
        signer: Signer,
        *,
        policy_json: str,
        verifier_id: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._signer = signer
        self._policy = policy_json
        self._verifier_id = verifier_id
        self._clock = clock

    def promote(
        self,
        source_repository: str,
        digest: str,
        target_repository: str,
        tags: tuple[str, ...],
        *,
        rule: str,
        inputs: Sequence[ResourceDescriptor],
    ) -> AttestedPromotion:
        """Raises TagConflict before anything is written when a tag holds another digest; any error of the
        attestation propagates before a tag is written (the retry of the event completes it)."""
        missing = self._missing_tags(target_repository, digest, tags)
        copied = copy_image(self._client, source_repository, digest, self._client, target_repository, ())
        subject = self._client.resolve(target_repository, digest)
        if subject is None:
            raise ImageNotFound(f"{target_repository}@{digest} is gone right after its copy")
        published = publish_attestation(
            self._client,
            target_repository,
            subject,
            rule=rule,
            policy=self._policy,
            input_attestations=inputs,
            verifier_id=self._verifier_id,
            verifier_version=VERIFIER_VERSION,
            clock=self._clock,
            signer=self._signer,
        )
        if missing:
            manifest = self._client.get_manifest(target_repository, digest)
            for tag in missing:
                self._client.put_manifest(target_repository, tag, manifest)
        present = copied.already_present and not missing
        return AttestedPromotion(
            replace(copied, already_present=present, tags_written=tuple(missing)), published.digest
        )

    def _missing_tags(self, repository: str, digest: str, tags: tuple[str, ...]) -> list[str]:
        missing = []
        for tag in tags:
            held = self._client.resolve(repository, tag)
            if held is None:
                missing.append(tag)
            elif held.digest != digest:
                raise TagConflict(tag, held.digest, digest)
        return missing
