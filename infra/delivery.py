"""EventBridge → promoter delivery: bounded retries, and a dead-letter queue per rule for what still fails."""

from __future__ import annotations

from aws_cdk import Duration, aws_events, aws_events_targets, aws_lambda, aws_sqs
from constructs import Construct

from infra.queues import holding_queue

# EventBridge retries delivery (throttling, function unavailable) for up to a day; after that the event
# lands in the rule's own dead-letter queue, so a failure points at the rule that lost it.
DELIVERY_RETRY_ATTEMPTS = 8
DELIVERY_MAX_EVENT_AGE = Duration.hours(24)


def invoke_promoter(
    scope: Construct,
    construct_id: str,
    *,
    function: aws_lambda.IFunction,
    rule: aws_events.Rule,
    event: aws_events.RuleTargetInput | None = None,
) -> aws_sqs.Queue:
    """Make `rule` invoke `function`; return the rule's dead-letter queue."""
    dead_letters = holding_queue(scope, f"{construct_id}DeadLetters")
    rule.add_target(
        aws_events_targets.LambdaFunction(
            function,
            event=event,
            dead_letter_queue=dead_letters,
            retry_attempts=DELIVERY_RETRY_ATTEMPTS,
            max_event_age=DELIVERY_MAX_EVENT_AGE,
        )
    )
    return dead_letters
