"""AWS-shaped events (the shapes of events/*.json) for the demo and the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "111122223333"
REGION = "us-west-2"


def _envelope(source: str, detail_type: str, detail: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def push_event(repository: str, digest: str, tag: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    detail = {"result": "SUCCESS", "repository-name": repository, "image-digest": digest, "action-type": "PUSH"}
    if tag:
        detail["image-tag"] = tag
    return _envelope("aws.ecr", "ECR Image Action", detail, at)


def scan_event(
    repository: str, digest: str, counts: dict[str, int], tags: list[str] | None = None, at: datetime | None = None
) -> dict[str, Any]:
    detail = {
        "scan-status": "COMPLETE",
        "repository-name": repository,
        "image-digest": digest,
        "image-tags": tags or [],
        "finding-severity-counts": counts,
    }
    return _envelope("aws.ecr", "ECR Image Scan", detail, at)


def inspector_scan_event(
    repository: str,
    digest: str,
    counts: dict[str, int],
    tags: list[str] | None = None,
    at: datetime | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """Amazon Inspector's `Inspector2 Scan` (enhanced scanning): the repository is named by its ARN and
    the counts carry a TOTAL (tests/fixtures/aws_events/inspector2-scan-enhanced.json)."""
    arn = f"arn:aws:ecr:{REGION}:{account}:repository/{repository}"
    detail = {
        "scan-status": "INITIAL_SCAN_COMPLETE",
        "repository-name": arn,
        "finding-severity-counts": {**counts, "TOTAL": sum(counts.values())},
        "image-digest": digest,
        "image-tags": tags or [],
    }
    event = _envelope("aws.inspector2", "Inspector2 Scan", detail, at)
    event["account"], event["resources"] = account, [arn]
    return event


def ci_result_event(
    repository: str,
    digest: str,
    suite: str,
    result: str,
    run_url: str | None = None,
    at: datetime | None = None,
    attestation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`Image Test Result`; `attestation` is the DSSE envelope of a signed result (policy trust.test_results)."""
    detail: dict[str, Any] = {"repository-name": repository, "image-digest": digest, "suite": suite, "result": result}
    if run_url:
        detail["run-url"] = run_url
    if attestation is not None:
        detail["attestation"] = attestation
    return _envelope("ecr-promoter", "Image Test Result", detail, at)


def codebuild_event(project: str, source_version: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    detail = {
        "build-status": status,
        "project-name": project,
        "additional-information": {"source-version": source_version},
    }
    return _envelope("aws.codebuild", "CodeBuild Build State Change", detail, None)


def codepipeline_event(pipeline: str, execution_id: str, state: str = "SUCCEEDED") -> dict[str, Any]:
    detail = {"pipeline": pipeline, "execution-id": execution_id, "state": state, "version": 1}
    return _envelope("aws.codepipeline", "CodePipeline Pipeline Execution State Change", detail, None)


def schedule_event() -> dict[str, Any]:
    return _envelope("aws.events", "Scheduled Event", {}, None)
