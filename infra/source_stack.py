"""Source account (dev): the promoter, its triggers, ledger and alarms, write-protected targets, replication."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Environment, Stack
from constructs import Construct

from infra.alarms import PromoterAlarms
from infra.ci_results_bus import CiResultsBus
from infra.config import DeployConfig
from infra.ledger import LedgerTable
from infra.promoter_function import PromoterFunction
from infra.registry_settings import SourceRegistrySettings
from infra.repositories import ImageRepositories
from infra.target_protection import TargetWriteProtection
from infra.triggers import PromotionTriggers
from promoter.contract import StackOutput


class SourceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: DeployConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.source.account, region=config.source.region),
            description="ecr-promoter: gated promotion into replicated repositories (source account)",
            **kwargs,
        )
        ledger = LedgerTable(self, "Ledger")
        promoter = PromoterFunction(self, "Promoter", config=config, ledger=ledger.table)
        triggers = PromotionTriggers(self, "Triggers", config=config, function=promoter.function)
        results = CiResultsBus(self, "CiResults", config=config, function=promoter.function)
        PromoterAlarms(
            self,
            "Alarms",
            function=promoter.function,
            queues=[promoter.failure_queue, *triggers.dead_letter_queues, results.dead_letter_queue],
            alarm_email=config.alarm_email,
            alarm_topic_arns=config.alarm_topic_arns,
        )
        # Merged with the registry's own replication rules; BLOB_MOUNTING goes back to its prior value on delete.
        SourceRegistrySettings(
            self,
            "RegistrySettings",
            prefix=config.replication_prefix,
            destination_account=config.destination.account,
            destination_region=config.destination.region,
        )
        protection = TargetWriteProtection(self, "TargetProtection", config=config, promoter=promoter)
        # Named targets are always the stack's (write-protected); named sources only as a demo convenience.
        ImageRepositories(
            self,
            "ReferenceRepositories",
            mutable=config.named_sources if config.create_reference_repositories else (),
            immutable=config.created_targets,
            policy=protection.statements,
        )

        # What the operator CLI (`python -m promoter … `) reads from the stack.
        CfnOutput(self, StackOutput.FUNCTION_NAME, value=promoter.function.function_name)
        CfnOutput(self, StackOutput.TEST_RESULT_BUS, value=results.bus.event_bus_name)
        CfnOutput(self, StackOutput.LEDGER_TABLE, value=ledger.table.table_name)
        CfnOutput(self, StackOutput.FAILURE_QUEUE_URL, value=promoter.failure_queue.queue_url)
