"""Lambda entry point: wire Powertools, parse the input, promote, respond. Nothing else lives here."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.config import Settings
from promoter.events import InvalidEvent, parse_event
from promoter.promotion import Report, Services, promote
from promoter.wiring import build_services

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_OUTCOME_METRICS = {
    "promoted": "Promoted",
    "already-promoted": "AlreadyPromoted",
    "pending": "Pending",
    "rejected": "Rejected",
    "conflict": "Conflict",
    "ignored": "Ignored",
    "dry-run": "DryRun",
}


@cache
def _services(account_id: str | None) -> Services:
    """Parsed once per execution environment; a bad policy fails the cold start loudly."""
    return build_services(Settings.from_environ(os.environ), account_id)


def _account_of(context: LambdaContext) -> str | None:
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def _record_metrics(report: Report) -> None:
    for decision in report.decisions:
        metrics.add_metric(name=_OUTCOME_METRICS[decision.outcome], unit=MetricUnit.Count, value=1)
        if decision.copy is not None:
            metrics.add_metric(name="BlobsMounted", unit=MetricUnit.Count, value=decision.copy.blobs_mounted)
            metrics.add_metric(name="BytesCopied", unit=MetricUnit.Bytes, value=decision.copy.bytes_moved)
        if decision.latency_seconds is not None:
            metrics.add_metric(name="PromotionLatency", unit=MetricUnit.Seconds, value=decision.latency_seconds)


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        command = parse_event(event, request_id=context.aws_request_id)
    except InvalidEvent as error:
        logger.warning("unreadable input, nothing written", extra={"reason": str(error)})
        metrics.add_metric(name="InvalidInput", unit=MetricUnit.Count, value=1)
        return {"decisions": [], "error": str(error)}
    report = promote(command, _services(_account_of(context)))
    _record_metrics(report)
    for decision in report.decisions:
        logger.info("decision", extra=decision.to_dict())
    return report.response()
