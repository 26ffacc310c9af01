"""Referrers (signatures, attestations, SBOMs) travel with the image. Distribution 2.8 has no referrers
API, so these exercise the OCI tag-schema fallback (`sha256-<hex>` index) and cosign `.sig` tags."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry
from promoter.registry import RegistryClient, copy_image

RepoName = Callable[[str], str]
SBOM_TYPE = "application/spdx+json"


def _fallback_tag(digest: str) -> str:
    return "sha256-" + digest.split(":", 1)[1]


def _push_referrer(registry: LocalRegistry, repository: str, subject: images.PushedImage) -> images.PushedImage:
    """An SBOM artifact whose subject is `subject`, pushed by digest (as an OCI 1.1 client does)."""
    return images.push_image(
        registry.url,
        repository,
        None,
        [json.dumps({"spdxVersion": "SPDX-2.3", "name": subject.digest}).encode()],
        subject=(subject.media_type, len(subject.manifest), subject.digest),
        artifact_type=SBOM_TYPE,
    )


def _push_fallback_index(
    registry: LocalRegistry, repository: str, subject: str, referrers: list[images.PushedImage]
) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": images.OCI_INDEX,
        "manifests": [
            {"mediaType": r.media_type, "digest": r.digest, "size": len(r.manifest), "artifactType": SBOM_TYPE}
            for r in referrers
        ],
    }
    data = json.dumps(document).encode()
    images.put_manifest(registry.url, repository, _fallback_tag(subject), data, images.OCI_INDEX)
    return data


@pytest.mark.parametrize("cross", [False, True], ids=["same-registry", "cross-registry"])
def test_tag_schema_referrers_and_cosign_signatures_are_copied_before_the_tag(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, cross: bool
) -> None:
    # Given an image with an SBOM referrer listed in its `sha256-<hex>` fallback index, and a cosign signature tag
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    image = images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))
    sbom = _push_referrer(registry, dev, image)
    fallback = _push_fallback_index(registry, dev, image.digest, [sbom])
    signature = images.push_image(registry.url, dev, _fallback_tag(image.digest) + ".sig", [b'{"critical":{}}'])
    target = second_registry if cross else registry
    mark = target.log_mark()

    # When the image is copied
    result = copy_image(
        RegistryClient.for_endpoint(registry.url), dev, "v1", RegistryClient.for_endpoint(target.url), prod, ["v1"]
    )

    # Then the fallback index, the SBOM it lists and the signature are in the target, byte-exact
    assert result.referrers_copied == 2
    assert images.get_manifest(target.url, prod, _fallback_tag(image.digest))[2] == fallback
    assert images.get_manifest(target.url, prod, sbom.digest)[2] == sbom.manifest
    assert images.get_manifest(target.url, prod, _fallback_tag(image.digest) + ".sig")[2] == signature.manifest
    assert images.get_manifest(target.url, prod, "v1")[2] == image.manifest
    # And the image tag was the last thing written (the commit point)
    manifest_puts = [e.path for e in target.access_log(since=mark) if e.method == "PUT" and "/manifests/" in e.path]
    assert manifest_puts[-1].endswith("/manifests/v1")
    assert manifest_puts[0].endswith(f"/manifests/{image.digest}")


def test_no_referrers_copies_only_the_image(registry: LocalRegistry, repo_name: RepoName) -> None:
    # Given an image with a signature tag
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    image = images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000))
    images.push_image(registry.url, dev, _fallback_tag(image.digest) + ".sig", [b"sig"])
    client = RegistryClient.for_endpoint(registry.url)

    # When it is copied with referrers off, Then only the image tag is in the target
    result = copy_image(client, dev, "v1", client, prod, ["v1"], referrers=False)
    assert result.referrers_copied == 0
    assert images.list_tags(registry.url, prod) == ["v1"]


def test_existing_fallback_index_in_the_target_is_merged_not_overwritten(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given the target already lists one referrer of the image in its fallback index (pushed there directly)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    layers = images.random_layers(1, 1000)
    image = images.push_image(registry.url, dev, "v1", layers)
    images.push_image(second_registry.url, prod, None, layers)
    local_sbom = _push_referrer(second_registry, prod, image)
    _push_fallback_index(second_registry, prod, image.digest, [local_sbom])
    # and the source lists another one
    source_sbom = images.push_image(
        registry.url,
        dev,
        None,
        [b'{"other": "sbom"}'],
        subject=(image.media_type, len(image.manifest), image.digest),
        artifact_type=SBOM_TYPE,
    )
    _push_fallback_index(registry, dev, image.digest, [source_sbom])

    # When the image is copied
    copy_image(
        RegistryClient.for_endpoint(registry.url),
        dev,
        "v1",
        RegistryClient.for_endpoint(second_registry.url),
        prod,
        ["v1"],
    )

    # Then the target's fallback index lists both referrers
    _, _, data = images.get_manifest(second_registry.url, prod, _fallback_tag(image.digest))
    listed = {m["digest"] for m in json.loads(data)["manifests"]}
    assert listed == {local_sbom.digest, source_sbom.digest}


def test_signatures_of_index_children_are_copied(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given a multi-arch index whose amd64 child is signed (cosign tag on the child's digest)
    dev, prod = repo_name("dev-multi"), repo_name("prod-multi")
    children = [
        images.push_image(registry.url, dev, None, images.random_layers(1, 500), platform=p)
        for p in (("linux", "amd64"), ("linux", "arm64"))
    ]
    images.push_index(registry.url, dev, "v1", children)
    signature = images.push_image(registry.url, dev, _fallback_tag(children[0].digest) + ".sig", [b"child-sig"])

    # When the index is copied, Then the child's signature is there too
    result = copy_image(
        RegistryClient.for_endpoint(registry.url),
        dev,
        "v1",
        RegistryClient.for_endpoint(second_registry.url),
        prod,
        ["v1"],
    )
    assert result.referrers_copied == 1
    assert images.get_manifest(second_registry.url, prod, _fallback_tag(children[0].digest) + ".sig")[2] == (
        signature.manifest
    )
