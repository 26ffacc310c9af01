"""A dedicated event bus where CI systems publish `Image Test Result` events, writable only by named principals."""

from __future__ import annotations

from aws_cdk import aws_events, aws_iam, aws_lambda, aws_sqs
from constructs import Construct

from infra.config import DeployConfig
from infra.delivery import invoke_promoter
from infra.triggers import repository_matchers
from promoter.contract import DetailType, Source


class CiResultsBus(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, function: aws_lambda.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        # A bus of its own: its resource policy can admit CI principals (even from other accounts)
        # without opening the default bus, where aws.* events that gate promotions arrive.
        self.bus = aws_events.EventBus(self, "Bus", description="ecr-promoter: image test results from CI")
        self.bus.add_to_resource_policy(
            aws_iam.PolicyStatement(
                sid="CiPublishesTestResults",
                actions=["events:PutEvents"],
                principals=[aws_iam.ArnPrincipal(arn) for arn in config.ci_principals],
                resources=[self.bus.event_bus_arn],
            )
        )
        rule = aws_events.Rule(
            self,
            "TestResult",
            event_bus=self.bus,
            event_pattern=aws_events.EventPattern(
                source=[Source.PROMOTER],
                detail_type=[DetailType.TEST_RESULT],
                detail={"repository-name": repository_matchers(config.policy.source_patterns)},
            ),
            description="ecr-promoter: TestResult",
        )
        self.dead_letter_queue: aws_sqs.Queue = invoke_promoter(self, "TestResult", function=function, rule=rule)
