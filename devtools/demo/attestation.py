"""The promotion attestation in the demo: which small uploads a promotion may make, and the verify scene.

With ATTESTATION_KEY set, every promotion pushes a signed VSA next to the promoted image (docs/ATTESTATION.md):
the DSSE envelope blob, the empty config `{}`, a referrer manifest, the `sha256-<hex>` tag-schema index and
cosign's `sha256-<hex>.att` image (its own config blob). Those are the only blobs a same-registry promotion
may upload; they are identified here by reading what the target repository holds for the digest, and every
other blob must have been mounted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from devtools import images
from devtools.demo.report import say, short, shorten_digests
from devtools.localregistry import AccessEntry

if TYPE_CHECKING:
    from devtools.demo.story import Demo

DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
ROOT = Path(__file__).resolve().parents[2]


def attestation_tags(digest: str) -> tuple[str, str]:
    """The tag-schema index tag and cosign's attestation tag of a digest."""
    index = "sha256-" + digest.removeprefix("sha256:")
    return index, index + ".att"


def is_attestation_tag(tag: str) -> bool:
    return tag.startswith("sha256-") and not tag.endswith(".sig")


def _manifest(registry_url: str, repository: str, reference: str) -> dict[str, Any] | None:
    status, _, body = images.get_manifest(registry_url, repository, reference)
    if status != 200:
        return None
    found: dict[str, Any] = json.loads(body)
    return found


def attestation_blobs(registry_url: str, repository: str, digest: str) -> dict[str, str]:
    """digest -> media type of every blob of the VSA of `digest` in `repository`: the envelope and the empty
    config of each referrer the `sha256-<hex>` index lists with a DSSE layer, and the `.att` image's blobs."""
    index_tag, att_tag = attestation_tags(digest)
    manifests: list[dict[str, Any]] = []
    index = _manifest(registry_url, repository, index_tag) or {}
    for entry in index.get("manifests") or []:
        referrer = _manifest(registry_url, repository, str(entry.get("digest")))
        if referrer is not None and (referrer.get("subject") or {}).get("digest") == digest:
            manifests.append(referrer)
    att = _manifest(registry_url, repository, att_tag)
    if att is not None:
        manifests.append(att)
    blobs: dict[str, str] = {}
    for manifest in manifests:
        layers = manifest.get("layers") or []
        if not layers or any(layer.get("mediaType") != DSSE_ENVELOPE for layer in layers):
            continue  # not an attestation (e.g. a cosign signature): its blobs are not allowed uploads
        for descriptor in [manifest.get("config") or {}, *layers]:
            blobs[str(descriptor.get("digest"))] = str(descriptor.get("mediaType"))
    return blobs


def uploaded_digest(entry: AccessEntry) -> str | None:
    """The digest a blob upload's closing PUT names (`?digest=sha256:…`); None for a PATCH chunk."""
    values = parse_qs(urlsplit(entry.path).query).get("digest") or []
    return values[0] if entry.method == "PUT" and values else None


def mounted_digest(entry: AccessEntry) -> str | None:
    """The digest a cross-repository mount names (`?mount=sha256:…`)."""
    values = parse_qs(urlsplit(entry.path).query).get("mount") or []
    return values[0] if values else None


def mounted_from(entry: AccessEntry) -> str | None:
    """The repository a cross-repository mount takes the blob from (`?from=…`)."""
    values = parse_qs(urlsplit(entry.path).query).get("from") or []
    return values[0] if values else None


def check_uploads(demo: Demo, label: str, uploads: list[AccessEntry], allowed: dict[str, str]) -> list[str]:
    """Every upload is one monolithic PUT of a blob of the promoted digest's VSA (`allowed`: digest -> media
    type); returns their media types."""
    named = [uploaded_digest(entry) for entry in uploads]
    other = [entry.path for entry, blob in zip(uploads, named, strict=True) if blob is None or blob not in allowed]
    demo.expect(not other, f"{label}: uploads that are not the attestation's blobs: {other}")
    demo.expect(
        any(allowed.get(blob) == DSSE_ENVELOPE for blob in named),
        f"{label}: the promotion should upload its VSA's DSSE envelope, uploaded {named}",
    )
    return [allowed.get(blob or "", "?") for blob in named]


