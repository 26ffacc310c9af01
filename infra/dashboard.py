"""One CloudWatch dashboard for the promoter: what it decided, how fast, how much it copied, what went wrong.

Metric names come from `promoter.contract` (the function emits them with Powertools, dimension `service`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, aws_cloudwatch, aws_lambda, aws_sqs
from constructs import Construct

from promoter.contract import METRICS_NAMESPACE, OUTCOME_METRIC, SERVICE_NAME, Metric

PERIOD = Duration.minutes(5)
# Emitted by the bypass audit (a digest in a target repository that the promoter did not promote).
UNRECORDED_IMAGE = Metric.UNRECORDED_IMAGE
WIDTH = 12  # two widgets per row (the grid is 24 wide)
DASHBOARD_NAME = SERVICE_NAME  # dashboards are per account (all regions): one promoter per account


def promoter_metric(name: str, statistic: str = "Sum", label: str | None = None) -> aws_cloudwatch.Metric:
    return aws_cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


class PromoterDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: aws_lambda.IFunction,
        queues: Sequence[aws_sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        outcomes = aws_cloudwatch.GraphWidget(
            title="Promotions by outcome",
            left=[promoter_metric(metric, label=outcome.value) for outcome, metric in OUTCOME_METRIC.items()],
            stacked=True,
            width=WIDTH,
        )
        latency = aws_cloudwatch.GraphWidget(
            title="Promotion latency (p50, p95)",
            left=[
                promoter_metric(Metric.PROMOTION_LATENCY, "p50", "p50"),
                promoter_metric(Metric.PROMOTION_LATENCY, "p95", "p95"),
            ],
            width=WIDTH,
        )
        copied = aws_cloudwatch.GraphWidget(
            title="Zero-copy: blobs mounted vs bytes streamed",
            left=[promoter_metric(Metric.BLOBS_MOUNTED, label="blobs mounted")],
            right=[promoter_metric(Metric.BYTES_COPIED, label="bytes copied")],
            width=WIDTH,
        )
        failures = aws_cloudwatch.GraphWidget(
            title="Failures",
            left=[
                function.metric_errors(period=PERIOD, statistic="Sum", label="function errors"),
                function.metric_throttles(period=PERIOD, statistic="Sum", label="throttles"),
                promoter_metric(Metric.INVALID_INPUT, label="unreadable input"),
                promoter_metric(Metric.CONFLICT, label="tag conflicts"),
            ],
            width=WIDTH,
        )
        queue_depth = aws_cloudwatch.GraphWidget(
            title="Waiting in failure / dead-letter queues",
            left=[
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum", label=queue.node.id
                )
                for queue in queues
            ],
            width=WIDTH,
        )
        unrecorded = aws_cloudwatch.GraphWidget(
            title="Unrecorded images in target repositories (not promoted by ecr-promoter)",
            left=[promoter_metric(UNRECORDED_IMAGE, label="unrecorded images")],
            width=WIDTH,
        )
        self.dashboard = aws_cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=DASHBOARD_NAME,
            default_interval=Duration.days(7),
            widgets=[[outcomes, latency], [copied, failures], [queue_depth, unrecorded]],
        )
