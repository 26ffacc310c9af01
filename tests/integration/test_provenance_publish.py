"""The promotion attestation publisher on the real CNCF registry, signed with moto's KMS (ECC_NIST_P256).

distribution 2.8 has no OCI 1.1 referrers API (GET /v2/<repo>/referrers/<digest> answers 404, NOTES.md),
so these tests exercise the `sha256-<hex>` tag-schema fallback and cosign's `.att` tag; ECR serves the
referrers API itself and then no fallback index is written."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.attest.dsse import Envelope, parse_envelope
from promoter.attest.intoto import VSA_PREDICATE, ResourceDescriptor, parse_statement
from promoter.attest.kms import KmsSigner
from promoter.attest.layout import cosign_attestation_artifact
from promoter.attest.pubkey import PublicKeyVerifier, public_key_pem
from promoter.provenance import PublishedAttestation, policy_digest, publish_attestation
from promoter.registry import RegistryClient
from promoter.registry.capabilities import REFERRERS_SUPPORT
from promoter.registry.manifest import Descriptor

POLICY = {"rules": [{"name": "microservice", "source": "dev-microservice", "target": "prod-microservice"}]}
VERIFIER = "arn:aws:lambda:us-west-2:111122223333:function:promoter"
NOW = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("kms", region_name="us-west-2")


@pytest.fixture
def key(kms: Any) -> str:
    return str(kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"])


class CountingSigner:
    """A KmsSigner that counts its calls: redelivery must not sign again."""

    def __init__(self, kms: Any, key: str) -> None:
        self.inner = KmsSigner(kms, key)
        self.calls = 0

    def sign(self, payload_type: str, body: bytes) -> Envelope:
        self.calls += 1
        return self.inner.sign(payload_type, body)


def _promoted_by_digest(registry: LocalRegistry) -> tuple[str, images.PushedImage, Descriptor]:
    repository = f"prod-vsa-{uuid.uuid4().hex[:10]}"
    image = images.push_image(registry.url, repository, None, images.random_layers(2, 256))
    return repository, image, Descriptor(image.media_type, image.digest, len(image.manifest))


def _publish(
    client: RegistryClient, repository: str, subject: Descriptor, signer: Any, **extra: Any
) -> PublishedAttestation:
    facts: dict[str, Any] = {
        "rule": "microservice",
        "policy": POLICY,
        "input_attestations": [ResourceDescriptor({"sha256": hashlib.sha256(b"test result").hexdigest()})],
        "verifier_id": VERIFIER,
        "verifier_version": {"ecr-promoter": "0.1.0"},
        "clock": lambda: NOW,
        "signer": signer,
    }
    facts.update(extra)
    return publish_attestation(client, repository, subject, **facts)


def _json(registry: LocalRegistry, repository: str, reference: str) -> dict[str, Any]:
    status, _, body = images.get_manifest(registry.url, repository, reference)
    assert status == 200, f"{reference} is not in {repository}"
    return dict(json.loads(body))


def _envelope_of_referrer(registry: LocalRegistry, repository: str, referrer: str) -> bytes:
    manifest = _json(registry, repository, referrer)
    layer = manifest["layers"][0]
    client = RegistryClient.for_endpoint(registry.url)
    return client.get_blob_bytes(repository, layer["digest"])


def test_the_vsa_is_in_all_three_places_before_any_tag_is_written(registry: LocalRegistry, kms: Any, key: str) -> None:
    # Given an image copied into the target by digest only (the promoted tag is not written yet)
    repository, image, subject = _promoted_by_digest(registry)
    client = RegistryClient.for_endpoint(registry.url)
    hex_digest = image.digest.removeprefix("sha256:")

    # When the attestation is published
    published = _publish(client, repository, subject, KmsSigner(kms, key))

    # Then the OCI 1.1 referrer exists, with the promoted manifest as subject and the envelope as its layer
    referrer = _json(registry, repository, published.digest)
    assert referrer["artifactType"] == "application/vnd.in-toto+json"
    assert referrer["subject"] == {"mediaType": image.media_type, "digest": image.digest, "size": len(image.manifest)}
    assert referrer["layers"][0]["mediaType"] == "application/vnd.dsse.envelope.v1+json"
    assert referrer["layers"][0]["annotations"]["predicateType"] == VSA_PREDICATE
    # and the tag-schema index lists it, and cosign's .att image holds the same envelope
    index = _json(registry, repository, f"sha256-{hex_digest}")
    assert [entry["digest"] for entry in index["manifests"]] == [published.digest]
    assert index["manifests"][0]["artifactType"] == "application/vnd.in-toto+json"
    att = _json(registry, repository, f"sha256-{hex_digest}.att")
    assert [layer["digest"] for layer in att["layers"]] == [published.envelope_digest]
    # and the only tags are the attestation's: the promoted tag is still the caller's to write
    assert images.list_tags(registry.url, repository) == sorted([f"sha256-{hex_digest}", f"sha256-{hex_digest}.att"])


def test_the_envelope_verifies_under_the_keys_public_key_and_says_what_was_promoted(
    registry: LocalRegistry, kms: Any, key: str
) -> None:
    # Given a published attestation
    repository, image, subject = _promoted_by_digest(registry)
    client = RegistryClient.for_endpoint(registry.url)
    published = _publish(client, repository, subject, KmsSigner(kms, key))

    # When its envelope is read back and checked offline with GetPublicKey's PEM
    raw = _envelope_of_referrer(registry, repository, published.digest)
    envelope = parse_envelope(raw)
    key_id = PublicKeyVerifier(public_key_pem(kms, key)).verify(envelope)

    # Then the signature verifies, keyid names the KMS key, and the statement is the VSA of this promotion
    assert key_id.startswith("sha256:")
    assert envelope.signatures[0].keyid == key
    assert hashlib.sha256(raw).hexdigest() == published.envelope_digest.removeprefix("sha256:")
    statement = json.loads(envelope.payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"][0]["digest"] == {"sha256": image.digest.removeprefix("sha256:")}
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    predicate = statement["predicate"]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["policy"] == {"uri": "microservice", "digest": {"sha256": policy_digest(POLICY)[7:]}}
    assert predicate["verifier"] == {"id": VERIFIER, "version": {"ecr-promoter": "0.1.0"}}
    assert predicate["timeVerified"] == "2026-11-29T09:00:00Z"
    assert predicate["resourceUri"] == f"{registry.host}/{repository}@{image.digest}"
    assert predicate["inputAttestations"] == [{"digest": {"sha256": hashlib.sha256(b"test result").hexdigest()}}]
    assert predicate["verifiedLevels"] == ["SLSA_BUILD_LEVEL_UNEVALUATED"]
    assert parse_statement(envelope.payload).names_digest(image.digest)


def test_redelivery_reuses_the_published_vsa_and_signs_nothing(registry: LocalRegistry, kms: Any, key: str) -> None:
    # Given a published attestation
    repository, image, subject = _promoted_by_digest(registry)
    client = RegistryClient.for_endpoint(registry.url)
    signer = CountingSigner(kms, key)
    first = _publish(client, repository, subject, signer)
    mark = registry.log_mark()

    # When the same promotion is published again (a redelivered event)
    again = _publish(client, repository, subject, signer)

    # Then the same attestation is returned, nothing is signed or written again, nothing piles up
    assert (again.digest, again.envelope_digest, again.reused, first.reused) == (
        first.digest,
        first.envelope_digest,
        True,
        False,
    )
    assert signer.calls == 1
    requests = registry.access_log(mark)
    assert [entry for entry in requests if entry.method in {"PUT", "POST", "PATCH"}] == []
    assert len(requests) <= 4  # index, referrer, envelope, .att: reads only
    hex_digest = image.digest.removeprefix("sha256:")
    assert len(_json(registry, repository, f"sha256-{hex_digest}")["manifests"]) == 1
    assert len(_json(registry, repository, f"sha256-{hex_digest}.att")["layers"]) == 1


def test_a_lost_index_entry_is_completed_on_redelivery(registry: LocalRegistry, kms: Any, key: str) -> None:
    # Given a published attestation whose .att image was lost (a failure after the referrer was written)
    repository, image, subject = _promoted_by_digest(registry)
    client = RegistryClient.for_endpoint(registry.url)
    first = _publish(client, repository, subject, KmsSigner(kms, key))
    att_tag = f"sha256-{image.digest.removeprefix('sha256:')}.att"
    att = client.resolve(repository, att_tag)
    assert att is not None
    client.transport.request("DELETE", f"/v2/{repository}/manifests/{att.digest}", scope=f"repository:{repository}:*")

    # When the promotion is published again
    again = _publish(client, repository, subject, KmsSigner(kms, key))

    # Then the same VSA is reused and the .att image holds it again
    assert (again.digest, again.reused) == (first.digest, True)
    assert [layer["digest"] for layer in _json(registry, repository, att_tag)["layers"]] == [first.envelope_digest]


def test_other_referrers_in_the_fallback_index_are_kept_and_another_rule_gets_its_own_vsa(
    registry: LocalRegistry, kms: Any, key: str
) -> None:
    # Given a promoted image that already has an SBOM referrer listed in its sha256-<hex> index
    repository, image, subject = _promoted_by_digest(registry)
    sbom = images.push_image(
        registry.url,
        repository,
        None,
        [b'{"spdxVersion": "SPDX-2.3"}'],
        subject=(image.media_type, len(image.manifest), image.digest),
        artifact_type="application/spdx+json",
    )
    index_tag = f"sha256-{image.digest.removeprefix('sha256:')}"
    sbom_entry = {"mediaType": sbom.media_type, "digest": sbom.digest, "size": len(sbom.manifest)}
    index = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": [sbom_entry]}).encode()
    images.put_manifest(registry.url, repository, index_tag, index, images.OCI_INDEX)
    client = RegistryClient.for_endpoint(registry.url)

    # When two rules promoting the same digest each publish
    first = _publish(client, repository, subject, KmsSigner(kms, key))
    second = _publish(client, repository, subject, KmsSigner(kms, key), rule="microservice-eu")

    # Then the index keeps the SBOM and lists one VSA per rule
    listed = [entry["digest"] for entry in _json(registry, repository, index_tag)["manifests"]]
    assert listed == [sbom.digest, first.digest, second.digest]
    assert first.digest != second.digest and not second.reused


def test_blobs_go_before_manifests_and_the_requests_one_publish_adds_are_counted(
    fresh_registry: Callable[[], LocalRegistry], kms: Any, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a private registry (its access log holds only this test's requests) and an image pushed by digest
    registry = fresh_registry()
    repository, _, subject = _promoted_by_digest(registry)
    client = RegistryClient.for_endpoint(registry.url)
    REFERRERS_SUPPORT.forget()  # a cold process: the referrers API is probed once
    mark = registry.log_mark()

    # When the attestation is published (cold), then for a second image (warm process)
    _publish(client, repository, subject, KmsSigner(kms, key))
    cold = registry.access_log(mark)
    _, _, other = _promoted_by_digest(registry)
    mark = registry.log_mark()
    started = time.perf_counter()
    _publish(client, repository, other, KmsSigner(kms, key))
    seconds = time.perf_counter() - started
    warm = registry.access_log(mark)

    # Then each manifest was put only after every blob and child it references was uploaded or found
    for entries in (cold, warm):
        _assert_blobs_and_children_before_manifests(registry, repository, entries)
    assert all(entry.status < 300 or entry.status == 404 for entry in cold + warm)
    with capsys.disabled():
        print(
            f"\n[provenance] registry requests per publish: cold process {len(cold)}, warm {len(warm)} "
            f"({' '.join(e.method for e in warm)}); warm publish {seconds * 1000:.0f} ms incl. moto KMS Sign"
        )
    assert len(cold) == len(warm) + 3  # the referrers-API probe (once per process) + the first empty-config upload
    assert len(warm) <= 13


def _assert_blobs_and_children_before_manifests(registry: LocalRegistry, repository: str, entries: list[Any]) -> None:
    present: set[str] = set()
    for entry in entries:
        path = entry.path.split("?")[0]
        if entry.method == "HEAD" and "/blobs/" in path and entry.status == 200:
            present.add(path.rsplit("/", 1)[1])
        elif entry.is_blob_upload and entry.status == 201:
            present.add(entry.path.split("digest=")[1].split("&")[0])
        elif entry.method == "PUT" and "/manifests/" in path:
            document = _json(registry, repository, path.rsplit("/", 1)[1])
            needed = [d["digest"] for d in [document.get("config"), *document.get("layers", [])] if d]
            children = [d["digest"] for d in document.get("manifests", [])]
            assert set(needed) <= present, f"{path} was put before its blobs"
            assert set(children) <= present, f"{path} was put before the manifests it lists"
            present.add(_digest_of_tag_or_digest(registry, repository, path.rsplit("/", 1)[1]))


def _digest_of_tag_or_digest(registry: LocalRegistry, repository: str, reference: str) -> str:
    _, _, body = images.get_manifest(registry.url, repository, reference)
    return images.sha256_digest(body)


def test_an_att_image_already_there_keeps_its_attestations_and_gains_the_vsa(
    registry: LocalRegistry, kms: Any, key: str
) -> None:
    # Given a promoted image whose cosign .att image (copied from the source) holds a build provenance envelope
    repository, image, subject = _promoted_by_digest(registry)
    provenance = json.dumps(
        {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}
    ).encode()
    existing = cosign_attestation_artifact(image.digest, provenance, "https://slsa.dev/provenance/v1")
    for blob in existing.blobs:
        images.push_blob(registry.url, repository, blob.data)
    assert existing.tag is not None
    images.put_manifest(registry.url, repository, existing.tag, existing.manifest, existing.media_type)

    # When the VSA is published
    published = _publish(RegistryClient.for_endpoint(registry.url), repository, subject, KmsSigner(kms, key))

    # Then the .att image lists the provenance first and the VSA second, each layer with its predicate type
    layers = _json(registry, repository, existing.tag)["layers"]
    assert [layer["annotations"]["predicateType"] for layer in layers] == [
        "https://slsa.dev/provenance/v1",
        VSA_PREDICATE,
    ]
    assert layers[1]["digest"] == published.envelope_digest
