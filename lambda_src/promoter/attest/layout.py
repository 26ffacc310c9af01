"""Where a promotion attestation lives in a registry: pure builders for the manifests to push.

Why these shapes: production verifies with the standard tools, which only look in fixed places.
The layouts are built around the same DSSE envelope; pushing them (blobs first, then the
manifests, before the promoted tag) is the caller's job:

1. the OCI 1.1 referrer: an image manifest with `subject` = the promoted manifest's descriptor,
   `artifactType` application/vnd.in-toto+json, the empty config and one layer = the envelope;
   on a registry without the referrers API the caller also updates the index at the referrers tag
   schema tag `sha256-<hex>` (`referrers_index`);
2. cosign's attestation tag `sha256-<hex>.att`: an image manifest whose layers are DSSE envelopes,
   each annotated with `predicateType` and an empty `dev.cosignproject.cosign/signature` — what
   `cosign verify-attestation --key … --insecure-ignore-tlog` reads (no Rekor entry is made);
3. optionally, cosign 3's own format: a referrer whose one layer is a Sigstore bundle v0.3 with the
   envelope as `dsseEnvelope` (`bundle_referrer_artifact`). Caution: cosign verify-attestation
   looks for bundles first and uses the .att tag only when the referrers hold none
   (cmd/cosign/cli/verify/verify_attestation.go, GetBundles), so push a bundle only once cosign
   itself has verified one made this way — an unverifiable bundle would hide a good .att.

Facts read in sigstore/cosign at commit d6d86c224e5899b54f56cbb063b79dc43abc11c2 (2026-07-24):
- pkg/types/payload.go: DssePayloadType = "application/vnd.dsse.envelope.v1+json",
  IntotoPayloadType = "application/vnd.in-toto+json";
- cmd/cosign/cli/attest/attest.go: the legacy attestation layer has media type DssePayloadType and
  annotation {"predicateType": <uri>}; pkg/oci/static/signature.go adds
  "dev.cosignproject.cosign/signature" (the base64 signature, "" for an attestation, whose layer
  blob *is* the envelope);
- pkg/oci/remote/options.go (AttestationTagSuffix = "att") and remote.go (normalize: "<alg>-<hex>.<suffix>");
- pkg/oci/empty/empty.go: the .att image is an OCI manifest with an OCI image config;
- pkg/oci/remote/signatures.go Get(): cosign reads the layers and their descriptor annotations only;
- pkg/cosign/verify.go verifyOCIAttestation: payloadType must be application/vnd.in-toto+json;
  pkg/cosign/verifiers.go IntotoSubjectClaimVerifier: some subject's digest.sha256 must be the image's,
  payload decoded with base64.StdEncoding (so the envelope uses standard, padded base64);
- pkg/oci/remote/write.go WriteReferrer / WriteAttestationsReferrer: referrer manifests use config
  media type "application/vnd.oci.empty.v1+json" with content "{}" (its descriptor also carries the
  artifactType), artifactType application/vnd.in-toto+json for DSSE attestation layers (bundles use
  "application/vnd.dev.sigstore.bundle.v0.3+json", pkg/cosign/bundle/constants.go), an
  "org.opencontainers.image.created" annotation, and subject {mediaType, digest, size};
  WriteAttestationNewBundleFormat: a bundle referrer's manifest annotations are created,
  "dev.sigstore.bundle.content": "dsse-envelope" and "dev.sigstore.bundle.predicateType";
- pkg/cosign/verify.go verificationOptions: with --key and --insecure-ignore-tlog a bundle needs no
  tlog entry or timestamp (WithNoObserverTimestamps); sigstore/sigstore-go (4594ab4c…)
  pkg/bundle/bundle.go validate(): v0.3 needs a DSSE envelope or message signature and
  verification material (a public key hint suffices), tlog entries are optional;
- pkg/cosign/verify.go verifyOCIAttestation wraps the key in dsse.VerifierAdapter{SignatureVerifier: …}
  with no Pub/PubKeyID, so secure-systems-lab/go-securesystemslib v0.11.0 (cosign's go.mod)
  dsse/verify.go derives no key id and skips no signature by keyid: a keyid holding the KMS key ARN
  does not stop cosign from verifying. (That sigstore's ECDSA verifier takes the DER signature KMS
  returns is assumed, not read.)
Verification command (composed from the source above, not run here — no cosign binary on this machine):
    cosign verify-attestation --key awskms:///<key ARN> --insecure-ignore-tlog=true \
        --type https://slsa.dev/verification_summary/v1 <registry>/<repo>@sha256:<hex>
(`--type` takes the URI as is, pkg/policy/attestation.go AttestationToPayloadJSON; the `awskms:///`
key-reference form is sigstore/sigstore's, assumed.)
The referrers tag schema and the referrers index entry (artifactType + the manifest's annotations)
are from opencontainers/distribution-spec spec.md (commit 967efdc0…), "Referrers Tag Schema" and
"Listing Referrers". The .att image config bytes are ours (cosign does not read them).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .dsse import Envelope
from .intoto import rfc3339, sha256_hex

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
DSSE_ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
INTOTO_ARTIFACT_TYPE = "application/vnd.in-toto+json"
SIGSTORE_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_TYPE_ANNOTATION = "dev.sigstore.bundle.predicateType"
COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_TYPE_ANNOTATION = "predicateType"
CREATED_ANNOTATION = "org.opencontainers.image.created"
ATTESTATION_TAG_SUFFIX = "att"
EMPTY_JSON = b"{}"
# cosign refuses an attestation image with more layers (pkg/oci/mutate/signatures.go maxLayers).
MAX_ATTESTATION_LAYERS = 1000
MAX_REFERRERS = 1000

_TAG_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            body["artifactType"] = self.artifact_type
        if self.annotations:
            body["annotations"] = dict(self.annotations)
        return body


@dataclass(frozen=True)
class Blob:
    """Bytes to upload before the manifest that references them."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, annotations: Mapping[str, str] | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.data), annotations=dict(annotations or {}))