def split_tags(held: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the attestation tags, every other tag) of a tag -> digest map."""
    attestations = {tag: digest for tag, digest in held.items() if is_attestation_tag(tag)}
    return attestations, {tag: digest for tag, digest in held.items() if tag not in attestations}


def check_attestations(demo: Demo, registry_url: str, name: str, target: str, promoted: dict[str, str]) -> None:
    """Exactly one `sha256-<hex>` index and one `.att` image per promoted image digest, each with a VSA."""
    held = {tag: images.get_manifest(registry_url, target, tag)[0] for tag in images.list_tags(registry_url, target)}
    attested = {d for tag, d in promoted.items() if not tag.startswith("sha256-")}
    wanted = {tag for d in attested for tag in attestation_tags(d)}
    found = {tag for tag in held if is_attestation_tag(tag)}
    demo.expect(found == wanted, f"{target} in the {name} registry: attestation tags {found}, expected {wanted}")
    vsa = f"a VSA (sha256-<hex> index + .att) for each promoted digest ({len(attested)})"
    say(f"   {target} in the {name} registry: {vsa}")
    for digest in sorted(attested):
        envelopes = [t for t, m in attestation_blobs(registry_url, target, digest).items() if m == DSSE_ENVELOPE]
        demo.expect(bool(envelopes), f"{target} in the {name} registry: no VSA envelope for {digest}")


def _verify(reference: str, pem: Path) -> tuple[int, list[str]]:
    """`python -m promoter verify REFERENCE --public-key PEM`, as an operator in production runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambda_src")}
    command = [sys.executable, "-m", "promoter", "verify", reference, "--public-key", str(pem)]
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed module, arguments the demo made
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()


def _check_verify(demo: Demo, label: str, reference: str, pem: Path, wanted: int, says: str) -> None:
    """Run verify; the exit code is `wanted` and the output is one line containing `says`."""
    code, lines = _verify(reference, pem)
    line = lines[0] if lines else ""
    say(f"   promoter verify {label:<40} -> exit {code}: {shorten_digests(line)[:120]}")
    demo.expect(
        code == wanted and len(lines) == 1 and says in line,
        f"verify {label}: exit {code} ({lines}), expected exit {wanted} and one line saying {says!r}",
    )


def verify_in_production(demo: Demo, number: int, key_arn: str, workdir: Path) -> None:
    """After replication, the production registry alone proves v1.0.0 came through the gate; an image pushed
    straight into production, with v1.0.0's VSA planted on it, and v1.0.0 under another key, do not verify."""
    from devtools.demo.builds import push_build  # noqa: PLC0415
    from devtools.demo.signing import create_signing_key  # noqa: PLC0415
    from promoter.attest.pubkey import public_key_pem  # noqa: PLC0415 - lambda_src is on sys.path by now

    target = demo.target
    demo.section(f"{number}. Production checks v1.0.0's signed VSA with the public key alone (promoter verify)")
    client = demo.signer.client
    pem, other_pem = workdir / "attestation-key.pem", workdir / "another-key.pem"
    pem.write_text(public_key_pem(client, key_arn))
    other_pem.write_text(public_key_pem(client, create_signing_key(client, "not the attestation key")))
    say(f"   the stack's public key (KMS GetPublicKey of {key_arn}) -> {pem.name}")
    released = f"{demo.prod.host}/{target}:v1.0.0"
    _check_verify(demo, "v1.0.0 in production, the stack's key", released, pem, 0, "verified ")
    _check_verify(demo, "v1.0.0 in production, another key", released, other_pem, 1, "no signature verifies")
    rogue = push_build(demo.prod.url, target, "rogue-1", "v9.9.9-rogue", demo.shared).digest
    say(f"   someone pushes {target}:v9.9.9-rogue ({short(rogue)}) straight into production")
    reference = f"{demo.prod.host}/{target}@{rogue}"
    _check_verify(demo, "v9.9.9-rogue", reference, pem, 1, "no attestation")
    planted = plant_attestation(demo, target, "v1.0.0", rogue)
    demo.expect(planted, "v1.0.0's VSA could not be copied onto v9.9.9-rogue in the production registry")
    say(f"   and copies v1.0.0's VSA referrer onto it (subject {short(rogue)}, in its sha256-<hex> index)")
    _check_verify(demo, "v9.9.9-rogue with v1.0.0's VSA copied", reference, pem, 1, "signed statement is not about")


def plant_attestation(demo: Demo, target: str, tag: str, other: str) -> bool:
    """Tamper in production: v1.0.0's VSA referrer copied with its subject pointing at `other`, listed in
    `other`'s tag-schema index, so verify finds it for that digest (the signed statement still names v1.0.0)."""
    url = demo.prod.url
    released = images.get_manifest(url, target, tag)
    index = _manifest(url, target, attestation_tags(images.sha256_digest(released[2]))[0]) or {}
    entries = index.get("manifests") or []
    referrer = _manifest(url, target, str(entries[0].get("digest"))) if entries else None
    moved = _manifest(url, target, other)
    if referrer is None or moved is None:
        return False
    status, media_type, body = images.get_manifest(url, target, other)
    referrer["subject"] = {"mediaType": media_type, "digest": other, "size": len(body)}
    forged = json.dumps(referrer).encode()
    forged_digest = images.put_manifest(url, target, images.sha256_digest(forged), forged, images.OCI_MANIFEST)
    entry = {**entries[0], "digest": forged_digest, "size": len(forged)}
    other_index = json.dumps({"schemaVersion": 2, "mediaType": images.OCI_INDEX, "manifests": [entry]}).encode()
    images.put_manifest(url, target, attestation_tags(other)[0], other_index, images.OCI_INDEX)
    return status == 200
