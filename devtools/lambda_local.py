"""What running the Lambda handler outside Lambda needs: a context object and the ledger table."""

from __future__ import annotations

import logging
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


@dataclass
class LocalLedger:
    """A moto server on loopback holding the ledger table: DynamoDB for processes that are not this one
    (the `--local` CLI commands of a kept demo), reached through AWS_ENDPOINT_URL."""

    endpoint: str
    table: str
    region: str
    server: Any

    def stop(self) -> None:
        self.server.stop()


def start_local_ledger(region: str, table: str = LEDGER_TABLE) -> LocalLedger:
    """Start a moto server on a free loopback port and create the ledger table in it."""
    import boto3  # noqa: PLC0415 - only the demo and tests that need a server pay for boto3 and moto
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from devtools.localregistry import free_port  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client(
            "dynamodb",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )
        create_ledger_table(client, table)
    except BaseException:
        server.stop()
        raise
    return LocalLedger(endpoint, table, region, server)