@dataclass(frozen=True)
class Artifact:
    """A manifest to put (exact bytes and media type), the blobs it needs first, and the tag to put it under
    (None: put by digest)."""

    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...]
    tag: str | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.manifest).hexdigest()

    def descriptor(self) -> Descriptor:
        """The entry a referrers list holds for this manifest (artifactType and annotations included)."""
        return Descriptor(self.media_type, self.digest, len(self.manifest), self.artifact_type, self.annotations)


def referrers_tag(subject_digest: str) -> str:
    """The referrers tag schema's tag: algorithm[:32] + "-" + encoded[:64], other characters as "-"."""
    algorithm, _, encoded = subject_digest.partition(":")
    return _TAG_UNSAFE.sub("-", f"{algorithm[:32]}-{encoded[:64]}")


def attestation_tag(subject_digest: str) -> str:
    """cosign's attestation tag for a digest: `sha256-<hex>.att`."""
    return f"sha256-{sha256_hex(subject_digest)}.{ATTESTATION_TAG_SUFFIX}"


def _attestation_layer(envelope: bytes, predicate_type: str) -> tuple[Blob, Descriptor]:
    blob = Blob(DSSE_ENVELOPE_MEDIA_TYPE, envelope)
    return blob, blob.descriptor({COSIGN_SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type})


def referrer_artifact(
    subject: Descriptor, envelope: bytes, predicate_type: str, *, created: datetime | None = None
) -> Artifact:
    """The OCI 1.1 referrer holding one DSSE envelope about `subject` (put it by digest).

    `created` is optional so the same envelope always gives the same manifest digest (a retried
    promotion re-puts identical bytes); cosign sets it, verifiers do not need it.
    """
    layer_blob, layer = _attestation_layer(envelope, predicate_type)
    annotations = {CREATED_ANNOTATION: rfc3339(created)} if created is not None else {}
    return _referrer(subject, INTOTO_ARTIFACT_TYPE, layer_blob, layer, annotations)


