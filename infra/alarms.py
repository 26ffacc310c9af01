"""Alarms an operator must see (function errors, waiting failure queues, tag conflicts, unrecorded images),
sent to the notification topic (and any existing topics), and the promoter's dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, aws_cloudwatch, aws_lambda, aws_sqs
from constructs import Construct

from infra.dashboard import UNRECORDED_IMAGE, PromoterDashboard, promoter_metric
from infra.notifications import AlarmNotifications
from promoter.contract import Metric

PERIOD = Duration.minutes(5)


class PromoterAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: aws_lambda.IFunction,
        queues: Sequence[aws_sqs.IQueue],
        alarm_email: str | None,
        alarm_topic_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.notifications = AlarmNotifications(self, "Notifications", email=alarm_email, topic_arns=alarm_topic_arns)
        self.topic = self.notifications.topic
        self.dashboard = PromoterDashboard(self, "Dashboard", function=function, queues=queues)

        self._alarm(
            "FunctionErrors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            "the promoter failed (transient faults raise: Lambda retries, then the failure queue keeps the event)",
        )
        self._alarm(
            "TagConflicts",
            promoter_metric(Metric.CONFLICT),
            "a target tag already holds another digest: the image was not promoted",
        )
        self._alarm(
            "UnrecordedImages",
            promoter_metric(UNRECORDED_IMAGE),
            "a target repository holds an image the promoter did not promote (a push that bypassed the gates)",
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
        self.notifications.notify(alarm)
