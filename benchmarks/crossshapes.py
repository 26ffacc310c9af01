"""The cross-registry copy by image shape (issue 18): ecr-promoter against cold skopeo and against the
target registry's own ingest floor, on fresh registries for every run.

Fresh registries because a registry's storage remembers: a blob another repository already holds is
linked, not written, and a filled data directory is slower to walk. Every run starts a new source registry
(the image pushed into it) and a new, empty target registry per contestant; the contestants take turns in
alternating order. Each figure is the median of the runs with its spread (min-max); ratios are computed per
run (same source, same load) and then summarised the same way.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.blobs import Image, upload_parallel
from benchmarks.measure import Spread, TrafficMeter, run_process
from benchmarks.runners import ROOT, check, promoter_copy, skopeo_copy, skopeo_home
from benchmarks.shapes import Shape
from devtools.localregistry import LocalRegistry, start_registry

PROMOTER, SKOPEO_COLD, FLOOR = "ecr-promoter", "skopeo (cold cache)", "ingest floor"
CONTESTANTS = (PROMOTER, SKOPEO_COLD, FLOOR)
GOAL_VS_SKOPEO = 0.85  # issue 18: cross-registry ≤ 0.85 x skopeo on every image shape
GOAL_VS_FLOOR = 1.5  # ... and ≤ 1.5 x the target registry's ingest floor
__all__ = ["ShapeResult", "Spread", "compare", "report_lines"]


@dataclass(frozen=True)
class Sample:
    seconds: float
    requests: int = 0
    rss_mb: float = 0.0


@dataclass(frozen=True)
class ShapeResult:
    shape: Shape
    runs: int
    seconds: dict[str, Spread]  # contestant -> wall time
    vs_skopeo: Spread  # ecr-promoter / skopeo, per run
    vs_floor: Spread  # ecr-promoter / floor, per run
    skopeo_vs_floor: Spread
    promoter_requests: float
    promoter_rss_mb: float

    @property
    def meets_skopeo_goal(self) -> bool:
        return self.vs_skopeo.median <= GOAL_VS_SKOPEO

    @property
    def meets_floor_goal(self) -> bool:
        return self.vs_floor.median <= GOAL_VS_FLOOR


def _one_copy(contestant: str, source: LocalRegistry, image: Image, workdir: Path) -> Sample:
    """One contestant copies `image` from `source` into a new, empty target registry."""
    with start_registry() as target:
        repo = "bench/copy"
        if contestant == FLOOR:
            started = time.perf_counter()
            upload_parallel(target.url, repo, image.blobs)
            return Sample(time.perf_counter() - started)
        if contestant == PROMOTER:
            argv, env = promoter_copy(source, image, target, repo)
        else:
            argv, env = skopeo_copy(source, image, target, repo, skopeo_home(workdir, "skopeo-cold-"))
        meter = TrafficMeter([source, target], {blob.digest: blob.size for blob in image.blobs})
        meter.start()
        result = run_process(argv, env, cwd=str(ROOT))
        traffic = meter.stop()
        check(result, argv)
        return Sample(result.seconds, traffic.requests, result.max_rss_kib * 1024 / 1e6)


def compare(shape: Shape, runs: int, workdir: Path, progress: Callable[[str], None] = print) -> ShapeResult:
    """`runs` rounds of every contestant on `shape`, fresh registries each time."""
    samples: dict[str, list[Sample]] = {name: [] for name in CONTESTANTS}
    for index in range(runs):
        with start_registry() as source:
            image = shape.push(source.url, "bench/shape")
            order = CONTESTANTS if index % 2 == 0 else CONTESTANTS[::-1]
            for contestant in order:
                samples[contestant].append(_one_copy(contestant, source, image, workdir))
    seconds = {name: [sample.seconds for sample in samples[name]] for name in CONTESTANTS}
    result = ShapeResult(
        shape=shape,
        runs=runs,
        seconds={name: Spread.of(values) for name, values in seconds.items()},
        vs_skopeo=Spread.of(p / s for p, s in zip(seconds[PROMOTER], seconds[SKOPEO_COLD], strict=True)),
        vs_floor=Spread.of(p / f for p, f in zip(seconds[PROMOTER], seconds[FLOOR], strict=True)),
        skopeo_vs_floor=Spread.of(s / f for s, f in zip(seconds[SKOPEO_COLD], seconds[FLOOR], strict=True)),
        promoter_requests=float(statistics.median(sample.requests for sample in samples[PROMOTER])),
        promoter_rss_mb=float(statistics.median(sample.rss_mb for sample in samples[PROMOTER])),
    )
    progress(
        f"  {shape.label:<28} ecr-promoter {result.seconds[PROMOTER].text()} s, "
        f"skopeo {result.seconds[SKOPEO_COLD].text()} s, floor {result.seconds[FLOOR].text()} s"
    )
    return result


def report_lines(results: list[ShapeResult]) -> list[str]:
    """The Markdown section for BENCHMARKS.md / .bench/report.md."""
    runs = results[0].runs if results else 0
    mark = {True: "✓", False: "✗"}
    lines = [
        "## Cross-registry copy by image shape (issue 18)",
        "",
        f"Median of {runs} runs (min-max). Every run: a new source registry with the image pushed into it, and a",
        "new, empty target registry for each contestant, in alternating order. Ratios are taken per run, then",
        "summarised. *Floor*: the image's blobs uploaded straight into the empty target, one thread per blob, no",
        f"download. Goals: ≤ {GOAL_VS_SKOPEO} x cold skopeo and ≤ {GOAL_VS_FLOOR} x the floor on every shape.",
        "",
        "| image | MB | ecr-promoter s | skopeo cold s | floor s | x skopeo | x floor | skopeo x floor "
        "| requests | peak RSS MB | goals |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        goals = f"skopeo {mark[result.meets_skopeo_goal]}, floor {mark[result.meets_floor_goal]}"
        lines.append(
            f"| {result.shape.label} | {result.shape.total_bytes / 1e6:.1f} "
            f"| {result.seconds[PROMOTER].text()} | {result.seconds[SKOPEO_COLD].text()} "
            f"| {result.seconds[FLOOR].text()} | {result.vs_skopeo.text(2)} | {result.vs_floor.text(2)} "
            f"| {result.skopeo_vs_floor.text(2)} | {result.promoter_requests:.0f} | {result.promoter_rss_mb:.1f} "
            f"| {goals} |"
        )
    return [*lines, ""]
