"""The scenes of the second wave: enhanced scanning, a multi-arch index, forged CI results.

Each scene is a function of the running `Demo` (its verbs: push, invoke, promote_step, expect, record) that
returns the production tags it promoted, so the final check knows what each registry must hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devtools import images
from devtools.demo.builds import MultiArch, push_multiarch
from devtools.demo.report import say, short, shorten_digests
from devtools.demo.scenario import CI_URL, SOURCE_REPOSITORY
from devtools.demo.signing import CiSigner, create_signing_key
from devtools.eventfactory import ci_result_event, inspector_scan_event, push_event, scan_event
from devtools.localregistry import LocalRegistry

if TYPE_CHECKING:
    from devtools.demo.story import Demo

DEV = SOURCE_REPOSITORY


def enhanced_scanning(demo: Demo, number: int) -> dict[str, str]:
    """Amazon Inspector scans (Inspector2 Scan events, the repository named by its ARN): clean promotes,
    a CRITICAL finding rejects, as with basic scanning."""
    demo.section(f"{number}. Enhanced scanning: Amazon Inspector reports the scans (aws.inspector2 Inspector2 Scan)")
    clean = demo.push("build-109", "v1.5.0")
    demo.invoke("push event v1.5.0", push_event(DEV, clean.digest, "v1.5.0"), "pending")
    demo.invoke(*demo.tests_pass(clean, "v1.5.0"), "pending")
    scan = inspector_scan_event(DEV, clean.digest, {"MEDIUM": 2, "LOW": 4}, ["v1.5.0"])
    say(f"     Inspector event: repository-name {scan['detail']['repository-name']}, {scan['detail']['scan-status']}")
    decision = demo.promote_step("Inspector scan of v1.5.0: MEDIUM 2, LOW 4", scan, clean, "v1.5.0")
    demo.record(f"{DEV}:v1.5.0 (Inspector)", "v1.5.0", clean, decision)

    critical = demo.push("build-110", "v1.6.0")
    demo.invoke("push event v1.6.0", push_event(DEV, critical.digest, "v1.6.0"), "pending")
    demo.invoke(*demo.tests_pass(critical, "v1.6.0"), "pending")
    scan = inspector_scan_event(DEV, critical.digest, {"CRITICAL": 1, "HIGH": 2}, ["v1.6.0"])
    decision = demo.invoke("Inspector scan of v1.6.0: CRITICAL 1, HIGH 2", scan, "rejected")
    demo.record(f"{DEV}:v1.6.0 (Inspector)", "v1.6.0", critical, decision)
    return {"v1.5.0": clean.digest}


def multi_arch(demo: Demo, number: int) -> tuple[dict[str, str], MultiArch]:
    """A buildx index: pending until both platform images are scanned (never its attestation manifests),
    then promoted whole by mounts."""
    demo.section(f"{number}. v2.0.0 is multi-arch (buildx: linux/amd64 + linux/arm64 + provenance attestations)")
    built = push_multiarch(demo.dev.url, DEV, "build-111", "v2.0.0", demo.shared)
    index = built.index
    say(
        f"   docker buildx build --platform linux/amd64,linux/arm64 --push {DEV}:v2.0.0: index {short(index.digest)} "
        f"lists {len(built.platforms)} platform images and {len(built.attestations)} attestation manifests "
        f"(unknown/unknown), {len(built.blob_digests)} blobs"
    )
    demo.invoke("push event v2.0.0 (the index)", push_event(DEV, index.digest, "v2.0.0"), "pending")
    demo.invoke(*demo.tests_pass(index, "v2.0.0"), "pending")
    amd64, arm64 = built.platforms["linux/amd64"], built.platforms["linux/arm64"]
    decision = demo.invoke("ECR scan of its linux/amd64 image: LOW 1", scan_event(DEV, amd64, {"LOW": 1}), "pending")
    reasons = " ".join((decision or {}).get("reasons") or [])
    demo.expect(
        decision is not None and decision.get("digest") == index.digest,
        f"the scan of the linux/amd64 image should decide for the index {index.digest}",
    )
    demo.expect(
        arm64 in reasons and amd64 not in reasons and not any(d in reasons for d in built.attestations),
        f"pending should name only the unscanned linux/arm64 image {arm64}, not the attestations: {reasons}",
    )
    scan = scan_event(DEV, arm64, {"LOW": 1, "MEDIUM": 1})
    decision = demo.promote_step("ECR scan of its linux/arm64 image: LOW 1, MEDIUM 1", scan, index, "v2.0.0")
    check_complete(demo, demo.dev, built, "dev")
    demo.record(f"{DEV}:v2.0.0 (index, 2 platforms)", "v2.0.0", index, decision)
    return {"v2.0.0": index.digest}, built


def check_complete(demo: Demo, registry: LocalRegistry, built: MultiArch, name: str) -> None:
    """Every manifest the index lists and every blob they reference is in the target repository."""
    manifests = [d for d in built.manifests if images.get_manifest(registry.url, demo.target, d)[0] != 200]
    blobs = [d for d in built.blob_digests if not images.blob_exists(registry.url, demo.target, d)]
    if demo.expect(
        not manifests and not blobs,
        f"{demo.target} in the {name} registry lacks manifests {manifests} and blobs {blobs} of the v2.0.0 index",
    ):
        say(
            f"     {demo.target} in the {name} registry: the index, its {len(built.manifests)} manifests "
            f"and {len(built.blob_digests)} blobs"
        )


def forged_results(demo: Demo, number: int) -> None:
    """A result without the CI's signature, or signed by another key, is ignored and nothing is recorded."""
    suite = demo.scenario.suites[-1]
    demo.section(f"{number}. Someone without the CI's key reports v1.7.0's {suite} tests PASSED: ignored")
    build = demo.push("build-112", "v1.7.0")
    demo.invoke("push event v1.7.0", push_event(DEV, build.digest, "v1.7.0"), "pending")
    demo.invoke("ECR scan of v1.7.0: LOW 1", scan_event(DEV, build.digest, {"LOW": 1}, ["v1.7.0"]), "pending")
    url = CI_URL + build.name
    unsigned = ci_result_event(DEV, build.digest, suite, "PASSED", url)
    other = CiSigner(demo.signer.client, create_signing_key(demo.signer.client, "not the CI's key"))
    signed_by_other = ci_result_event(
        DEV, build.digest, suite, "PASSED", url, attestation=other.attestation(build.digest, suite, "PASSED", url)
    )
    for label, row, event in (
        (f"forged: unsigned {suite} PASSED", "forged, unsigned", unsigned),
        (f"forged: {suite} PASSED signed by another key", "forged, another key", signed_by_other),
    ):
        decision = demo.invoke(label, event, "ignored")
        reasons = " ".join((decision or {}).get("reasons") or [])
        demo.expect("not trusted" in reasons, f"{label}: the reason should say the result is not trusted: {reasons}")
        demo.record(f"{DEV}:v1.7.0 ({row})", "v1.7.0", build, decision)
    response = demo.deliver({"action": "status", "repository": DEV, "tag": "v1.7.0"})
    status = response.get("status") or {}
    outcomes = [str(d.get("outcome")) for d in response.get("decisions") or []]
    tests = status.get("tests")
    reasons = "; ".join(r for d in response.get("decisions") or [] for r in d.get("reasons") or [])
    label = f"status {DEV}:v1.7.0"
    say(f"   {label:<50} -> tests recorded: {tests or 'none'}; {', '.join(outcomes)}: {shorten_digests(reasons)}")
    demo.expect(tests == {}, f"status of v1.7.0 should show no test result after two forgeries, shows {tests}")
    demo.expect(outcomes == ["pending"], f"v1.7.0 should still be pending on its tests, is {outcomes}")


