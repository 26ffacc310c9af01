"""Find the DSSE envelopes that refer to an image digest, in every place a verifier looks.

Why a module of its own: the publisher (is a VSA for this digest and rule already there?) and the
`verify` command (which VSA proves this image?) must look in the same places, in the same order:
1. the OCI 1.1 referrers API (ECR, and every registry that has it);
2. else the referrers tag schema's index at tag `sha256-<hex>` (distribution-spec "Referrers Tag
   Schema", for registries without the API, e.g. CNCF distribution 2.8);
3. then cosign's attestation image at tag `sha256-<hex>.att` (what `cosign attest` writes).
A referrer's layer is a DSSE envelope (artifactType `application/vnd.in-toto+json`) or a Sigstore
bundle v0.3 whose `dsseEnvelope` is one (cosign 3). Everything read here is untrusted: it only
yields candidates; a candidate proves nothing until `attest.evidence.verify_vsa` accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from promoter.attest.intoto import VSA_PREDICATE
from promoter.attest.layout import (
    DSSE_ENVELOPE_MEDIA_TYPE,
    INTOTO_ARTIFACT_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    SIGSTORE_BUNDLE_V03,
    attestation_tag,
    referrers_tag,
)
from promoter.registry import ImageNotFound, RegistryClient
from promoter.registry.errors import BlobNotFound, UnsupportedManifest
from promoter.registry.manifest import Descriptor, Manifest

# DSSE parsing refuses envelopes over 256 KiB; a bundle wraps one envelope plus a little JSON.
MAX_ENVELOPE_BLOB = 512 * 1024
# A verifier reads at most this many candidate layers per image: a registry full of junk referrers
# must not make verification (or a redelivered promotion) unbounded.
MAX_CANDIDATES = 64

_ARTIFACT_TYPES = frozenset({INTOTO_ARTIFACT_TYPE, SIGSTORE_BUNDLE_V03})


@dataclass(frozen=True)
class Listing:
    """The referrers of a digest and where they were listed: `via_api` False means the tag schema index
    (or nothing at all) — the registry has no referrers API and the publisher must keep that index."""

    referrers: tuple[Descriptor, ...]
    via_api: bool


@dataclass(frozen=True)
class Candidate:
    """One DSSE envelope found for a digest: `where` says where (for messages), `referrer` is the digest
    of the manifest holding it (the attestation digest)."""

    where: str
    holder: Manifest  # the manifest whose layer held it: a referrer, or cosign's `.att` image
    envelope: bytes
    in_referrer: bool = True  # False: found in cosign's `.att` image, not in an OCI 1.1 referrer

    @property
    def referrer(self) -> str:
        return self.holder.digest


def list_referrers(client: RegistryClient, repository: str, digest: str) -> Listing:
    """Referrers API first; on a registry without it, the `sha256-<hex>` index (absent: no referrers)."""
    found = client.referrers(repository, digest)
    if found is not None:
        return Listing(tuple(found), via_api=True)
    try:
        index = client.get_manifest(repository, referrers_tag(digest))
    except ImageNotFound:
        return Listing((), via_api=False)
    try:
        return Listing(index.children, via_api=False)
    except UnsupportedManifest:  # an unreadable index means "no referrers yet" (distribution-spec)
        return Listing((), via_api=False)


def _layers(manifest: Manifest) -> tuple[Descriptor, ...]:
    try:
        return tuple(Descriptor.from_json(item) for item in manifest.document.get("layers") or [])
    except UnsupportedManifest:
        return ()


def _may_hold_vsa(layer: Descriptor) -> bool:
    declared = layer.annotations.get(PREDICATE_TYPE_ANNOTATION)
    return declared is None or declared == VSA_PREDICATE


def _envelope_of(client: RegistryClient, repository: str, layer: Descriptor) -> bytes | None:
    """The envelope bytes of a DSSE layer or of a bundle layer's `dsseEnvelope`; None for anything else."""
    if layer.media_type not in (DSSE_ENVELOPE_MEDIA_TYPE, SIGSTORE_BUNDLE_V03) or not _may_hold_vsa(layer):
        return None
    if layer.size > MAX_ENVELOPE_BLOB:
        return None
    try:
        data = client.get_blob_bytes(repository, layer.digest, max_size=MAX_ENVELOPE_BLOB)
    except BlobNotFound:
        return None
    if layer.media_type == DSSE_ENVELOPE_MEDIA_TYPE:
        return data
    try:
        bundle = json.loads(data)
        envelope = bundle.get("dsseEnvelope") if isinstance(bundle, dict) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(envelope, dict):
        return None
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _referrer_candidates(client: RegistryClient, repository: str, digest: str, listing: Listing) -> Iterator[Candidate]:
    where = "referrers API" if listing.via_api else f"tag {referrers_tag(digest)}"
    for descriptor in listing.referrers:
        if descriptor.artifact_type is not None and descriptor.artifact_type not in _ARTIFACT_TYPES:
            continue  # an SBOM, a signature, ...: not worth a round trip
        try:
            manifest = client.get_manifest(repository, descriptor.digest)
        except ImageNotFound:
            continue  # listed in a stale index but deleted since
        subject = _subject_of(manifest)
        if subject != digest or manifest.artifact_type not in _ARTIFACT_TYPES:
            continue
        for layer in _layers(manifest):
            envelope = _envelope_of(client, repository, layer)
            if envelope is not None:
                yield Candidate(where, manifest, envelope)


def _subject_of(manifest: Manifest) -> str | None:
    try:
        subject = manifest.subject
    except UnsupportedManifest:
        return None
    return subject.digest if subject is not None else None


def _cosign_candidates(client: RegistryClient, repository: str, digest: str) -> Iterator[Candidate]:
    tag = attestation_tag(digest)
    try:
        manifest = client.get_manifest(repository, tag)
    except ImageNotFound:
        return
    for layer in _layers(manifest):
        envelope = _envelope_of(client, repository, layer)
        if envelope is not None:
            yield Candidate(f"tag {tag}", manifest, envelope, in_referrer=False)


def vsa_candidates(
    client: RegistryClient, repository: str, digest: str, *, listing: Listing | None = None
) -> Iterator[Candidate]:
    """Every envelope that may be a VSA about `digest`, referrers first, then cosign's `.att` image; at
    most `MAX_CANDIDATES`. Lazy: a caller that stops at the first good one reads no further."""
    listed = listing if listing is not None else list_referrers(client, repository, digest)
    seen: set[bytes] = set()
    count = 0
    for source in (
        _referrer_candidates(client, repository, digest, listed),
        _cosign_candidates(client, repository, digest),
    ):
        for candidate in source:
            if candidate.envelope in seen:
                continue  # the same envelope in the referrer and in the .att image
            seen.add(candidate.envelope)
            yield candidate
            count += 1
            if count >= MAX_CANDIDATES:
                return
