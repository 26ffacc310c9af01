"""The release-burst section of the report and the goals of issue 18, judged on figures of the same run.

Why a module of its own: `make bench` puts the burst table, the per-shape copy table and the mount-path
figures side by side, and the goals must be judged from exactly those rows, never from another run.
"""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.attestcost import GOAL_MOUNT_WARM, AttestationCost
from benchmarks.crossshapes import GOAL_VS_FLOOR, GOAL_VS_SKOPEO, ShapeResult
from benchmarks.release_burst import BurstResult, table

BURST_IMAGES = 200
BURST_CONCURRENCY = (2, 5, 10)
BURST_RATE = 5.0  # manifest PUTs let through per second by the local quota proxy
GOAL_BURST_VS_FLOOR = 1.25  # issue 18: burst total ≤ 1.25 x the quota floor, 0 failures


def burst_ok(result: BurstResult) -> bool:
    return (
        result.total_s <= GOAL_BURST_VS_FLOOR * result.floor_s
        and result.failures == 0
        and result.duplicates == 0
        and result.wrong_targets == 0
    )


def _deployed_concurrency() -> str:
    """The stack's reserved concurrency as cdk.json sets it (through the one reader of cdk.json)."""
    from infra.config import load_deploy_config

    value = load_deploy_config().reserved_concurrency
    return "unreserved" if value is None else str(value)


def burst_lines(results: Sequence[BurstResult]) -> list[str]:
    """The burst table with the quota it stands for, stated as far as it could be checked."""
    rate = results[0].rate if results else BURST_RATE
    images = results[0].images if results else BURST_IMAGES
    stack = _deployed_concurrency()
    passing = [str(r.concurrency) for r in results if burst_ok(r)]
    return [
        "## Release burst (issue 18.1)",
        "",
        f"{images} distinct images promoted by C concurrent handler processes (C = the reserved concurrency under",
        "test; `build_services` + `promoter.entry.handle`, real registry, DynamoDB on a moto server), behind a",
        f"proxy that lets manifest PUTs through at {rate:g} per second (token bucket, one second of burst) and",
        "answers the rest 429 with `Retry-After`. A promotion that fails is redelivered up to twice (Lambda's",
        "async retries); *failures* are the ones that would reach the failure queue. *Floor*: N ÷ rate. The",
        "bucket starts full, so the first `rate` PUTs pass at once and the hard minimum is (N - rate) ÷ rate: a",
        "ratio just under 1.00 is the quota, not a measurement error. One burst per setting; p50/p95 are over",
        "its promotions.",
        "",
        "What the local rate stands for: ECR limits `PutImage` per account and Region (the ECR service-quotas",
        "page, docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html, lists rate quotas per API).",
        "The default `PutImage` figure could not be confirmed from here, so none is quoted; the local rate is",
        f"a scaled stand-in ({rate:g}/s), and the result is read as a ratio to the floor, which scales with any",
        "rate: at a quota of R per second the floor of N promotions is N ÷ R. The ratio carries over to another",
        "R only while C concurrent promotions can outpace it (about C ÷ p50 > R).",
        "",
        table(list(results)),
        "",
        f"The stack's reserved concurrency (cdk.json `reserved_concurrency`): {stack}. Within"
        f" {GOAL_BURST_VS_FLOOR} x the floor with 0 failures and 0 duplicates in this run: C ="
        f" {', '.join(passing) or 'none'}.",
        "",
    ]


def goal_lines(
    bursts: Sequence[BurstResult] | None, shapes: Sequence[ShapeResult], cost: AttestationCost
) -> tuple[list[str], list[tuple[str, bool | None]]]:
    """The issue-18 goals table; `bursts` None when the burst was skipped (`--no-burst`)."""
    goals: list[tuple[str, str, bool | None]] = []
    if bursts is None:
        goals.append((f"burst ≤ {GOAL_BURST_VS_FLOOR} x quota floor, 0 failures", "not run (--no-burst)", None))
    for burst in bursts or ():
        goals.append(
            (
                f"burst C={burst.concurrency}: total ≤ {GOAL_BURST_VS_FLOOR} x quota floor, 0 failures, 0 duplicates",
                f"{burst.total_s / burst.floor_s:.2f} x ({burst.total_s:.1f} s vs {burst.floor_s:.1f} s); "
                f"{burst.failures} failures, {burst.duplicates} duplicates",
                burst_ok(burst),
            )
        )
    for shape in shapes:
        label = shape.shape.label
        goals.append(
            (
                f"cross registry, {label}: ≤ {GOAL_VS_SKOPEO} x cold skopeo",
                f"{shape.vs_skopeo.text(2)} x",
                shape.meets_skopeo_goal,
            )
        )
        goals.append(
            (
                f"cross registry, {label}: ≤ {GOAL_VS_FLOOR} x ingest floor",
                f"{shape.vs_floor.text(2)} x",
                shape.meets_floor_goal,
            )
        )
    goals.append(
        (
            f"mount path: ≤ {GOAL_MOUNT_WARM} requests per promotion, warm process",
            f"{cost.mount_warm.requests.text(0)} (cold {cost.mount_cold.requests.text(0)})",
            cost.meets_mount_goal,
        )
    )
    lines = [
        "## Goals (issue 18)",
        "",
        "Judged on the median of the runs of this report (spread in brackets, min-max); a goal is met only when",
        "its median is within it.",
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        *(f"| {goal} | {measured} | {'—' if ok is None else '✓' if ok else '✗'} |" for goal, measured, ok in goals),
        "",
    ]
    return lines, [(goal, ok) for goal, _, ok in goals]
