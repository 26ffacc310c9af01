"""Where alarms go: an encrypted, TLS-only SNS topic with an optional e-mail subscriber, plus any existing topics.

`alarm_email` subscribes an address (SNS sends a confirmation mail first). Existing topics (a team's paging or
chat integration, by ARN) are added as further alarm actions: SNS cannot subscribe a topic to a topic, and an
alarm holds at most five `AlarmActions`. A topic in another account must allow
`cloudwatch.amazonaws.com` to publish, with `aws:SourceAccount` set to this account.
"""

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
    aws_sns,
    aws_sns_subscriptions,
)
from constructs import Construct

# PutMetricAlarm `AlarmActions`: at most 5 ARNs (the CloudWatch API model); one is our own topic.
MAX_EXTERNAL_TOPICS = 4


class AlarmNotifications(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        email: str | None = None,
        topic_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        if len(topic_arns) > MAX_EXTERNAL_TOPICS:
            raise ValueError(f"at most {MAX_EXTERNAL_TOPICS} alarm topic ARNs, got {len(topic_arns)}")
        stack = Stack.of(self)
        # A customer managed key: CloudWatch and EventBridge cannot publish to a topic under the AWS managed key.
        key = aws_kms.Key(
            self,
            "TopicKey",
            description="ecr-promoter: alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.grant(aws_iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
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
        if email:
            self.topic.add_subscription(aws_sns_subscriptions.EmailSubscription(email))
        self.actions: list[aws_cloudwatch.IAlarmAction] = [aws_cloudwatch_actions.SnsAction(self.topic)]
        for index, arn in enumerate(topic_arns):
            external = aws_sns.Topic.from_topic_arn(self, f"External{index}", arn)
            self.actions.append(aws_cloudwatch_actions.SnsAction(external))

    def notify(self, alarm: aws_cloudwatch.Alarm) -> None:
        """Send the alarm's ALARM state to every destination."""
        alarm.add_alarm_action(*self.actions)
