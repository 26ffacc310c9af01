"""The ledger table: evidence, decisions and pending work of the promoter (`promoter.ledger`)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_dynamodb
from constructs import Construct

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"


class LedgerTable(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = aws_dynamodb.Table(
            self,
            "Table",
            partition_key=aws_dynamodb.Attribute(name=PARTITION_KEY, type=aws_dynamodb.AttributeType.STRING),
            sort_key=aws_dynamodb.Attribute(name=SORT_KEY, type=aws_dynamodb.AttributeType.STRING),
            # Promotions come in bursts after pipeline runs and are idle otherwise.
            billing_mode=aws_dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=aws_dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Pending candidates expire on their own (promoter.ledger.PENDING_TTL).
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=aws_dynamodb.TableEncryption.AWS_MANAGED,
            # The audit trail outlives the stack: `make destroy` lists it and how to delete it by hand.
            removal_policy=RemovalPolicy.RETAIN,
        )
