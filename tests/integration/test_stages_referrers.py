"""On the real registry (distribution: no referrers API, so the `sha256-<hex>` tag schema and cosign
tags carry referrers): a signature pushed into the source after the promotion reaches the target the
next time the image is evaluated, here the push event of the signature tag, and the scheduled run
picks up one nobody announced."""

from __future__ import annotations

from devtools import images
from devtools.eventfactory import push_event
from tests.support.promotion import Promoter, only, rule


def signature_tag(digest: str) -> str:
    return "sha256-" + digest.removeprefix("sha256:") + ".sig"


def test_a_signature_added_after_promotion_reaches_the_target(promoter: Promoter, repo_name) -> None:
    # Given an image promoted without a signature
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    image = promoter.push(dev, "v1")
    assert only(promoter.invoke(push_event(dev, image.digest, "v1")))["outcome"] == "promoted"
    assert signature_tag(image.digest) not in images.list_tags(promoter.registry.url, prod)

    # When a cosign signature for it is pushed into the source and its push event arrives
    signature = promoter.push(dev, signature_tag(image.digest), layers=1)
    decision = only(promoter.invoke(push_event(dev, signature.digest, signature_tag(image.digest))))

    # Then the signature is in the target, and the decision says so
    assert (decision["digest"], decision["outcome"]) == (image.digest, "already-promoted")
    assert decision["copy"]["referrers_copied"] == 1
    assert promoter.target_digest(prod, signature_tag(image.digest)) == signature.digest


def test_the_scheduled_run_re_syncs_a_signature_nobody_announced(promoter: Promoter, repo_name) -> None:
    # Given a promoted image whose signature was pushed without its event reaching the function
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    image = promoter.push(dev, "v1")
    only(promoter.invoke(push_event(dev, image.digest, "v1")))
    signature = promoter.push(dev, signature_tag(image.digest), layers=1)

    # When the schedule fires
    response = promoter.invoke({"action": "reconcile"})

    # Then the signature reached the target
    assert promoter.target_digest(prod, signature_tag(image.digest)) == signature.digest
    assert [d["digest"] for d in response["decisions"] if d["target_repository"] == prod] == [image.digest]
