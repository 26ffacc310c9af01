"""Checks of the benchmark's own machinery (not of the product's speed): `pytest benchmarks/test_bench.py`.

Needs the registry binary and skopeo, like `make bench`; a tiny image keeps it to seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import attestcost, issue18, run, runners
from benchmarks.crossshapes import (
    CONTESTANTS,
    FLOOR,
    PROMOTER,
    SKOPEO_COLD,
    ShapeResult,
    Spread,
    compare,
    report_lines,
)
from benchmarks.release_burst import BurstResult
from benchmarks.shapes import KIB, Shape

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def test_spread_is_the_median_and_the_range_of_the_runs() -> None:
    # Given three run times out of order; When summarised; Then median and min-max
    spread = Spread.of([0.9, 0.3, 0.5])
    assert (spread.median, spread.low, spread.high) == (0.5, 0.3, 0.9)
    assert spread.text(1) == "0.5 (0.3-0.9)"


@pytest.fixture
def bench_workdir() -> Iterator[Path]:
    """Like run.main's: reachable by `nobody`, as whom skopeo runs under root (pytest's tmp_path is not)."""
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-bench-test-"))
    workdir.chmod(0o711)
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


def test_a_shape_is_compared_on_fresh_registries_with_a_spread_for_every_contestant(bench_workdir: Path) -> None:
    # Given a tiny image shape
    shape = Shape("tiny 3 x 64 KB", (64 * KIB,) * 3)

    # When the three contestants copy it three times each
    result = compare(shape, 3, bench_workdir, progress=lambda _: None)

    # Then every contestant has a median within its range, the ratios are per run, and the row is reported
    assert set(result.seconds) == set(CONTESTANTS)
    for spread in (*result.seconds.values(), result.vs_skopeo, result.vs_floor, result.skopeo_vs_floor):
        assert 0 < spread.low <= spread.median <= spread.high
    assert result.vs_skopeo.low <= result.seconds[PROMOTER].high / result.seconds[SKOPEO_COLD].low
    assert result.seconds[FLOOR].median > 0
    # a fresh target per copy: ecr-promoter uploads all 4 blobs (3 layers + config), so ≥ 4 PUTs + manifest
    assert result.promoter_requests >= 5
    [row] = [line for line in report_lines([result]) if line.startswith("| tiny")]
    assert row.count("|") == 12


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--runs", "2"], "at least 3"),
        (["--publish", "--shapes-only"], "drop --shapes-only"),
        (["--publish", "--no-burst"], "drop --no-burst"),
    ],
)
def test_bench_arguments_that_cannot_give_a_publishable_report_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given arguments that would give no spread or a partial BENCHMARKS.md; When parsed; Then usage error
    with pytest.raises(SystemExit) as raised:
        run._arguments(argv)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unpublished_run_writes_outside_the_tracked_tree() -> None:
    # Given the default output and the published one; Then only --publish touches BENCHMARKS.md
    assert run.UNTRACKED.relative_to(runners.ROOT).parts[0] == ".bench"
    assert ".bench/" in (runners.ROOT / ".gitignore").read_text().splitlines()
    assert run.PUBLISHED == runners.ROOT / "BENCHMARKS.md"
    assert not run._arguments([]).publish


def _burst(concurrency: int, total_s: float, failures: int = 0) -> BurstResult:
    return BurstResult(concurrency, 200, 5.0, 40.0, total_s, 0.3, 0.9, 12, failures, failures, 0, 0, 1.0)


def test_mount_path_and_attestation_cost_are_measured_and_judged() -> None:
    # Given three in-process runs on fresh registries with a moto KMS key
    cost = attestcost.measure(3, progress=lambda _: None)

    # Then a redelivery only reads (the VSA is reused), a publish writes, and every figure has a spread
    assert cost.redelivery.methods == "4 GET"
    assert cost.publish_warm.requests.median > cost.redelivery.requests.median
    assert cost.mount_warm.requests.median <= cost.mount_cold.requests.median
    for figure in cost.figures():
        assert 0 < figure.seconds.low <= figure.seconds.median <= figure.seconds.high
    lines = attestcost.report_lines(cost)
    assert sum(line.startswith("| attestation") for line in lines) == 3

    # And the issue-18 goals judge the burst per setting: within 1.25 x floor with 0 failures, or not
    ratio = Spread(0.8, 0.7, 0.9)
    shape = ShapeResult(Shape("tiny", (KIB,)), 3, {}, ratio, ratio, ratio, 5, 30.0)
    _, goals = issue18.goal_lines([_burst(2, 49.0), _burst(5, 51.0), _burst(10, 45.0, failures=1)], [shape], cost)
    assert [ok for goal, ok in goals if goal.startswith("burst")] == [True, False, False]
    assert len(goals) == 3 + 2 + 1
    skipped, _ = issue18.goal_lines(None, [], cost)
    assert any("not run (--no-burst)" in line for line in skipped)
    assert "could not be confirmed" in "\n".join(issue18.burst_lines([_burst(2, 49.0)]))
