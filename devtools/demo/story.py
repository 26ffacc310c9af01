"""The story the demo tells: the scenario's steps in the order things happen, each narrated and checked.

`Demo.run` is the script (iterations, a release, a failed test, a CRITICAL finding, a duplicate delivery,
evidence out of order, a rebuild under an existing tag, then the scenes of devtools.demo.scenes,
replication); the other methods are its verbs:
push an image, deliver an event, replicate, and `expect` — every expectation that does not hold is
printed at once and makes the demo exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devtools import images
from devtools.demo import attestation, operations, scenes, stages
from devtools.demo.builds import Build, Layer, base_layers, digest_of, push_build, retag
from devtools.demo.bus import Subscriber
from devtools.demo.report import Row, human_bytes, say, short, shorten_digests
from devtools.demo.scenario import CI_URL, SOURCE_REPOSITORY, Scenario
from devtools.demo.signing import CiSigner
from devtools.eventfactory import ci_result_event, push_event, scan_event
from devtools.localregistry import LocalRegistry


@dataclass
class Demo:
    scenario: Scenario
    dev: LocalRegistry
    prod: LocalRegistry
    deliver: Callable[[dict[str, Any]], dict[str, Any]]  # one event through the function's entry point
    signer: CiSigner  # the CI's KMS key: the policy trusts only test results it signed
    approver_key: str  # the release board's KMS key: the last stage of the chain needs its approval
    listeners: dict[str, Subscriber]  # EventBridge rules on the function's bus -> SQS queues (devtools.demo.bus)
    attestation_key: str  # ATTESTATION_KEY: the function signs a VSA of every promotion with it
    verbose: bool = False
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    rows: list[Row] = field(default_factory=list)
    promotions: list[tuple[str, str]] = field(default_factory=list)  # (target repository, digest), in order
    shared: list[Layer] = field(default_factory=base_layers)

    @property
    def target(self) -> str:
        return self.scenario.target_repository

    # -- bookkeeping

    def expect(self, condition: bool, what: str) -> bool:
        self.checks += 1
        if not condition:
            what = shorten_digests(what)
            self.failures.append(what)
            say(f"     !! UNEXPECTED: {what}")
        return condition

    def record(
        self, image: str, tag: str | None, build: Build, decision: dict[str, Any] | None, target: str | None = None
    ) -> None:
        """One row of the final table; `target` is the production repository the image would reach."""
        copy = (decision or {}).get("copy") or {}
        outcome = str((decision or {}).get("outcome", "error"))
        mounted, moved = copy.get("blobs_mounted"), copy.get("bytes_moved")
        vsa = (decision or {}).get("attestation_digest") if outcome == "promoted" else None
        row = Row(image, tag, build.digest, outcome, mounted, moved, target=target or self.target, attestation=vsa)
        self.rows.append(row)

    # -- steps

    def section(self, title: str) -> None:
        say()
        say(title)

    def push(self, build: str, tag: str) -> Build:
        pushed = push_build(self.dev.url, SOURCE_REPOSITORY, build, tag, self.shared)
        reused = pushed.blobs - pushed.uploaded
        shared = f", {reused} shared layers already there" if reused else ""
        say(
            f"   docker push {SOURCE_REPOSITORY}:{tag} ({build}, {short(pushed.digest)}, {human_bytes(pushed.size)}): "
            f"{pushed.uploaded} blobs uploaded{shared}"
        )
        return pushed

    def invoke(self, label: str, event: dict[str, Any], expected: str) -> dict[str, Any] | None:
        """Deliver one event to the function, print its decision, check the outcome."""
        try:
            response = self.deliver(event)
        except Exception as error:
            say(f"   {label:<50} -> ERROR")
            self.expect(False, f"{label}: the function raised {type(error).__name__}: {error}")
            return None
        if self.verbose:
            say(json.dumps(response, indent=2))
        decisions = response.get("decisions") or []
        if response.get("error") or len(decisions) != 1:
            say(f"   {label:<50} -> ERROR")
            self.expect(False, f"{label}: expected one decision, got {json.dumps(response)[:300]}")
            return None
        decision: dict[str, Any] = decisions[0]
        outcome = str(decision.get("outcome"))
        copy = decision.get("copy")
        if outcome == "promoted" and copy:
            detail = (
                f"into {decision.get('target_repository')}:{','.join(decision.get('tags') or [])}: "
                f"{copy.get('blobs_mounted')} blobs mounted, {human_bytes(int(copy.get('bytes_moved') or 0))} moved"
            )
        else:
            detail = shorten_digests("; ".join(decision.get("reasons") or []))
        say(f"   {label:<50} -> {outcome:<17}{detail}")
        self.expect(outcome == expected, f"{label}: expected outcome {expected}, got {outcome} ({detail})")
        return decision

    def ci_result(self, build: Build, suite: str, result: str) -> dict[str, Any]:
        """CI's `Image Test Result` for `build`, signed with the CI's KMS key."""
        url = CI_URL + build.name
        signed = self.signer.attestation(build.digest, suite, result, url)
        return ci_result_event(SOURCE_REPOSITORY, build.digest, suite, result, url, attestation=signed)

    def tests_pass(self, build: Build, label: str) -> tuple[str, dict[str, Any]]:
        """CI reports each required suite PASSED: every suite but the last is delivered here (the image
        stays pending); the last one's label and event are returned for the caller to deliver."""
        suites = self.scenario.suites
        for suite in suites[:-1]:
            self.invoke(f"CI: {suite} PASSED for {label}", self.ci_result(build, suite, "PASSED"), "pending")
        last = self.ci_result(build, suites[-1], "PASSED")
        return f"CI: {suites[-1]} PASSED for {label}", last

    def promote_step(
        self, label: str, event: dict[str, Any], build: Build, tag: str, target: str | None = None
    ) -> dict[str, Any] | None:
        """The event that should promote `build` (into `target`, default the scenario's): the image's blobs
        mounted, zero of its bytes moved, only its VSA's small blobs uploaded, byte-exact target."""
        target = target or self.target
        mark = self.dev.log_mark()
        decision = self.invoke(label, event, "promoted")
        log = self.dev.access_log(mark)
        uploads = [entry for entry in log if entry.is_blob_upload]
        mounts = [entry for entry in log if entry.is_mount and entry.status == 201]
        allowed = attestation.attestation_blobs(self.dev.url, target, build.digest)
        kinds = attestation.check_uploads(self, label, uploads, allowed)
        say(
            f"     dev registry access log: {len(mounts)} cross-repository mounts (201), {len(uploads)} blob uploads "
            f"(the VSA's: {', '.join(kind.rsplit('/', 1)[-1] for kind in kinds)})"
        )
        copy = (decision or {}).get("copy") or {}
        mounted = [attestation.mounted_digest(entry) for entry in mounts]
        # a copied referrer's blobs (in the chain, the staging VSA travels to prod with the image)
        sources = {attestation.mounted_from(entry) for entry in mounts} - {None, target}
        copied = {d for repo in sources for d in attestation.attestation_blobs(self.dev.url, str(repo), build.digest)}
        referrer_blobs = [d for d in mounted if d in allowed or d in copied]
        self.expect(
            copy.get("blobs_mounted") == len(mounts) == build.blobs + len(referrer_blobs)
            and copy.get("bytes_moved") == 0,
            f"{label}: expected {build.blobs} image blobs mounted and 0 bytes moved, got {copy or 'no copy'}",
        )
        self.expect(
            decision is not None and decision.get("target_repository") == target and decision["tags"] == [tag],
            f"{label}: expected a promotion into {target}:{tag}",
        )
        self.expect(
            digest_of(self.dev.url, target, tag) == build.digest,
            f"{label}: {target}:{tag} in the dev registry is not {build.digest}",
        )
        if decision is not None and decision.get("outcome") == "promoted":
            self.promotions.append((target, build.digest))
        return decision

    def replicate(self, expect_new: dict[str, str], expect_skipped: int | None = None) -> None:
        """Run the replication stand-in with the cdk.json prefix; check which images it shipped."""
        from devtools.replication import replicate  # noqa: PLC0415 - needs lambda_src on sys.path

        prefix = self.scenario.replication_prefix
        try:
            report = replicate(self.dev.url, self.prod.url, prefix)
        except Exception as error:
            self.expect(False, f"replication failed: {type(error).__name__}: {error}")
            return
        say(
            f"   ECR replication, PREFIX_MATCH {prefix!r} -> account {self.scenario.destination_account}: "
            f"replicates {', '.join(report.replicated_repositories) or 'nothing'}, "
            f"leaves {', '.join(report.skipped_repositories) or 'nothing'}"
        )
        for image in report.images:
            if image.error:
                say(f"     {image.repository}@{short(image.digest)}: ERROR {shorten_digests(image.error)}")
            elif image.result is not None and not image.result.already_present:
                result = image.result
                tags = shorten_digests(",".join(image.tags))
                say(
                    f"     {image.repository}:{tags} ({short(image.digest)}) -> production registry: "
                    f"{result.blobs_streamed} blobs streamed ({human_bytes(result.bytes_moved)}), "
                    f"{result.blobs_skipped} already there"
                )
        if not report.new_images and not report.errors:
            say("     nothing new to replicate")
        self.expect(not report.errors, f"replication errors: {[image.error for image in report.errors]}")
        shipped = {tag: image.digest for image in report.new_images for tag in image.tags}
        attestations, shipped = attestation.split_tags(shipped)
        self.expect(shipped == expect_new, f"replication shipped {shipped}, expected {expect_new}")
        attested = {tag for d in expect_new.values() if d in self.attested() for tag in attestation.attestation_tags(d)}
        self.expect(
            set(attestations) == attested,
            f"replication shipped the attestation tags {sorted(attestations)}, expected {sorted(attested)}",
        )
        if expect_skipped is not None:
            images_only = [i for i in report.new_images if not any(map(attestation.is_attestation_tag, i.tags))]
            skipped = sum(image.result.blobs_skipped for image in images_only if image.result is not None)
            self.expect(
                skipped == expect_skipped,
                f"replication should skip the {expect_skipped} shared layers already there, skipped {skipped}",
            )

    def attested(self) -> set[str]:
        """The digests the function promoted, hence attested."""
        return {digest for _, digest in self.promotions}

    def replicated(self, row: Row) -> str:
        """Is this image in the production registry's target repository (under its tag)?"""
        target = row.target or self.target
        if digest_of(self.prod.url, target, row.digest) != row.digest:
            return "no"
        if row.tag is not None and digest_of(self.prod.url, target, row.tag) == row.digest:
            return "yes"
        return "by digest"

    # -- the scenario, in the order things happen

    def run(self) -> None:
        dev, suites = SOURCE_REPOSITORY, self.scenario.suites
        clean = {"LOW": 2, "MEDIUM": 1}

        self.section(f"1. Developers iterate on {dev}: dev tags are never promoted")
        for name in ("build-101", "build-102"):
            build = self.push(name, name)
            decision = self.invoke(f"push event {name}", push_event(dev, build.digest, name), "ignored")
            self.record(f"{dev}:{name}", None, build, decision)

        self.section("2. build-103 is tagged v1.0.0: it waits for its scan and tests, then is promoted")
        b103 = self.push("build-103", "build-103")
        self.invoke("push event build-103", push_event(dev, b103.digest, "build-103"), "ignored")
        retag(self.dev.url, dev, b103.digest, "v1.0.0")
        say(f"   docker tag + push {dev}:v1.0.0 (the same image {short(b103.digest)}): no blob uploaded")
        self.invoke("push event v1.0.0", push_event(dev, b103.digest, "v1.0.0"), "pending")
        scan = scan_event(dev, b103.digest, clean, ["build-103", "v1.0.0"])
        self.invoke("ECR scan of v1.0.0: LOW 2, MEDIUM 1", scan, "pending")
        label, released = self.tests_pass(b103, "v1.0.0")
        decision = self.promote_step(label, released, b103, "v1.0.0")
        self.replicate({"v1.0.0": b103.digest})
        self.record(f"{dev}:v1.0.0", "v1.0.0", b103, decision)

        self.section(f"3. v1.1.0: its {suites[0]} tests FAILED, so it is rejected")
        b104 = self.push("build-104", "v1.1.0")
        self.invoke("push event v1.1.0", push_event(dev, b104.digest, "v1.1.0"), "pending")
        self.invoke("ECR scan of v1.1.0: LOW 2, MEDIUM 1", scan_event(dev, b104.digest, clean, ["v1.1.0"]), "pending")
        failed = self.ci_result(b104, suites[0], "FAILED")
        decision = self.invoke(f"CI: {suites[0]} FAILED for v1.1.0", failed, "rejected")
        self.record(f"{dev}:v1.1.0", "v1.1.0", b104, decision)

        self.section("4. v1.2.0: its tests pass but the scan finds a CRITICAL vulnerability: rejected")
        b105 = self.push("build-105", "v1.2.0")
        self.invoke("push event v1.2.0", push_event(dev, b105.digest, "v1.2.0"), "pending")
        self.invoke(*self.tests_pass(b105, "v1.2.0"), "pending")
        scan = scan_event(dev, b105.digest, {"CRITICAL": 1, "HIGH": 3}, ["v1.2.0"])
        decision = self.invoke("ECR scan of v1.2.0: CRITICAL 1, HIGH 3", scan, "rejected")
        self.record(f"{dev}:v1.2.0", "v1.2.0", b105, decision)

        self.section("5. EventBridge delivers the v1.0.0 test result a second time (at-least-once delivery)")
        decision = self.invoke(f"the same event again (id {released['id'][:8]})", released, "already-promoted")
        self.record(f"{dev}:v1.0.0 (delivered twice)", "v1.0.0", b103, decision)

        self.section("6. v1.3.0: the test result comes before the scan; the scan completes its gates")
        b106 = self.push("build-106", "v1.3.0")
        self.invoke("push event v1.3.0", push_event(dev, b106.digest, "v1.3.0"), "pending")
        self.invoke(*self.tests_pass(b106, "v1.3.0"), "pending")
        scan = scan_event(dev, b106.digest, {"LOW": 1}, ["v1.3.0"])
        decision = self.promote_step("ECR scan of v1.3.0: LOW 1", scan, b106, "v1.3.0")
        self.replicate({"v1.3.0": b106.digest}, expect_skipped=len(self.shared))
        self.record(f"{dev}:v1.3.0", "v1.3.0", b106, decision)

        self.section("7. A rebuild is pushed as v1.0.0 and passes its gates: the production tag does not move")
        b107 = self.push("build-107", "v1.0.0")
        self.invoke("push event v1.0.0 (rebuild)", push_event(dev, b107.digest, "v1.0.0"), "pending")
        scan = scan_event(dev, b107.digest, {"LOW": 1}, ["v1.0.0"])
        self.invoke("ECR scan of the rebuild: LOW 1", scan, "pending")
        decision = self.invoke(*self.tests_pass(b107, "the rebuild"), "conflict")
        self.record(f"{dev}:v1.0.0 (rebuild)", "v1.0.0", b107, decision)
        self.expect(
            decision is not None and any(b103.digest in reason for reason in decision.get("reasons") or []),
            f"the conflict should name the digest {self.target}:v1.0.0 holds ({b103.digest})",
        )

        promoted = {"v1.0.0": b103.digest, "v1.3.0": b106.digest}
        promoted |= scenes.enhanced_scanning(self, 8)
        index, built = scenes.multi_arch(self, 9)
        promoted |= index
        self.replicate({tag: promoted[tag] for tag in ("v1.5.0", "v2.0.0")})
        scenes.check_complete(self, self.prod, built, "production")
        scenes.forged_results(self, 10)
        chained = stages.chain(self, 11, self.approver_key)
        signed = scenes.signature_follows(self, 12, b103.digest)
        promoted |= signed
        self.replicate({**chained, **signed})

        operations.events_out(self, 13, self.listeners["next-pipeline"])

        self.section("14. Replication runs again; what each account's registry holds")
        self.replicate({})
        self.verify_registries({self.target: promoted, stages.PROD: chained})
        for row in self.rows:
            row.replicated = self.replicated(row)
            wanted = "yes" if row.outcome in {"promoted", "already-promoted"} else "no"
            self.expect(row.replicated == wanted, f"{row.image}: replicated? {row.replicated}, expected {wanted}")
        operations.bypass_audit(self, 15, self.listeners["security-team"])
        operations.backfill(self, 16)
        attestation.verify_in_production(self, 17, self.attestation_key, self.dev.workdir.parent)

    def verify_registries(self, expected: dict[str, dict[str, str]]) -> None:
        """Only prefix repositories reached production, each target holding exactly its promoted digests
        (target -> {tag: digest}), byte for byte the same in both registries."""
        from devtools.replication import list_repositories  # noqa: PLC0415 - needs lambda_src on sys.path

        failed_before = len(self.failures)
        prefix = self.scenario.replication_prefix
        dev_repos, prod_repos = list_repositories(self.dev.url), list_repositories(self.prod.url)
        say(f"   dev registry ({self.scenario.source_account}):        {', '.join(dev_repos)}")
        say(f"   production registry ({self.scenario.destination_account}): {', '.join(prod_repos) or 'nothing'}")
        self.expect(
            prod_repos == [repo for repo in dev_repos if repo.startswith(prefix)] == sorted(expected),
            f"the production registry should hold exactly {sorted(expected)}, it holds {prod_repos}",
        )
        stay = [repo for repo in dev_repos if not repo.startswith(prefix)]
        self.expect(
            not any(images.list_tags(self.prod.url, repo) for repo in stay),
            f"one of {stay} reached the production registry",
        )
        for target, promoted in expected.items():
            for registry, name in ((self.dev, "dev"), (self.prod, "production")):
                held = {tag: digest_of(registry.url, target, tag) for tag in images.list_tags(registry.url, target)}
                attestation.check_attestations(self, registry.url, name, target, promoted)
                held = attestation.split_tags(held)[1]
                shown = shorten_digests(", ".join(f"{tag} {short(digest)}" for tag, digest in held.items()))
                say(f"   {target} in the {name} registry: {shown or 'nothing'}")
                self.expect(held == promoted, f"{target} in the {name} registry holds {held}, expected {promoted}")
            for tag, digest in promoted.items():
                _, _, dev_bytes = images.get_manifest(self.dev.url, target, tag)
                _, _, prod_bytes = images.get_manifest(self.prod.url, target, tag)
                self.expect(
                    dev_bytes == prod_bytes and images.sha256_digest(prod_bytes) == digest,
                    f"{target}:{tag} is not byte-identical to the dev image {digest}",
                )
        if failed_before == len(self.failures):
            say(f"   {', '.join(stay)} stayed in the dev account; every target has the same digests in both")

    def leave_one_waiting(self) -> Build:
        """--keep: one more release, pushed and scanned clean, that waits for its tests (finished by hand)."""
        dev = SOURCE_REPOSITORY
        self.section(f"Left for you: v1.4.0 is pushed and scanned, and waits for its {self.scenario.suites[-1]} tests")
        build = self.push("build-108", "v1.4.0")
        self.invoke("push event v1.4.0", push_event(dev, build.digest, "v1.4.0"), "pending")
        for suite in self.scenario.suites[:-1]:
            self.invoke(f"CI: {suite} PASSED for v1.4.0", self.ci_result(build, suite, "PASSED"), "pending")
        self.invoke("ECR scan of v1.4.0: LOW 1", scan_event(dev, build.digest, {"LOW": 1}, ["v1.4.0"]), "pending")
        return build
