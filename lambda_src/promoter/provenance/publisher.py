"""Publish the promotion attestation: a signed SLSA VSA attached to the promoted image, before its tag.

Why: production must be able to check, with the registry alone, that an image came through the gate
(which rule, which policy, which evidence, when). The VSA is written in the places verifiers look
(`attest.layout`): the OCI 1.1 referrer (subject = the promoted manifest), the `sha256-<hex>`
tag-schema index where the registry lacks the referrers API, and cosign's `sha256-<hex>.att` image.
The caller writes the promoted tag only after `publish` returns, so replication never ships the
image without its attestation (ECR replicates referrers with their subject).

Order, always: every blob, then the referrer manifest, then the indexes that point at it (the
`sha256-<hex>` index, the `.att` image). Redelivery is idempotent: there is one VSA per (promoted
digest, rule, verifier id). When one is already listed, its envelope is reused — nothing is signed
again and missing pieces (an index, the `.att` layer) are completed — so a retried promotion never
piles up attestations. Nothing is verified cryptographically on reuse: a forged VSA planted by
someone who can push to the target would only make `verify` fail (closed), never pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from promoter.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, parse_envelope
from promoter.attest.errors import UntrustedEvidence
from promoter.attest.evidence import attestation_digest
from promoter.attest.intoto import (
    UNEVALUATED_BUILD_LEVEL,
    VSA_PREDICATE,
    ResourceDescriptor,
    build_vsa,
    canonical_json,
    parse_statement,
    read_vsa,
)
from promoter.attest.layout import (
    OCI_IMAGE_CONFIG,
    Artifact,
    cosign_attestation_artifact,
    referrer_artifact,
    referrers_index,
)
from promoter.attest.layout import Descriptor as LayoutDescriptor
from promoter.registry import ImageNotFound, RegistryClient, RegistryError
from promoter.registry.manifest import Descriptor, Manifest

from .discovery import Candidate, Listing, list_referrers, vsa_candidates

log = logging.getLogger("promoter.provenance")

__all__ = ["PublishedAttestation", "Signer", "evidence_descriptor", "policy_digest", "publish_attestation"]


class Signer(Protocol):
    """What signs the statement: `attest.kms.KmsSigner` (the function's KMS key) or a test double."""

    def sign(self, payload_type: str, body: bytes) -> Envelope: ...


@dataclass(frozen=True)
class PublishedAttestation:
    """What a promotion records: `digest` is the referrer manifest's (the event's `attestation-digest`),
    `envelope_digest` the DSSE envelope blob's; `reused` when redelivery found it already published;
    `cosign_tag_written` False when the `.att` tag could not be updated (an immutable tag, see docs)."""

    digest: str
    envelope_digest: str
    subject: str
    reused: bool
    cosign_tag_written: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "attestation-digest": self.digest,
            "envelope-digest": self.envelope_digest,
            "subject": self.subject,
            "reused": self.reused,
            "cosign-tag-written": self.cosign_tag_written,
        }


def policy_digest(policy: Mapping[str, Any] | str | bytes) -> str:
    """`sha256:<hex>` of the policy document as canonical JSON (sorted keys, compact, UTF-8).

    Taken over the policy JSON as configured (not over a parsed model with defaults filled in), so anyone
    holding the policy file recomputes it: `jq -cjS . policy.json | sha256sum`.
    """
    document = json.loads(policy) if isinstance(policy, str | bytes) else policy
    return "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()


def evidence_descriptor(content: bytes | Mapping[str, Any], *, uri: str | None = None) -> ResourceDescriptor:
    """An `inputAttestations` entry: the sha256 of a signed envelope as stored (bytes, e.g.
    `VerifiedTestResult.envelope_bytes`, so it equals its `attestation_digest`) or of a JSON evidence record
    (a mapping, e.g. the scan findings used, as canonical JSON); `uri` says where it can be found again."""
    data = content if isinstance(content, bytes) else canonical_json(content)
    return ResourceDescriptor({"sha256": hashlib.sha256(data).hexdigest()}, uri)


def _ours(candidate: Candidate, digest: str, rule: str, verifier_id: str) -> bool:
    """Is this (unverified) envelope a VSA about `digest` for `rule` by this verifier? Junk is not ours."""
    try:
        statement = parse_statement(parse_envelope(candidate.envelope).payload)
        summary = read_vsa(statement)
    except UntrustedEvidence:
        return False
    return statement.names_digest(digest) and summary.policy_uri == rule and summary.verifier_id == verifier_id


