"""The Lambda contract end to end: real handler, moto DynamoDB, real registry (mounts enforced)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from devtools.eventfactory import ci_result_event, codebuild_event, push_event, scan_event
from tests.support.promotion import Promoter, only, rule

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def gated(source: str, target: str, *, scan: bool = False, allow_override: bool = False) -> dict:
    require: dict = {"tests": ["integration"]}
    if scan:
        require["scan"] = {"fail_on": ["CRITICAL"]}
    return {"rules": [rule(source, target, tags=["v*"], require=require)], "allow_override": allow_override}


def test_push_waits_for_tests_then_the_result_promotes_with_mounts_only(promoter: Promoter, repo_name) -> None:
    # Given a gated rule and a freshly pushed release tag
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod))
    image = promoter.push(dev, "v1.0.0", layers=4)

    # When the push event arrives, Then the image waits for its tests
    pending = only(promoter.invoke(push_event(dev, image.digest, "v1.0.0", at=T0)))
    assert pending["outcome"] == "pending"
    assert "tests: integration has no result yet" in pending["reasons"]
    assert promoter.target_digest(prod, "v1.0.0") is None

    # When the CI reports PASSED, Then it is promoted byte-exact with every blob mounted
    mark = promoter.registry.log_mark()
    promoted = only(promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED", at=T0)))
    assert promoted["outcome"] == "promoted"
    assert (promoted["target_repository"], promoted["tags"]) == (prod, ["v1.0.0"])
    assert promoted["copy"]["blobs_mounted"] == 5
    assert promoted["copy"]["bytes_moved"] == 0
    assert promoter.target_digest(prod, "v1.0.0") == image.digest
    assert not [entry for entry in promoter.registry.access_log(mark) if entry.is_blob_upload]


def test_result_before_push_promotes_on_the_push(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod))
    image = promoter.push(dev, "v2.0.0")

    early = only(promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED", at=T0)))
    late_push = only(promoter.invoke(push_event(dev, image.digest, "v2.0.0", at=T0 + timedelta(seconds=5))))

    # The test result alone already promotes (the tag is in the registry); the push is then a no-op
    assert early["outcome"] == "promoted"
    assert late_push["outcome"] == "already-promoted"


def test_failed_result_after_passed_one_rejects_and_older_events_do_not_win(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod, scan=True))
    image = promoter.push(dev, "v3.0.0")

    passed = only(promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED", at=T0)))
    failed = only(
        promoter.invoke(
            ci_result_event(dev, image.digest, "integration", "FAILED", "https://ci/9", at=T0 + timedelta(minutes=1))
        )
    )
    stale = only(promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED", at=T0)))

    assert passed["outcome"] == "pending"  # the scan has not completed yet
    assert failed["outcome"] == "rejected"
    assert failed["reasons"] == ["tests: integration FAILED (https://ci/9)"]
    assert stale["outcome"] == "rejected"  # an out-of-order older PASSED does not override the newer FAILED
    assert promoter.target_digest(prod, "v3.0.0") is None


def test_scan_gate_rejects_critical_findings_and_passes_clean_scans(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod, scan=True))
    dirty, clean = promoter.push(dev, "v4.0.0"), promoter.push(dev, "v4.0.1")
    for image in (dirty, clean):
        promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED", at=T0))

    rejected = only(promoter.invoke(scan_event(dev, dirty.digest, {"CRITICAL": 2, "LOW": 5}, ["v4.0.0"])))
    promoted = only(promoter.invoke(scan_event(dev, clean.digest, {"HIGH": 1}, ["v4.0.1"])))

    assert (rejected["outcome"], rejected["reasons"]) == ("rejected", ["scan: 2 CRITICAL finding(s)"])
    assert promoted["outcome"] == "promoted"
    assert promoter.target_digest(prod, "v4.0.0") is None
    assert promoter.target_digest(prod, "v4.0.1") == clean.digest


def test_dev_tags_and_unknown_repositories_are_ignored_without_writes(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod))
    image = promoter.push(dev, "dev-build-17")
    stranger = promoter.push(repo_name("sandbox"), "v1")

    filtered = only(promoter.invoke(push_event(dev, image.digest, "dev-build-17")))
    unknown = only(promoter.invoke(push_event(stranger.repository, stranger.digest, "v1")))

    assert filtered["outcome"] == "ignored" and "no tag matches v*" in filtered["reasons"][0]
    assert unknown["outcome"] == "ignored" and unknown["rule"] is None
    assert not [item for item in promoter.ledger_items() if item["pk"]["S"] == "PENDING"]


def test_existing_prod_tag_on_another_digest_is_a_conflict_and_untouched(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"])]})
    released = promoter.push(prod, "v5.0.0")
    rebuilt = promoter.push(dev, "v5.0.0")

    decision = only(promoter.invoke(push_event(dev, rebuilt.digest, "v5.0.0")))

    assert decision["outcome"] == "conflict"
    assert released.digest in decision["reasons"][0]
    assert promoter.target_digest(prod, "v5.0.0") == released.digest


def test_duplicate_delivery_promotes_once(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod)]})
    image = promoter.push(dev, "v6")
    event = push_event(dev, image.digest, "v6")

    first, second = only(promoter.invoke(event)), only(promoter.invoke(event))

    assert (first["outcome"], second["outcome"]) == ("promoted", "already-promoted")
    history = [item for item in promoter.ledger_items() if item["sk"]["S"].startswith("DECISION#")]
    assert len(history) == 1  # the same event id is recorded once


def test_wildcard_rule_promotes_into_the_named_target(promoter: Promoter, repo_name) -> None:
    team = repo_name("team")
    promoter.configure({"rules": [rule(f"dev-{team}-*", f"prod-{team}-{{name}}", tags=["release-*"])]})
    image = promoter.push(f"dev-{team}-payments", "release-1")

    decision = only(promoter.invoke(push_event(f"dev-{team}-payments", image.digest, "release-1")))

    assert decision["outcome"] == "promoted"
    assert promoter.target_digest(f"prod-{team}-payments", "release-1") == image.digest


def test_dry_run_writes_nothing(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod)]})
    image = promoter.push(dev, "v7")

    decision = only(promoter.invoke({"action": "promote", "repository": dev, "tag": "v7", "dry_run": True}))

    assert decision["outcome"] == "dry-run"
    assert promoter.ledger_items() == []
    assert promoter.target_digest(prod, "v7") is None
    assert decision["digest"] == image.digest


def test_override_skips_pending_gates_only_when_allowed_and_is_recorded(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.push(dev, "v8")
    request = {"action": "promote", "repository": dev, "tag": "v8", "override": {"reason": "INC-42 hotfix"}}

    promoter.configure(gated(dev, prod, allow_override=False))
    refused = only(promoter.invoke(request))
    promoter.configure(gated(dev, prod, allow_override=True))
    allowed = only(promoter.invoke(request))
    status = promoter.invoke({"action": "status", "repository": dev, "tag": "v8"})["status"]

    assert refused["outcome"] == "pending" and "override refused" in refused["reasons"][0]
    assert allowed["outcome"] == "promoted" and allowed["override_reason"] == "INC-42 hotfix"
    assert any(entry.get("override_reason") == "INC-42 hotfix" for entry in status["history"])


def test_override_never_skips_a_failed_gate(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod, allow_override=True))
    image = promoter.push(dev, "v9")
    promoter.invoke(ci_result_event(dev, image.digest, "integration", "FAILED"))

    decision = only(
        promoter.invoke({"action": "promote", "repository": dev, "digest": image.digest, "override": {"reason": "x"}})
    )

    assert decision["outcome"] == "rejected"
    assert promoter.target_digest(prod, "v9") is None


def test_status_reports_gates_and_history_without_writing(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod))
    image = promoter.push(dev, "v10")
    promoter.invoke(push_event(dev, image.digest, "v10"))
    before = promoter.ledger_items()

    response = promoter.invoke({"action": "status", "repository": dev, "tag": "v10"})

    assert promoter.ledger_items() == before
    assert response["decisions"][0]["outcome"] == "pending"
    assert response["status"]["digest"] == image.digest
    assert [entry["outcome"] for entry in response["status"]["history"]] == ["pending"]


def test_reconcile_promotes_pending_candidates_whose_evidence_arrived(promoter: Promoter, repo_name) -> None:
    from promoter.gates import SuiteResult
    from promoter.ledger import Ledger

    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure(gated(dev, prod))
    image = promoter.push(dev, "v11")
    assert only(promoter.invoke(push_event(dev, image.digest, "v11")))["outcome"] == "pending"
    # Given evidence recorded while its own evaluation was lost (e.g. a crash after the write)
    Ledger("ecr-promoter-ledger", promoter.dynamodb).record_test(
        dev, image.digest, SuiteResult("integration", "PASSED", T0), "lost-event"
    )

    decisions = promoter.invoke({"action": "reconcile"})["decisions"]

    assert [(d["digest"], d["outcome"]) for d in decisions] == [(image.digest, "promoted")]
    assert not [item for item in promoter.ledger_items() if item["pk"]["S"] == "PENDING"]


def test_codebuild_success_counts_as_a_suite_for_images_tagged_with_its_commit(promoter: Promoter, repo_name) -> None:
    dev, prod = repo_name("dev"), repo_name("prod")
    commit = "4f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6"
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"], require={"tests": ["codebuild:app-tests"]})]})
    image = promoter.push(dev, commit[:7])
    unrelated = promoter.push(dev, "v12")  # built from another commit: must not be promoted
    # The same digest also carries the release tag
    from devtools.images import put_manifest

    put_manifest(promoter.registry.url, dev, "v12.0.0", image.manifest, image.media_type)
    promoter.invoke(push_event(dev, image.digest, commit[:7]))

    decisions = promoter.invoke(codebuild_event("app-tests", commit))["decisions"]

    assert [(d["digest"], d["outcome"], d["tags"]) for d in decisions] == [(image.digest, "promoted", ["v12.0.0"])]
    assert promoter.target_digest(prod, "v12") is None and unrelated.digest != image.digest


def test_malformed_inputs_get_a_clear_error_and_nothing_is_written(promoter: Promoter, repo_name) -> None:
    promoter.configure({"rules": [rule("dev-a", "prod-a")]})
    corpus = [
        None,
        "promote everything",
        {"action": "promote", "repository": "../../prod-a", "tag": "v1"},
        {"action": "promote", "repository": "dev-a", "digest": "sha256:xyz"},
        {"action": "nuke"},
        {"source": "ecr-promoter", "detail-type": "Image Test Result", "detail": {"result": "PASSED"}},
        ci_result_event("dev-a", "sha256:" + "a" * 64, "integration", "PERHAPS"),
        {"source": "aws.ecr", "detail-type": "ECR Image Action", "id": "x", "time": "t", "detail": {}},
        {"action": "promote", "repository": "dev-a", "tag": "v" * 500},
    ]

    for event in corpus:
        response = promoter.invoke(event)
        assert response["decisions"] == [] and response["error"], event

    assert promoter.ledger_items() == []


def test_an_index_is_promoted_once_every_platform_image_has_a_clean_scan(promoter: Promoter, repo_name) -> None:
    from devtools.images import push_image as push_child
    from devtools.images import push_index, random_layers

    # Given a multi-arch index (two platform images pushed by digest) under a scan-gated rule
    dev, prod = repo_name("dev"), repo_name("prod")
    promoter.configure({"rules": [rule(dev, prod, tags=["v*"], require={"scan": {"fail_on": ["CRITICAL"]}})]})
    url = promoter.registry.url
    amd64 = push_child(url, dev, None, random_layers(2, 1024))
    arm64 = push_child(url, dev, None, random_layers(2, 1024), platform=("linux", "arm64"))
    index = push_index(url, dev, "v1", [amd64, arm64])

    # When the index is pushed, and then each platform image's scan arrives (image-tags: [])
    pushed = only(promoter.invoke(push_event(dev, index.digest, "v1", at=T0)))
    first = only(promoter.invoke(scan_event(dev, amd64.digest, {"LOW": 1}, [])))
    second = only(promoter.invoke(scan_event(dev, arm64.digest, {"MEDIUM": 2}, [])))

    # Then the index waits for both, and the last child scan promotes the index itself
    assert pushed["outcome"] == "pending" and amd64.digest in pushed["reasons"][0]
    assert (first["digest"], first["outcome"]) == (index.digest, "pending")
    assert (second["digest"], second["outcome"]) == (index.digest, "promoted")
    assert promoter.target_digest(prod, "v1") == index.digest


def test_with_a_trust_section_only_results_signed_by_a_trusted_kms_key_count(promoter: Promoter, repo_name) -> None:
    import json

    import boto3

    from promoter.attest.intoto import build_test_result
    from promoter.attest.kms import KmsSigner

    # Given a policy that trusts only results signed by one KMS key (moto's KMS: real ECDSA)
    kms = boto3.client("kms", region_name="us-west-2")
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    dev, prod = repo_name("dev"), repo_name("prod")
    trusted = {"test_results": {"signed_by": [key]}}
    promoter.configure({"rules": [rule(dev, prod, require={"tests": ["integration"]})], "trust": trusted})
    image = promoter.push(dev, "v1")
    signed_event = ci_result_event(dev, image.digest, "integration", "PASSED")
    envelope = KmsSigner(kms, key).sign_statement(build_test_result(image.digest, "integration", "PASSED"))
    signed_event["detail"]["attestation"] = json.loads(envelope.to_json())
    disagreeing = json.loads(json.dumps(signed_event))
    disagreeing["detail"]["suite"] = "e2e"

    # When an unsigned result, a signed one whose event disagrees with it, and the signed one arrive
    unsigned = only(promoter.invoke(ci_result_event(dev, image.digest, "integration", "PASSED")))
    mismatched = only(promoter.invoke(disagreeing))
    signed = only(promoter.invoke(signed_event))

    # Then only the signed, agreeing result counts
    assert unsigned["outcome"] == "ignored" and "unsigned" in unsigned["reasons"][0]
    assert mismatched["outcome"] == "ignored" and "disagrees" in mismatched["reasons"][0]
    assert signed["outcome"] == "promoted"
    assert promoter.target_digest(prod, "v1") == image.digest
