"""What running the Lambda handler outside Lambda needs: a context object and the ledger table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

LEDGER_TABLE = "ecr-promoter-ledger"


@dataclass
class FakeContext:
    """The attributes of a Lambda context that Powertools and the handler read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "ecr-promoter"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-west-2:111122223333:function:ecr-promoter"
    log_group_name: str = "/aws/lambda/ecr-promoter"
    log_stream_name: str = "local"


def create_ledger_table(client: Any, name: str = LEDGER_TABLE) -> None:
    """The ledger's key schema as the CDK stack deploys it: string `pk`/`sk`, on demand."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