COSIGN_PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"


def push_cosign_signature(demo: Demo, digest: str) -> tuple[str, str]:
    """What `cosign sign --key awskms:///<CI key> dev-microservice@<digest>` pushes to a registry without a
    referrers API: the simple-signing payload signed by KMS (ECDSA_SHA_256), as a manifest tagged
    `sha256-<hex>.sig`. (tag, manifest digest)."""
    import base64  # noqa: PLC0415
    import json  # noqa: PLC0415

    payload = json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": f"{demo.dev.host}/{DEV}"},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    ).encode()
    signature = demo.signer.client.sign(
        KeyId=demo.signer.key_arn, Message=payload, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    config = b"{}"
    for blob in (payload, config):
        images.push_blob(demo.dev.url, DEV, blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": images.OCI_MANIFEST,
            "config": {"mediaType": images.OCI_CONFIG, "size": len(config), "digest": images.sha256_digest(config)},
            "layers": [
                {
                    "mediaType": COSIGN_PAYLOAD,
                    "size": len(payload),
                    "digest": images.sha256_digest(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()},
                }
            ],
        }
    ).encode()
    tag = "sha256-" + digest.removeprefix("sha256:") + ".sig"
    return tag, images.put_manifest(demo.dev.url, DEV, tag, manifest, images.OCI_MANIFEST)


def signature_follows(demo: Demo, number: int, released: str) -> dict[str, str]:
    """A signature pushed after the promotion reaches the target with the push event of its tag."""
    demo.section(f"{number}. v1.0.0 is signed after its promotion (cosign, KMS key): the signature follows it")
    tag, signature = push_cosign_signature(demo, released)
    say(f"   cosign sign {DEV}:v1.0.0: pushes {DEV}:{shorten_digests(tag)} ({short(signature)})")
    decision = demo.invoke("push event of the signature tag", push_event(DEV, signature, tag), "already-promoted")
    copied = ((decision or {}).get("copy") or {}).get("referrers_copied")
    demo.expect(
        decision is not None and decision.get("digest") == released and copied == 1,
        f"the signature's push should re-sync v1.0.0 ({released}) with 1 referrer copied, got {decision}",
    )
    in_target = images.get_manifest(demo.dev.url, demo.target, tag)
    demo.expect(
        in_target[0] == 200 and images.sha256_digest(in_target[2]) == signature,
        f"{demo.target}:{tag} should hold the signature {signature}",
    )
    say(f"     {demo.target}:{shorten_digests(tag)} in the dev registry: {short(signature)} ({copied} referrer copied)")
    return {tag: signature}
