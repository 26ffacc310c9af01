"""Names shared by the function, the CDK stacks, the CLI and the dev tools.

A name that two of those must agree on lives here and nowhere else: renaming it here renames it for
the alarms, the CLI, the demo and the function at once. Pure constants, no imports beyond the stdlib,
so the CDK app and the CLI can import it without paying for the function's dependencies.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The `outcome` of one decision in the function's response."""

    PROMOTED = "promoted"
    ALREADY_PROMOTED = "already-promoted"
    PENDING = "pending"
    REJECTED = "rejected"
    CONFLICT = "conflict"
    IGNORED = "ignored"
    DRY_RUN = "dry-run"


class Metric(StrEnum):
    """CloudWatch metric names the function emits (namespace `METRICS_NAMESPACE`)."""

    PROMOTED = "Promoted"
    ALREADY_PROMOTED = "AlreadyPromoted"
    PENDING = "Pending"
    REJECTED = "Rejected"
    CONFLICT = "Conflict"
    IGNORED = "Ignored"
    DRY_RUN = "DryRun"
    INVALID_INPUT = "InvalidInput"
    BLOBS_MOUNTED = "BlobsMounted"
    BYTES_COPIED = "BytesCopied"
    PROMOTION_LATENCY = "PromotionLatency"
    # A digest in a target repository that the promoter did not promote (the bypass audit).
    UNRECORDED_IMAGE = "UnrecordedImage"


OUTCOME_METRIC: dict[Outcome, Metric] = {outcome: Metric[outcome.name] for outcome in Outcome}

SERVICE_NAME = "ecr-promoter"
METRICS_NAMESPACE = "EcrPromoter"


class Env(StrEnum):
    """Environment variables the stack sets on the function (and `--local` sets in-process)."""

    PROMOTION_POLICY = "PROMOTION_POLICY"
    LEDGER_TABLE = "LEDGER_TABLE"
    REGISTRY_ENDPOINT = "REGISTRY_ENDPOINT"
    EVENT_BUS = "EVENT_BUS"
    ATTESTATION_KEY = "ATTESTATION_KEY"
    # The repository policy (JSON) the function sets on target repositories it creates itself.
    TARGET_REPOSITORY_POLICY = "TARGET_REPOSITORY_POLICY"
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"


class Source(StrEnum):
    """EventBridge `source` values the function reads (and, for PROMOTER, writes)."""

    PROMOTER = "ecr-promoter"
    ECR = "aws.ecr"
    INSPECTOR = "aws.inspector2"
    CODEPIPELINE = "aws.codepipeline"
    CODEBUILD = "aws.codebuild"
    SCHEDULE = "aws.events"


class DetailType(StrEnum):
    """EventBridge `detail-type` values the function reads or writes."""

    IMAGE_ACTION = "ECR Image Action"
    IMAGE_SCAN = "ECR Image Scan"
    INSPECTOR_SCAN = "Inspector2 Scan"
    TEST_RESULT = "Image Test Result"
    PIPELINE_EXECUTION = "CodePipeline Pipeline Execution State Change"
    BUILD_STATE = "CodeBuild Build State Change"
    SCHEDULED = "Scheduled Event"
    IMAGE_PROMOTED = "Image Promoted"
    PROMOTION_REJECTED = "Promotion Rejected"
    PROMOTION_CONFLICT = "Promotion Conflict"
    UNRECORDED_IMAGE = "Unrecorded Image"
    # Sent by ECR in the destination registry when a replication completes or fails.
    REPLICATION_ACTION = "ECR Replication Action"


class SuitePrefix(StrEnum):
    """Required-suite prefixes that a CodeBuild build or a CodePipeline run passes (`codebuild:<project>`)."""

    CODEBUILD = "codebuild:"
    PIPELINE = "pipeline:"


class LedgerKey(StrEnum):
    """The ledger table's key schema: string partition key and string sort key."""

    PARTITION = "pk"
    SORT = "sk"


class StackOutput(StrEnum):
    """CloudFormation output keys of the source stack that the CLI looks up."""

    FUNCTION_NAME = "PromoterFunctionName"
    TEST_RESULT_BUS = "TestResultBusName"
    LEDGER_TABLE = "LedgerTableName"
    FAILURE_QUEUE_URL = "FailureQueueUrl"


SOURCE_STACK_NAME = "EcrPromoterSource"
DESTINATION_STACK_NAME = "EcrPromoterDestination"
