"""Compose the CDK app: validated config → source and destination stacks, checked by cdk-nag."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, App, Tags

from infra.config import DeployConfig
from infra.destination_stack import DestinationStack
from infra.nag import check_with_nag
from infra.source_stack import SourceStack
from promoter.contract import DESTINATION_STACK_NAME, SERVICE_NAME, SOURCE_STACK_NAME

# Short aliases the tests import; the names themselves live in the contract (the CLI looks stacks up by them).
SOURCE_STACK = SOURCE_STACK_NAME
DESTINATION_STACK = DESTINATION_STACK_NAME
CONFIG_WARNING_ID = "ecr-promoter:config"


@dataclass(frozen=True)
class Deployment:
    config: DeployConfig
    source: SourceStack
    destination: DestinationStack


def build(app: App) -> Deployment:
    """Add both stacks to `app`; raise ConfigError/PolicyError before creating anything when cdk.json is wrong."""
    config = DeployConfig.from_context(app.node.get_all_context())
    source = SourceStack(app, SOURCE_STACK, config=config)
    destination = DestinationStack(app, DESTINATION_STACK, config=config, alarm_topic_arns=config.alarm_topic_arns)
    # Replication creates a missing `prod-…` repository with default (mutable, unscanned) settings, and the
    # destination stack would then fail with AlreadyExists: its repositories must exist before anything replicates.
    source.add_stack_dependency(destination, "the destination's prod- repositories exist before anything replicates")
    for warning in config.warnings:
        # Recorded in the cloud assembly (the CDK CLI prints it); app.py prints it for plain `python app.py`.
        Annotations.of(source).add_warning_v2(CONFIG_WARNING_ID, warning)
    Tags.of(app).add("project", SERVICE_NAME)
    check_with_nag(app)
    return Deployment(config=config, source=source, destination=destination)