def publish_attestation(
    client: RegistryClient,
    repository: str,
    subject: Descriptor,
    *,
    rule: str,
    policy: Mapping[str, Any] | str | bytes,
    input_attestations: Sequence[ResourceDescriptor],
    verifier_id: str,
    verifier_version: Mapping[str, str],
    clock: Callable[[], datetime],
    signer: Signer,
    verified_levels: Sequence[str] = (UNEVALUATED_BUILD_LEVEL,),
) -> PublishedAttestation:
    """Sign and push the VSA about `subject` (the promoted manifest, already in `repository`); return its
    attestation digest. Call after the image is copied by digest and before any promoted tag is written.

    `policy` is the policy document (or its JSON text): the VSA records `policy_digest(policy)`.
    Raises `RegistryError` (transient faults as `TransientRegistryError`, so the invocation is retried) and
    whatever the signer raises; a retry after a failure half-way completes the same VSA or writes a new one.
    """
    listing = list_referrers(client, repository, subject.digest)
    found = next(
        (
            candidate
            for candidate in vsa_candidates(client, repository, subject.digest, listing=listing)
            if _ours(candidate, subject.digest, rule, verifier_id)
        ),
        None,
    )
    referrer = _existing_referrer(found)
    created: datetime | None = None
    if found is not None:
        envelope = found.envelope
    else:
        created = clock()
        statement = build_vsa(
            subject.digest,
            verifier_id=verifier_id,
            verifier_version=verifier_version,
            time_verified=created,
            resource_uri=f"{client.host}/{repository}@{subject.digest}",
            policy_uri=rule,
            policy_digest=policy_digest(policy),
            input_attestations=input_attestations,
            verified_levels=verified_levels,
        )
        envelope = signer.sign(INTOTO_PAYLOAD_TYPE, statement.to_json()).to_json()
    envelope_digest = attestation_digest(envelope)
    pusher = _Pusher(client, repository)
    if referrer is None:
        layout_subject = LayoutDescriptor(subject.media_type, subject.digest, subject.size)
        referrer = referrer_artifact(layout_subject, envelope, VSA_PREDICATE, created=created)
        pusher.put(referrer, fresh=frozenset() if found else frozenset({envelope_digest}))
    _merge_fallback_index(pusher, subject.digest, referrer, listing)
    written = _merge_cosign_image(pusher, subject.digest, envelope)
    log.info("attestation %s for %s (rule %s)%s", referrer.digest, subject.digest, rule, " reused" if found else "")
    return PublishedAttestation(referrer.digest, envelope_digest, subject.digest, found is not None, written)


def _existing_referrer(found: Candidate | None) -> Artifact | None:
    """The referrer manifest a reused envelope came in (its digest stays the attestation digest); None when
    the envelope came only from the `.att` image: then a referrer is made for it."""
    if found is None or not found.in_referrer:
        return None
    manifest = found.holder
    annotations = manifest.document.get("annotations")
    return Artifact(
        manifest.data,
        manifest.media_type,
        (),
        None,
        manifest.artifact_type,
        annotations if isinstance(annotations, dict) else {},
    )


class _Pusher:
    """Pushes artifacts into one repository, blobs first, remembering which blobs are known to be there so
    one publish never asks twice. A blob is HEAD-checked unless it is `fresh` (new content, e.g. a new
    signature: asking would always answer 404)."""

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self.present: set[str] = set()

    def put(self, artifact: Artifact, *, fresh: frozenset[str] = frozenset()) -> None:
        client, repository = self.client, self.repository
        for blob in {b.digest: b for b in artifact.blobs}.values():
            if blob.digest in self.present:
                continue
            if blob.digest in fresh or not client.blob_exists(repository, blob.digest):
                location = client.start_upload(repository)
                client.finish_upload(repository, location, blob.digest, len(blob.data), [blob.data])
            self.present.add(blob.digest)
        manifest = Manifest.from_bytes(artifact.manifest, artifact.media_type)
        client.put_manifest(repository, artifact.tag or artifact.digest, manifest)


def _merge_fallback_index(pusher: _Pusher, subject: str, referrer: Artifact, listing: Listing) -> None:
    """Registries without the referrers API: add the referrer to the `sha256-<hex>` index, keeping every
    other entry. Re-read just before the write, to keep the read-modify-write window to one round trip."""
    if listing.via_api:
        return
    if any(item.digest == referrer.digest for item in listing.referrers):
        return
    tag = referrers_index(subject, ()).tag
    assert tag is not None
    try:
        current: bytes | None = pusher.client.get_manifest(pusher.repository, tag).data
    except ImageNotFound:
        current = None
    pusher.put(referrers_index(subject, [referrer.descriptor()], existing_index=current))


def _merge_cosign_image(pusher: _Pusher, subject: str, envelope: bytes) -> bool:
    """Append the envelope to cosign's `sha256-<hex>.att` image (kept as it is when already there).

    An immutable tag that already holds another `.att` image (ECR IMMUTABLE without a `sha256-*`
    exclusion filter, and cosign attestations copied from the source) refuses the update: the referrer
    remains the attestation, so this is logged and reported, not fatal.
    """
    tag = cosign_attestation_artifact(subject, envelope, VSA_PREDICATE).tag
    assert tag is not None
    try:
        current: bytes | None = pusher.client.get_manifest(pusher.repository, tag).data
    except ImageNotFound:
        current = None
    try:
        artifact = cosign_attestation_artifact(subject, envelope, VSA_PREDICATE, existing_manifest=current)
    except ValueError as error:
        log.warning("not updating %s: %s", tag, error)
        return False
    if current is not None and artifact.manifest == current:
        return True
    try:
        # Its config lists every layer's digest: new whenever the image changes, so it is not asked for.
        configs = frozenset(blob.digest for blob in artifact.blobs if blob.media_type == OCI_IMAGE_CONFIG)
        pusher.put(artifact, fresh=configs)
    except RegistryError as error:
        if error.status == 400 and "TAG_INVALID" in error.codes:
            log.warning("tag %s in %s is immutable and holds other attestations: not updated", tag, pusher.repository)
            return False
        raise
    return True
