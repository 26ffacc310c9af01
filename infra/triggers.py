"""The EventBridge rules that wake the promoter: pushes, scans, pipeline successes and the reconcile schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_cdk import aws_events, aws_lambda, aws_sqs
from constructs import Construct

from infra.config import DeployConfig
from infra.delivery import invoke_promoter
from promoter.contract import DetailType, Source

RECONCILE_EVENT = {"action": "reconcile"}
# The only documented `scan-status` of `Inspector2 Scan`: the first scan of an image finished.
INSPECTOR_SCAN_COMPLETE = "INITIAL_SCAN_COMPLETE"


def repository_matchers(patterns: Iterable[str]) -> list[Any]:
    """EventBridge matchers for repository names or one-`*` globs (exact, prefix, suffix or wildcard)."""
    matchers: list[Any] = []
    for pattern in patterns:
        if "*" not in pattern:
            matchers.append(pattern)
        elif pattern.endswith("*") and pattern.count("*") == 1 and len(pattern) > 1:
            matchers.append({"prefix": pattern[:-1]})
        elif pattern.startswith("*") and pattern.count("*") == 1 and len(pattern) > 1:
            matchers.append({"suffix": pattern[1:]})
        else:
            matchers.append({"wildcard": pattern})
    return matchers


def trigger_patterns(config: DeployConfig) -> dict[str, aws_events.EventPattern]:
    """The rules' event patterns by rule id: only events about what the policy reads or requires."""
    sources = repository_matchers(config.policy.source_patterns)
    patterns: dict[str, aws_events.EventPattern] = {
        # Only successful pushes into a repository some rule reads from.
        "ImagePushed": aws_events.EventPattern(
            source=[Source.ECR],
            detail_type=[DetailType.IMAGE_ACTION],
            detail={"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": sources},
        ),
        # Basic scanning.
        "ScanCompleted": aws_events.EventPattern(
            source=[Source.ECR],
            detail_type=[DetailType.IMAGE_SCAN],
            detail={"scan-status": ["COMPLETE"], "repository-name": sources},
        ),
        # Enhanced scanning sends no `ECR Image Scan`; Amazon Inspector sends this one, with the repository
        # as an ARN ("Event for an initial image scan (enhanced scanning)", ECR user guide,
        # image-scanning-enhanced-events): matching this account's ARNs also drops other registries.
        "InspectorScanCompleted": aws_events.EventPattern(
            source=[Source.INSPECTOR],
            detail_type=[DetailType.INSPECTOR_SCAN],
            detail={
                "scan-status": [INSPECTOR_SCAN_COMPLETE],
                "repository-name": repository_matchers(
                    config.source.repository_arn(pattern) for pattern in config.policy.source_patterns
                ),
            },
        ),
    }
    # Every successful build or run of the account would wake the function: listen only to the projects and
    # pipelines that a required suite names (`codebuild:<project>`, `pipeline:<name>`), or not at all.
    suites = config.ci_suites
    if suites.pipelines:
        patterns["PipelineSucceeded"] = aws_events.EventPattern(
            source=[Source.CODEPIPELINE],
            detail_type=[DetailType.PIPELINE_EXECUTION],
            detail={"state": ["SUCCEEDED"], "pipeline": list(suites.pipelines)},
        )
    if suites.codebuild_projects:
        patterns["BuildSucceeded"] = aws_events.EventPattern(
            source=[Source.CODEBUILD],
            detail_type=[DetailType.BUILD_STATE],
            detail={"build-status": ["SUCCEEDED"], "project-name": list(suites.codebuild_projects)},
        )
    return patterns


class PromotionTriggers(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, function: aws_lambda.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        patterns = trigger_patterns(config)
        self.dead_letter_queues: list[aws_sqs.Queue] = []
        for name, pattern in patterns.items():
            rule = aws_events.Rule(self, name, event_pattern=pattern, description=f"ecr-promoter: {name}")
            self.dead_letter_queues.append(invoke_promoter(self, name, function=function, rule=rule))

        # Events are best effort: re-evaluate pending candidates on a schedule.
        reconcile = aws_events.Rule(
            self,
            "Reconcile",
            schedule=aws_events.Schedule.expression(config.reconcile_schedule),
            description="ecr-promoter: re-evaluate pending candidates",
        )
        self.dead_letter_queues.append(
            invoke_promoter(
                self,
                "Reconcile",
                function=function,
                rule=reconcile,
                event=aws_events.RuleTargetInput.from_object(RECONCILE_EVENT),
            )
        )
