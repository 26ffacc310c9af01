"""The registry's replication rule: only repositories named with the replication prefix go to the destination.

Superseded by `infra.registry_settings.SourceRegistrySettings` (merges instead of replacing); this module
goes once `infra/source_stack.py` uses that.
"""

from __future__ import annotations

from aws_cdk import aws_ecr
from constructs import Construct

from infra.config import AccountRegion


class ReplicationRule(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str, destination: AccountRegion) -> None:
        super().__init__(scope, construct_id)
        # One per registry: deploying it replaces any replication configuration set by hand.
        # ECR can filter only by repository-name prefix, which is why promotion copies into `prod-…`.
        aws_ecr.CfnReplicationConfiguration(
            self,
            "Configuration",
            replication_configuration=aws_ecr.CfnReplicationConfiguration.ReplicationConfigurationProperty(
                rules=[
                    aws_ecr.CfnReplicationConfiguration.ReplicationRuleProperty(
                        destinations=[
                            aws_ecr.CfnReplicationConfiguration.ReplicationDestinationProperty(
                                region=destination.region, registry_id=destination.account
                            )
                        ],
                        repository_filters=[
                            aws_ecr.CfnReplicationConfiguration.RepositoryFilterProperty(
                                filter=prefix, filter_type="PREFIX_MATCH"
                            )
                        ],
                    )
                ]
            ),
        )
