"""Lambda entry point: wire Powertools, build the services once per cold start, call `run`, respond.

Nothing else lives here: parsing and deciding are `promoter.entry.run`; metric names come from
promoter.contract so the alarms in infra/ and these metrics cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from promoter.config import Settings
from promoter.contract import OUTCOME_METRIC, Metric
from promoter.entry import run
from promoter.promotion import Report, Services
from promoter.wiring import build_services

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def _services(account_id: str | None, function_arn: str | None) -> Services:
    """Built once per execution environment; a bad policy fails the cold start loudly."""
    return build_services(replace(Settings.from_environ(os.environ), verifier_id=function_arn), account_id)


def _function_of(context: LambdaContext) -> tuple[str | None, str | None]:
    """(account id, unqualified function ARN) of the invoked function: the ARN names the attestation's verifier."""
    arn = getattr(context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    if len(parts) < 7 or not parts[4]:
        return None, None
    return parts[4], ":".join(parts[:7])  # arn:aws:lambda:region:account:function:name (no alias/version)


def _record_metrics(report: Report) -> None:
    if report.invalid_input:
        metrics.add_metric(name=Metric.INVALID_INPUT, unit=MetricUnit.Count, value=1)
    for decision in report.decisions:
        metrics.add_metric(name=OUTCOME_METRIC[decision.outcome], unit=MetricUnit.Count, value=1)
        if decision.copy is not None:
            metrics.add_metric(name=Metric.BLOBS_MOUNTED, unit=MetricUnit.Count, value=decision.copy.blobs_mounted)
            metrics.add_metric(name=Metric.BYTES_COPIED, unit=MetricUnit.Bytes, value=decision.copy.bytes_moved)
        if decision.latency_seconds is not None:
            metrics.add_metric(name=Metric.PROMOTION_LATENCY, unit=MetricUnit.Seconds, value=decision.latency_seconds)
    if report.unrecorded:
        metrics.add_metric(name=Metric.UNRECORDED_IMAGE, unit=MetricUnit.Count, value=len(report.unrecorded))


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    report = run(event, _services(*_function_of(context)), request_id=context.aws_request_id)
    _record_metrics(report)
    if report.invalid_input:
        logger.warning("unreadable input, nothing written", extra={"reason": report.error})
    for decision in report.decisions:
        logger.info("decision", extra=decision.to_dict())
    for finding in report.unrecorded:
        logger.warning("unrecorded image in a target repository", extra=finding.detail())
    return report.response()