def _referrer(
    subject: Descriptor, artifact_type: str, layer_blob: Blob, layer: Descriptor, annotations: Mapping[str, str]
) -> Artifact:
    sha256_hex(subject.digest)
    config = Blob(OCI_EMPTY, EMPTY_JSON)
    config_descriptor = Descriptor(config.media_type, config.digest, len(config.data), artifact_type)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config_descriptor.to_dict(),
        "layers": [layer.to_dict()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_dict(),
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return Artifact(_compact(manifest), OCI_MANIFEST, (config, layer_blob), None, artifact_type, dict(annotations))


def sigstore_bundle(envelope: Envelope, key_hint: str) -> bytes:
    """A Sigstore bundle v0.3 (protobuf JSON) carrying the envelope, verified by public key: no Rekor entry,
    no certificate. `key_hint` names the key (e.g. its KMS ARN); verifiers pick the key out of band."""
    bundle = {
        "mediaType": SIGSTORE_BUNDLE_V03,
        "verificationMaterial": {"publicKey": {"hint": key_hint}},
        "dsseEnvelope": envelope.to_dict(),
    }
    return _compact(bundle)


def bundle_referrer_artifact(
    subject: Descriptor, bundle: bytes, predicate_type: str, *, created: datetime | None = None
) -> Artifact:
    """cosign 3's attestation referrer: one Sigstore bundle layer, bundle artifactType and annotations
    (see the module docstring before pushing one)."""
    layer_blob = Blob(SIGSTORE_BUNDLE_V03, bundle)
    annotations = {BUNDLE_CONTENT_ANNOTATION: "dsse-envelope", BUNDLE_PREDICATE_TYPE_ANNOTATION: predicate_type}
    if created is not None:
        annotations = {CREATED_ANNOTATION: rfc3339(created), **annotations}
    return _referrer(subject, SIGSTORE_BUNDLE_V03, layer_blob, layer_blob.descriptor(), annotations)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"the existing {what} is not JSON") from error
    if not isinstance(value, dict):
        raise ValueError(f"the existing {what} is not a JSON object")
    return value


def _descriptors(value: object, what: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"the existing {what} must be a list of at most {limit} descriptors")
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
            raise ValueError(f"the existing {what} holds an entry that is not a descriptor")
    return list(value)


def cosign_attestation_artifact(
    subject_digest: str, envelope: bytes, predicate_type: str, *, existing_manifest: bytes | None = None
) -> Artifact:
    """cosign's `sha256-<hex>.att` image with this envelope appended to the attestations already there.

    An identical envelope already present is not added twice (cosign's duplicate detection does the same).
    """
    layer_blob, layer = _attestation_layer(envelope, predicate_type)
    layers: list[dict[str, Any]] = []
    if existing_manifest is not None:
        existing = _json_object(existing_manifest, "attestation manifest")
        layers = _descriptors(existing.get("layers", []), "attestation layers", MAX_ATTESTATION_LAYERS)
    if all(item["digest"] != layer.digest for item in layers):
        if len(layers) >= MAX_ATTESTATION_LAYERS:
            raise ValueError(f"the attestation tag already holds {MAX_ATTESTATION_LAYERS} attestations")
        layers.append(layer.to_dict())
    # DSSE layers are stored uncompressed, so each layer's diff_id is its digest.
    config = Blob(
        OCI_IMAGE_CONFIG,
        _compact(
            {
                "architecture": "",
                "os": "",
                "rootfs": {"type": "layers", "diff_ids": [item["digest"] for item in layers]},
                "config": {},
            }
        ),
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor().to_dict(),
        "layers": layers,
    }
    return Artifact(_compact(manifest), OCI_MANIFEST, (config, layer_blob), attestation_tag(subject_digest))


def referrers_index(
    subject_digest: str, referrers: Sequence[Descriptor], *, existing_index: bytes | None = None
) -> Artifact:
    """The referrers tag schema's index for a registry without the referrers API: existing entries kept,
    new ones appended once (a missing or invalid existing index means "no referrers yet", per the spec)."""
    manifests: list[dict[str, Any]] = []
    if existing_index is not None:
        try:
            manifests = _descriptors(_json_object(existing_index, "index").get("manifests", []), "index", MAX_REFERRERS)
        except ValueError:
            manifests = []
    known = {item["digest"] for item in manifests}
    for referrer in referrers:
        if referrer.digest not in known:
            manifests.append(referrer.to_dict())
            known.add(referrer.digest)
    if len(manifests) > MAX_REFERRERS:
        raise ValueError(f"more than {MAX_REFERRERS} referrers for {subject_digest}")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return Artifact(_compact(index), OCI_INDEX, (), referrers_tag(subject_digest))
