"""The registry layouts of a promotion attestation: the exact media types, annotations and tags cosign and
the OCI referrers API read (sources cited in promoter/attest/layout.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime

import pytest

from promoter.attest.dsse import Envelope, Signature, parse_envelope
from promoter.attest.intoto import VSA_PREDICATE, build_vsa
from promoter.attest.layout import (
    MAX_ATTESTATION_LAYERS,
    Descriptor,
    attestation_tag,
    bundle_referrer_artifact,
    cosign_attestation_artifact,
    referrer_artifact,
    referrers_index,
    referrers_tag,
    sigstore_bundle,
)

EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # sha256("{}"), OCI spec


def _subject() -> Descriptor:
    manifest = json.dumps({"schemaVersion": 2, "nonce": secrets.token_hex(8)}).encode()
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json", "sha256:" + hashlib.sha256(manifest).hexdigest(), len(manifest)
    )


def _envelope(subject: Descriptor) -> bytes:
    statement = build_vsa(
        subject.digest,
        verifier_id="arn:aws:lambda:us-west-2:111122223333:function:promoter",
        verifier_version={"ecr-promoter": "0.1.0"},
        time_verified=datetime.now(UTC),
        resource_uri="prod-x@" + subject.digest,
        policy_uri="r",
        policy_digest="a" * 64,
    )
    return Envelope(
        "application/vnd.in-toto+json", statement.to_json(), (Signature("k", secrets.token_bytes(70)),)
    ).to_json()


def test_the_referrer_is_an_oci_1_1_artifact_whose_subject_is_the_promoted_manifest() -> None:
    # Given a promoted manifest's descriptor and a signed VSA envelope
    subject = _subject()
    envelope = _envelope(subject)

    # When the referrer artifact is built
    artifact = referrer_artifact(subject, envelope, VSA_PREDICATE, created=datetime(2026, 11, 29, 9, 0, tzinfo=UTC))
    manifest = json.loads(artifact.manifest)

    # Then it has the OCI 1.1 shape cosign writes, with the envelope as its one layer
    assert manifest == {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.in-toto+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": EMPTY_JSON_DIGEST,
            "size": 2,
            "artifactType": "application/vnd.in-toto+json",
        },
        "layers": [
            {
                "mediaType": "application/vnd.dsse.envelope.v1+json",
                "digest": "sha256:" + hashlib.sha256(envelope).hexdigest(),
                "size": len(envelope),
                "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": VSA_PREDICATE},
            }
        ],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        "annotations": {"org.opencontainers.image.created": "2026-11-29T09:00:00Z"},
    }
    # and the blobs to push first are exactly the ones it references, put by digest (no tag)
    assert [(b.media_type, b.data) for b in artifact.blobs] == [
        ("application/vnd.oci.empty.v1+json", b"{}"),
        ("application/vnd.dsse.envelope.v1+json", envelope),
    ]
    assert artifact.tag is None
    assert artifact.digest == "sha256:" + hashlib.sha256(artifact.manifest).hexdigest()


def test_the_same_envelope_gives_the_same_referrer_digest_without_a_timestamp() -> None:
    subject = _subject()
    envelope = _envelope(subject)
    first = referrer_artifact(subject, envelope, VSA_PREDICATE)
    assert first.digest == referrer_artifact(subject, envelope, VSA_PREDICATE).digest
    assert "annotations" not in json.loads(first.manifest)


def test_the_cosign_attestation_tag_image_holds_the_envelope_as_an_annotated_layer() -> None:
    # Given a promoted digest and its signed VSA
    subject = _subject()
    envelope = _envelope(subject)

    # When the cosign-compatible attestation image is built
    artifact = cosign_attestation_artifact(subject.digest, envelope, VSA_PREDICATE)
    manifest = json.loads(artifact.manifest)
    config_blob, layer_blob = artifact.blobs

    # Then it goes to cosign's tag, with cosign's layer media type and annotations, and a config listing the layer
    assert artifact.tag == "sha256-" + subject.digest.removeprefix("sha256:") + ".att"
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert "subject" not in manifest and "artifactType" not in manifest
    assert manifest["layers"] == [
        {
            "mediaType": "application/vnd.dsse.envelope.v1+json",
            "digest": layer_blob.digest,
            "size": len(envelope),
            "annotations": {"dev.cosignproject.cosign/signature": "", "predicateType": VSA_PREDICATE},
        }
    ]
    assert layer_blob.data == envelope
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": config_blob.digest,
        "size": len(config_blob.data),
    }
    assert json.loads(config_blob.data)["rootfs"] == {"type": "layers", "diff_ids": [layer_blob.digest]}
    # cosign decodes the payload with base64.StdEncoding: the envelope's payload must be standard, padded base64
    payload = json.loads(envelope)["payload"]
    assert base64.standard_b64decode(payload) and len(payload) % 4 == 0


def test_a_new_attestation_is_appended_to_the_existing_att_image_once() -> None:
    # Given an .att image that already holds someone's attestation
    subject = _subject()
    first, second = _envelope(subject), _envelope(subject)
    existing = cosign_attestation_artifact(subject.digest, first, "https://slsa.dev/provenance/v1").manifest

    # When ours is added, and added again (a retried promotion)
    once = cosign_attestation_artifact(subject.digest, second, VSA_PREDICATE, existing_manifest=existing)
    twice = cosign_attestation_artifact(subject.digest, second, VSA_PREDICATE, existing_manifest=once.manifest)

    # Then both attestations are there, ours once, and the config lists both layers
    layers = json.loads(twice.manifest)["layers"]
    assert [layer["annotations"]["predicateType"] for layer in layers] == [
        "https://slsa.dev/provenance/v1",
        VSA_PREDICATE,
    ]
    assert twice.manifest == once.manifest
    assert len(json.loads(twice.blobs[0].data)["rootfs"]["diff_ids"]) == 2


@pytest.mark.parametrize(
    ("existing", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"layers": {}}', "must be a list"),
        (b'{"layers": [{"size": 1}]}', "not a descriptor"),
        (
            json.dumps({"layers": [{"digest": f"sha256:{i:064x}"} for i in range(MAX_ATTESTATION_LAYERS)]}).encode(),
            "1000",
        ),
    ],
)
def test_a_damaged_or_full_att_image_is_refused_rather_than_overwritten(existing: bytes, reason: str) -> None:
    subject = _subject()
    with pytest.raises(ValueError, match=reason):
        cosign_attestation_artifact(subject.digest, _envelope(subject), VSA_PREDICATE, existing_manifest=existing)


def test_the_referrers_fallback_index_lists_the_referrer_with_its_artifact_type_and_annotations() -> None:
    # Given a referrer and an existing fallback index that lists another referrer
    subject = _subject()
    referrer = referrer_artifact(subject, _envelope(subject), VSA_PREDICATE, created=datetime.now(UTC))
    other = Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "e" * 64, 10, "application/spdx+json")
    existing = referrers_index(subject.digest, [other]).manifest

    # When ours is added (twice)
    index = referrers_index(subject.digest, [referrer.descriptor(), referrer.descriptor()], existing_index=existing)

    # Then the index at the referrers tag lists both, ours with artifactType and the manifest's annotations
    body = json.loads(index.manifest)
    assert index.tag == "sha256-" + subject.digest.removeprefix("sha256:")
    assert index.media_type == body["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert body["manifests"] == [
        other.to_dict(),
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": referrer.digest,
            "size": len(referrer.manifest),
            "artifactType": "application/vnd.in-toto+json",
            "annotations": dict(referrer.annotations),
        },
    ]


def test_an_invalid_fallback_index_counts_as_no_referrers_as_the_spec_says() -> None:
    subject = _subject()
    index = referrers_index(subject.digest, [], existing_index=b"<html>")
    assert json.loads(index.manifest)["manifests"] == []


def test_tags_follow_the_referrers_tag_schema_and_cosign() -> None:
    # distribution-spec "Referrers Tag Schema" examples
    assert referrers_tag("sha256:" + "a" * 64) == "sha256-" + "a" * 64
    assert referrers_tag("sha512:" + "a" * 128) == "sha512-" + "a" * 64
    assert (
        referrers_tag(
            "test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:"
            "alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation"
        )
        == "test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot"
    )
    assert attestation_tag("sha256:" + "b" * 64) == "sha256-" + "b" * 64 + ".att"
    with pytest.raises(ValueError, match="not a sha256 digest"):
        attestation_tag("sha256:../x")


def test_the_sigstore_bundle_referrer_has_cosign_3s_shape() -> None:
    # Given a signed VSA envelope and the signing key's ARN as the bundle's key hint
    subject = _subject()
    envelope = parse_envelope(_envelope(subject))
    hint = "arn:aws:kms:us-west-2:111122223333:key/k"

    # When the bundle and its referrer are built
    bundle = sigstore_bundle(envelope, hint)
    artifact = bundle_referrer_artifact(subject, bundle, VSA_PREDICATE, created=datetime(2026, 1, 2, tzinfo=UTC))
    manifest = json.loads(artifact.manifest)

    # Then the bundle is v0.3 with a public-key hint and the envelope as dsseEnvelope (no tlog entries) ...
    assert json.loads(bundle) == {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": hint}},
        "dsseEnvelope": envelope.to_dict(),
    }
    # ... and the referrer is what cosign's WriteAttestationNewBundleFormat writes
    assert (
        manifest["artifactType"]
        == manifest["config"]["artifactType"]
        == "application/vnd.dev.sigstore.bundle.v0.3+json"
    )
    assert manifest["layers"] == [
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "digest": "sha256:" + hashlib.sha256(bundle).hexdigest(),
            "size": len(bundle),
        }
    ]
    assert manifest["annotations"] == {
        "org.opencontainers.image.created": "2026-01-02T00:00:00Z",
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": VSA_PREDICATE,
    }
    assert manifest["subject"]["digest"] == subject.digest
    assert artifact.descriptor().annotations == manifest["annotations"]
