"""Referrers that arrive later still travel; referrers of referrers too; and a registry without the
referrers API is probed once per process. On the real registry: distribution 2.8 has no referrers API,
so everything goes through the OCI tag-schema fallback (`sha256-<hex>`) and cosign tags."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from devtools import images
from devtools.localregistry import AccessEntry, LocalRegistry
from promoter.registry import RegistryClient, copy_image
from promoter.registry.capabilities import REFERRERS_SUPPORT

RepoName = Callable[[str], str]
SBOM_TYPE = "application/spdx+json"
WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def _tag_for(digest: str, suffix: str = "") -> str:
    return "sha256-" + digest.split(":", 1)[1] + suffix


def _sbom_with_fallback_index(
    registry: LocalRegistry, repository: str, subject: images.PushedImage
) -> images.PushedImage:
    """An SBOM whose subject is `subject`, listed in the subject's `sha256-<hex>` fallback index."""
    sbom = images.push_image(
        registry.url,
        repository,
        None,
        [json.dumps({"spdxVersion": "SPDX-2.3", "name": subject.digest}).encode()],
        subject=(subject.media_type, len(subject.manifest), subject.digest),
        artifact_type=SBOM_TYPE,
    )
    index = {
        "schemaVersion": 2,
        "mediaType": images.OCI_INDEX,
        "manifests": [
            {"mediaType": sbom.media_type, "digest": sbom.digest, "size": len(sbom.manifest), "artifactType": SBOM_TYPE}
        ],
    }
    images.put_manifest(
        registry.url, repository, _tag_for(subject.digest), json.dumps(index).encode(), images.OCI_INDEX
    )
    return sbom


def _signature(
    registry: LocalRegistry, repository: str, subject_digest: str, suffix: str = ".sig"
) -> images.PushedImage:
    """A cosign-style signature (or attestation) tag on `subject_digest`."""
    return images.push_image(
        registry.url, repository, _tag_for(subject_digest, suffix), [suffix.encode() + b"-payload"]
    )


def _writes(entries: list[AccessEntry]) -> list[AccessEntry]:
    return [entry for entry in entries if entry.method in WRITES]


@pytest.mark.parametrize("cross", [False, True], ids=["same-registry", "cross-registry"])
def test_referrers_added_after_the_copy_follow_on_the_next_copy_and_only_once(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, cross: bool
) -> None:
    # Given an image already copied (no referrers then)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    image = images.push_image(registry.url, dev, "v1", images.random_layers(2, 1000))
    target = second_registry if cross else registry
    source_client, target_client = RegistryClient.for_endpoint(registry.url), RegistryClient.for_endpoint(target.url)
    assert copy_image(source_client, dev, "v1", target_client, prod, ["v1"]).referrers_copied == 0
    # and, afterwards, an SBOM and a signature are added to the source (cosign sign / ECR managed signing)
    sbom = _sbom_with_fallback_index(registry, dev, image)
    signature = _signature(registry, dev, image.digest)

    # When the copy runs again
    again = copy_image(source_client, dev, "v1", target_client, prod, ["v1"])

    # Then the image is reported present and the two referrers were copied, byte-exact
    assert again.already_present and again.referrers_copied == 2 and again.manifests_written >= 2
    assert images.get_manifest(target.url, prod, sbom.digest)[2] == sbom.manifest
    assert images.get_manifest(target.url, prod, _tag_for(image.digest, ".sig"))[2] == signature.manifest
    # And a third run finds nothing missing and writes nothing
    mark = target.log_mark()
    third = copy_image(source_client, dev, "v1", target_client, prod, ["v1"])
    assert third.already_present and third.referrers_copied == 0 and third.manifests_written == 0
    assert _writes(target.access_log(since=mark)) == []


@pytest.mark.parametrize("depth", [1, 3])
def test_a_signature_on_an_sbom_is_copied_within_the_depth_bound(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName, depth: int
) -> None:
    # Given an image with an SBOM, the SBOM signed (level 2), and that signature attested (level 3)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    image = images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000))
    sbom = _sbom_with_fallback_index(registry, dev, image)
    sbom_signature = _signature(registry, dev, sbom.digest)
    level_three = _signature(registry, dev, sbom_signature.digest, ".att")

    # When the image is copied with referrer depth `depth`
    result = copy_image(
        RegistryClient.for_endpoint(registry.url),
        dev,
        "v1",
        RegistryClient.for_endpoint(second_registry.url),
        prod,
        ["v1"],
        referrer_depth=depth,
    )

    # Then the SBOM always travels, and what lies deeper only within the bound
    assert images.get_manifest(second_registry.url, prod, sbom.digest)[0] == 200
    signature_status = images.get_manifest(second_registry.url, prod, _tag_for(sbom.digest, ".sig"))[0]
    level_three_status = images.get_manifest(second_registry.url, prod, _tag_for(sbom_signature.digest, ".att"))[0]
    if depth == 1:
        assert (result.referrers_copied, signature_status, level_three_status) == (1, 404, 404)
    else:
        assert (result.referrers_copied, signature_status, level_three_status) == (3, 200, 200)
        assert images.get_manifest(second_registry.url, prod, _tag_for(sbom_signature.digest, ".att"))[2] == (
            level_three.manifest
        )


def test_referrers_beyond_the_per_call_bound_are_deferred_to_the_next_call(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name: RepoName
) -> None:
    # Given an image with three cosign tags (signature, attestation, SBOM)
    dev, prod = repo_name("dev-app"), repo_name("prod-app")
    image = images.push_image(registry.url, dev, "v1", images.random_layers(1, 1000))
    for suffix in (".sig", ".att", ".sbom"):
        _signature(registry, dev, image.digest, suffix)
    source, target = RegistryClient.for_endpoint(registry.url), RegistryClient.for_endpoint(second_registry.url)

    # When it is copied with at most two referrers per call, twice
    first = copy_image(source, dev, "v1", target, prod, ["v1"], max_referrers=2)
    second = copy_image(source, dev, "v1", target, prod, ["v1"], max_referrers=2)

    # Then two travel first, one is deferred, and the next call brings exactly that one
    assert (first.referrers_copied, first.referrers_deferred) == (2, 1)
    assert (second.already_present, second.referrers_copied, second.referrers_deferred) == (True, 1, 0)
    for suffix in (".sig", ".att", ".sbom"):
        assert images.get_manifest(second_registry.url, prod, _tag_for(image.digest, suffix))[0] == 200


def test_a_registry_without_the_referrers_api_is_probed_once_per_process(
    fresh_registry: Callable[[], LocalRegistry], repo_name: RepoName
) -> None:
    # Given a cold process (nothing learnt yet) and a registry of its own, holding two images
    REFERRERS_SUPPORT.forget()
    own = fresh_registry()
    images.push_image(own.url, "dev-a", "v1", images.random_layers(3, 1000))
    images.push_image(own.url, "dev-b", "v1", images.random_layers(3, 1000))

    # When each is promoted by its own client (as separate invocations of one warm environment do)
    counts = []
    for source in ("dev-a", "dev-b"):
        mark = own.log_mark()
        client = RegistryClient.for_endpoint(own.url)
        copy_image(client, source, "v1", client, source.replace("dev", "prod"), ["v1"])
        log = own.access_log(since=mark)
        counts.append((len(log), len([e for e in log if "/referrers/" in e.path])))

    # Then only the first copy probed the referrers API; the warm one saved that request
    (cold_total, cold_probes), (warm_total, warm_probes) = counts
    assert (cold_probes, warm_probes) == (1, 0)
    assert warm_total == cold_total - 1, counts
    assert warm_total <= 10, counts
