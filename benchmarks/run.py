"""`make bench`: ecr-promoter's copy against `skopeo copy` on real local registries, and the Lambda cold start.

    python -m benchmarks.run [--publish] [--runs N] [--shapes-only] [--no-burst]

Writes the report to `.bench/report.md` (untracked) so a run leaves the tree clean; `--publish`
(`make bench-publish`) writes BENCHMARKS.md instead, on purpose. Modules: `shapes` (the images),
`runners` (contestants and how a copy is measured), `crossshapes` (the per-shape comparison on fresh
registries), `attestcost` (mount path cold/warm, attestation cost), `release_burst` (200 promotions at a
PutImage-like rate, about 2-3 minutes; `--no-burst` skips it for quick runs), `coldstart` (imports,
asset), `issue18` (burst section, issue-18 goals), `report` (Markdown).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import attestcost, issue18
from benchmarks.coldstart import asset_zip_size, heaviest_imports, import_times
from benchmarks.crossshapes import ShapeResult, compare, report_lines
from benchmarks.release_burst import BurstResult, burst
from benchmarks.report import header_lines, machine, render
from benchmarks.runners import LAMBDA_SRC, ROOT, SKOPEO, Bench, Scenario
from benchmarks.shapes import BIG, CROSS_SHAPES, EVEN, INDEX
from devtools.localregistry import start_registry

PUBLISHED = ROOT / "BENCHMARKS.md"
UNTRACKED = ROOT / ".bench" / "report.md"
DEFAULT_RUNS = 5


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--publish", action="store_true", help=f"write {PUBLISHED.name} (default: {UNTRACKED})")
    parser.add_argument(
        "--runs",
        type=int,
        default=int(os.environ.get("BENCH_RUNS", DEFAULT_RUNS)),
        help=f"runs per figure, at least 3 (default {DEFAULT_RUNS}, or BENCH_RUNS)",
    )
    parser.add_argument(
        "--shapes-only", action="store_true", help="only the cross-registry comparison by image shape (quicker)"
    )
    parser.add_argument(
        "--no-burst", action="store_true", help="skip the release burst (2-3 minutes): a quicker, partial report"
    )
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3: a median and a spread need three runs")
    if args.publish and args.shapes_only:
        parser.error("--publish writes the whole report: drop --shapes-only")
    if args.publish and args.no_burst:
        parser.error("--publish writes the whole report: drop --no-burst")
    return args


def _shapes(runs: int, workdir: Path) -> list[ShapeResult]:
    print("cross-registry copy by image shape (fresh registries per run)", flush=True)
    return [compare(shape, runs, workdir) for shape in CROSS_SHAPES]


def _burst(skip: bool) -> list[BurstResult] | None:
    if skip:
        return None
    print(
        f"release burst: {issue18.BURST_IMAGES} promotions at {issue18.BURST_RATE:g} PUT/s, "
        f"concurrency {', '.join(map(str, issue18.BURST_CONCURRENCY))}",
        flush=True,
    )
    return burst(issue18.BURST_IMAGES, list(issue18.BURST_CONCURRENCY), issue18.BURST_RATE, progress=True)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.perf_counter()
    load_at_start = " ".join(f"{value:.1f}" for value in os.getloadavg())
    if not Path(SKOPEO).exists():
        print("skopeo is missing: run scripts/bootstrap.sh --with-skopeo", file=sys.stderr)
        return 1
    if str(LAMBDA_SRC) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SRC))  # the in-process figures import the engine
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-bench-"))
    workdir.chmod(0o711)  # skopeo may run as nobody (see Bench.skopeo_home) and must reach its HOME
    try:
        shapes = _shapes(args.runs, workdir)
        shape_section = report_lines(shapes)
        if args.shapes_only:
            info = {**machine(), "load_start": load_at_start}
            report = "\n".join([*header_lines(info, args.runs, time.perf_counter() - started), *shape_section])
            return _write(report, UNTRACKED, [])
        bench = Bench(workdir, args.runs)
        for index in range(args.runs):
            with start_registry() as a, start_registry() as b:
                bench.start_run(index, a, b)
                print(f"run {index + 1}: new registries A={a.url} B={b.url}; pushing the images", flush=True)
                images = {
                    shape.label: bench.register(shape.push(a.url, f"bench/{name}"))
                    for shape, name in ((EVEN, "app"), (INDEX, "multi"), (BIG, "big"))
                }
                bench.warm_up(images[INDEX.label])
                for shape in (EVEN, INDEX):
                    for path in ("same", "cross", "rerun"):
                        scenario = Scenario(shape.label, images[shape.label], path)
                        bench.scenario(scenario, no_referrers_variant=shape is EVEN and path == "same")
                bench.scenario(Scenario(BIG.label, images[BIG.label], "cross"), skopeo_warm=False)
                for shape in (EVEN, BIG):
                    bench.floor(shape.label, images[shape.label])
        floors = bench.finish()
        print("ingest floor: " + ", ".join(f"{k}: {v.text()} s" for k, v in floors.items()), flush=True)
        print("import times", flush=True)
        imports = import_times(args.runs)
        heavy = heaviest_imports()
        asset = asset_zip_size()
        print("mount path and attestation cost (in-process, fresh registry per run)", flush=True)
        cost = attestcost.measure(args.runs)
        bursts = _burst(args.no_burst)
        info = {**machine(), "load_start": load_at_start}
        elapsed = time.perf_counter() - started
        goal_section, goals18 = issue18.goal_lines(bursts, shapes, cost)
        sections = [
            *goal_section,
            *(issue18.burst_lines(bursts) if bursts is not None else []),
            *shape_section,
            *attestcost.report_lines(cost),
        ]
        report, goals = render(bench, images, floors, imports, heavy, asset, info, elapsed, sections)
        goals = goals18 + goals
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _write(report, PUBLISHED if args.publish else UNTRACKED, goals)


def _write(report: str, output: Path, goals: list[tuple[str, bool | None]]) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    print()
    print(report)
    judged = [ok for _, ok in goals if ok is not None]
    print(f"wrote {output.relative_to(ROOT)}" + (f"; goals met {sum(judged)}/{len(judged)}" if judged else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
