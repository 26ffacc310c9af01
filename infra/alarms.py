"""Alarms an operator must see (function errors, messages waiting in failure queues, tag conflicts) → SNS."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import (
    Duration,
    RemovalPolicy,
    Stack,
    aws_cloudwatch,
    aws_cloudwatch_actions,
    aws_iam,
    aws_kms,
    aws_lambda,
    aws_sns,
    aws_sns_subscriptions,
    aws_sqs,
)
from constructs import Construct

from infra.promoter_function import METRICS_NAMESPACE, SERVICE_NAME

PERIOD = Duration.minutes(5)
# The promoter emits one `Conflict` per target tag that holds another digest (Powertools adds `service`).
CONFLICT_METRIC = "Conflict"


class PromoterAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: aws_lambda.IFunction,
        queues: Sequence[aws_sqs.IQueue],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # A customer managed key: CloudWatch cannot publish to a topic under the AWS managed aws/sns key.
        key = aws_kms.Key(
            self,
            "TopicKey",
            description="ecr-promoter: alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.grant(aws_iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = aws_sns.Topic(self, "Topic", display_name="ecr-promoter alarms", master_key=key, enforce_ssl=True)
        # The topic policy replaces the default one, so admit this account's alarms explicitly.
        self.topic.add_to_resource_policy(
            aws_iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[aws_iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="cloudwatch", resource="alarm:*")},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(aws_sns_subscriptions.EmailSubscription(alarm_email))

        self._alarm(
            "FunctionErrors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            "the promoter failed (transient faults raise: Lambda retries, then the failure queue keeps the event)",
        )
        self._alarm(
            "TagConflicts",
            aws_cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=CONFLICT_METRIC,
                dimensions_map={"service": SERVICE_NAME},
                statistic="Sum",
                period=PERIOD,
            ),
            "a target tag already holds another digest: the image was not promoted",
        )
        for queue in queues:
            self._alarm(
                f"{queue.node.id}Waiting",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"events wait in {queue.node.path}: inspect and replay them",
            )

    def _alarm(self, construct_id: str, metric: aws_cloudwatch.IMetric, meaning: str) -> None:
        alarm = aws_cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=aws_cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=aws_cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"ecr-promoter: {meaning}",
        )
        alarm.add_alarm_action(aws_cloudwatch_actions.SnsAction(self.topic))
