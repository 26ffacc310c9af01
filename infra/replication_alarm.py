"""Alarm on failed ECR replications into the destination registry (EventBridge rule → SNS and a metric alarm).

ECR emits `ECR Replication Action` in the destination registry's region when a replication completes or
fails (ECR User Guide, "Amazon ECR events and EventBridge": "The following event is sent when an image
replication fails. The `result` field will contain `FAILED`"; its `region` is the destination and
`detail.source-account` / `detail.source-region` say where the image came from). Events are best effort, so this
is an alarm, not an audit: `aws ecr describe-image-replication-status` in the source account is the record.

The rule publishes each failure (repository, digest, tag) to the topic, and the rule's `AWS/Events`
`Invocations` metric ("the number of times a target is invoked by a rule in response to an event") drives an
alarm, so the failure also shows as alarm state.
"""

from __future__ import annotations

from aws_cdk import Duration, aws_cloudwatch, aws_events, aws_events_targets
from constructs import Construct

from infra.notifications import AlarmNotifications
from promoter.contract import DetailType, Source


class ReplicationFailureAlarm(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        notifications: AlarmNotifications,
        source_account: str,
        repository_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = aws_events.Rule(
            self,
            "Failed",
            description="ecr-promoter: a replication from the source account into a promoted repository failed",
            event_pattern=aws_events.EventPattern(
                source=[Source.ECR],
                detail_type=[DetailType.REPLICATION_ACTION],
                detail={
                    # The documented failure value is FAILED; anything but SUCCESS also catches a new one.
                    "result": [{"anything-but": ["SUCCESS"]}],
                    "source-account": [source_account],
                    "repository-name": [{"prefix": repository_prefix}],
                },
            ),
        )
        detail = aws_events.EventField.from_path
        self.rule.add_target(
            aws_events_targets.SnsTopic(
                notifications.topic,
                message=aws_events.RuleTargetInput.from_text(
                    f"ECR replication FAILED: {detail('$.detail.repository-name')}@{detail('$.detail.image-digest')}"
                    f" (tag {detail('$.detail.image-tag')}) from {detail('$.detail.source-account')}/"
                    f"{detail('$.detail.source-region')} into {detail('$.account')}/{detail('$.region')}"
                ),
            )
        )
        alarm = aws_cloudwatch.Alarm(
            self,
            "Alarm",
            metric=aws_cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="Invocations",
                dimensions_map={"RuleName": self.rule.rule_name},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=aws_cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=aws_cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="ecr-promoter: a promoted image failed to replicate into this registry",
        )
        notifications.notify(alarm)
