"""Encrypted, TLS-only SQS queues that hold what could not be processed, for an operator to inspect."""

from __future__ import annotations

from aws_cdk import Duration, aws_sqs
from constructs import Construct

from infra.nag import acknowledge


def holding_queue(scope: Construct, construct_id: str) -> aws_sqs.Queue:
    """A queue that is itself the dead-letter/failure destination (so it needs no dead-letter queue of its own)."""
    queue = aws_sqs.Queue(
        scope,
        construct_id,
        encryption=aws_sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # The maximum, so a failure noticed after a long weekend can still be replayed.
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is the dead-letter/failure destination; its messages are inspected and replayed by an operator.",
    )
    return queue
