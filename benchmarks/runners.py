"""Who copies, and how each copy is measured: ecr-promoter as a process and in-process, skopeo with a cold
and a warm blob-info cache, and the target registry's own ingest floor.

Runs are interleaved (run 1 of each contestant, then run 2 of each, alternating the order) so background load
weighs on all of them alike. Nothing here asserts on time: it measures.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.blobs import Image, upload_parallel
from benchmarks.measure import ProcessRun, Traffic, TrafficMeter, median, run_process
from devtools.localregistry import LocalRegistry

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
PYTHON = sys.executable
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
NOBODY = 65534


Command = Callable[[str], tuple[list[str], dict[str, str]]]  # target repository -> (argv, env)


@dataclass(frozen=True)
class Row:
    """One contestant on one image and path: medians over the runs, and the spread of the wall time."""

    image: str
    path: str
    tool: str
    seconds: float
    requests: float
    mounts: float
    blobs_uploaded: float
    bytes_uploaded: float
    rss_mb: float
    in_process: float | None = None
    seconds_min: float = 0.0
    seconds_max: float = 0.0


@dataclass(frozen=True)
class Scenario:
    image: str  # label
    source: Image
    path: str  # "same", "cross", "rerun"


PATH_LABELS = {
    "same": "same registry (mount)",
    "cross": "cross registry (stream)",
    "rerun": "re-run (already present)",
}


class Bench:
    """ecr-promoter and skopeo on two long-lived registries A and B: same registry (A to A), cross (A to B)
    and re-run, each copy into a fresh repository."""

    def __init__(self, a: LocalRegistry, b: LocalRegistry, workdir: Path, runs: int) -> None:
        self.runs = runs
        self.a = a
        self.b = b
        self.workdir = workdir
        self.names = itertools.count(1)
        self.sizes: dict[str, int] = {}
        self.meter = TrafficMeter([a, b], self.sizes)
        self.rows: list[Row] = []

    def register(self, image: Image) -> Image:
        for blob in image.blobs:
            self.sizes[blob.digest] = blob.size
        return image

    def fresh_repo(self, prefix: str) -> str:
        return f"{prefix}-{next(self.names)}"

    def target(self, path: str) -> LocalRegistry:
        return self.b if path == "cross" else self.a

    # ------------------------------------------------------------------ commands

    def promoter(self, source: Image, target: LocalRegistry, repo: str) -> tuple[list[str], dict[str, str]]:
        return promoter_copy(self.a, source, target, repo)

    def skopeo_home(self, prefix: str) -> Path:
        return skopeo_home(self.workdir, prefix)

    def skopeo(self, source: Image, target: LocalRegistry, repo: str, home: Path) -> tuple[list[str], dict[str, str]]:
        return skopeo_copy(self.a, source, target, repo, home)

    # ------------------------------------------------------------------ measurement

    def measure(self, scenario: Scenario, contestants: list[tuple[str, Command]]) -> list[Row]:
        """Run every contestant `runs` times, interleaved (run 1 of each, then run 2 of each, alternating the
        order), so that load from elsewhere on the machine weighs on all of them alike. A fresh target
        repository each run, except re-runs (one repository per contestant, populated beforehand)."""
        fixed: dict[str, str] = {}
        if scenario.path == "rerun":
            for tool, command in contestants:
                fixed[tool] = self.fresh_repo("rerun")
                argv, env = command(fixed[tool])
                check(run_process(argv, env, cwd=str(ROOT)), argv)
        samples: dict[str, list[tuple[ProcessRun, Traffic]]] = {tool: [] for tool, _ in contestants}
        for index in range(self.runs):
            for tool, command in contestants if index % 2 == 0 else contestants[::-1]:
                argv, env = command(fixed.get(tool) or self.fresh_repo(scenario.path))
                self.meter.start()
                result = run_process(argv, env, cwd=str(ROOT))
                traffic = self.meter.stop()
                check(result, argv)
                samples[tool].append((result, traffic))
        rows = []
        for tool, _ in contestants:
            runs = samples[tool]
            row = Row(
                image=scenario.image,
                path=PATH_LABELS[scenario.path],
                tool=tool,
                seconds=median(r.seconds for r, _ in runs),
                seconds_min=min(r.seconds for r, _ in runs),
                seconds_max=max(r.seconds for r, _ in runs),
                requests=median(t.requests for _, t in runs),
                mounts=median(t.mounts for _, t in runs),
                blobs_uploaded=median(t.blobs_uploaded for _, t in runs),
                bytes_uploaded=median(t.bytes_uploaded for _, t in runs),
                rss_mb=median(r.max_rss_kib * 1024 / 1e6 for r, _ in runs),
            )
            print(
                f"  {tool:<28} {row.seconds:7.3f} s  {row.requests:4.0f} req  {row.bytes_uploaded / 1e6:7.1f} MB up  "
                f"{row.rss_mb:6.1f} MB RSS",
                flush=True,
            )
            rows.append(row)
        return rows

    def in_process(self, scenario: Scenario) -> float:
        """Median seconds of `copy_image` alone, the engine imported once and clients reused (a warm Lambda)."""
        from promoter.registry import RegistryClient, copy_image

        source = RegistryClient.for_endpoint(self.a.url)
        target = source if scenario.path != "cross" else RegistryClient.for_endpoint(self.b.url)
        tags = (scenario.source.tag,)
        fixed = None
        if scenario.path == "rerun":
            fixed = self.fresh_repo("inproc-rerun")
            copy_image(source, scenario.source.repository, scenario.source.tag, target, fixed, tags)
        timings = []
        for _ in range(self.runs):
            repo = fixed or self.fresh_repo(f"inproc-{scenario.path}")
            started = time.perf_counter()
            copy_image(source, scenario.source.repository, scenario.source.tag, target, repo, tags)
            timings.append(time.perf_counter() - started)
        source.close()
        target.close()
        return median(timings)

    def scenario(self, scenario: Scenario, *, skopeo_warm: bool = True, no_referrers_variant: bool = False) -> None:
        print(f"{scenario.image} — {PATH_LABELS[scenario.path]}", flush=True)
        target = self.target(scenario.path)
        image = scenario.source
        latency = self.in_process(scenario)
        print(f"  {'ecr-promoter in-process':<28} {latency:7.3f} s", flush=True)
        contestants: list[tuple[str, Command]] = [("ecr-promoter", lambda repo: self.promoter(image, target, repo))]
        if no_referrers_variant:

            def bare(repo: str) -> tuple[list[str], dict[str, str]]:
                argv, env = self.promoter(image, target, repo)
                return [*argv, "--no-referrers"], env

            contestants.append(("ecr-promoter --no-referrers", bare))
        contestants.append(
            ("skopeo (cold cache)", lambda repo: self.skopeo(image, target, repo, self.skopeo_home("skopeo-cold-")))
        )
        if skopeo_warm:
            home = self.skopeo_home("skopeo-warm-")
            if scenario.path != "rerun":  # warm the blob-info cache with one unmeasured copy on the same path
                argv, env = self.skopeo(image, target, self.fresh_repo("warmup"), home)
                check(run_process(argv, env), argv)
            contestants.append(("skopeo (warm cache)", lambda repo: self.skopeo(image, target, repo, home)))
        rows = self.measure(scenario, contestants)
        rows[0] = Row(**{**rows[0].__dict__, "in_process": latency})
        self.rows.extend(rows)

    def floor(self, image: Image) -> float:
        """The target registry's own ingest: the image's blobs uploaded in parallel threads, no download."""
        timings = []
        for _ in range(self.runs):
            repo = self.fresh_repo("floor")
            started = time.perf_counter()
            upload_parallel(self.b.url, repo, image.blobs)
            timings.append(time.perf_counter() - started)
        return median(timings)


def promoter_copy(
    origin: LocalRegistry, source: Image, target: LocalRegistry, repo: str
) -> tuple[list[str], dict[str, str]]:
    """`python -m promoter copy SRC DST --json` as a user runs it (default jobs, referrers on)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(LAMBDA_SRC)
    argv = [PYTHON, "-m", "promoter", "copy", f"{origin.host}/{source.repository}:{source.tag}"]
    return [*argv, f"{target.host}/{repo}:{source.tag}", "--json"], env


def skopeo_home(workdir: Path, prefix: str) -> Path:
    """A HOME of its own. As root, skopeo keeps its blob-info cache in /var/lib/containers/cache whatever
    HOME says, so there it runs as `nobody` (setpriv) to keep the cache in this HOME."""
    home = Path(tempfile.mkdtemp(dir=workdir, prefix=prefix))
    for sub in ("share", "config", "run"):
        (home / sub).mkdir()
    if os.geteuid() == 0:
        for path in (home, home / "share", home / "config", home / "run"):
            os.chown(path, NOBODY, NOBODY)
    return home


def skopeo_copy(
    origin: LocalRegistry, source: Image, target: LocalRegistry, repo: str, home: Path
) -> tuple[list[str], dict[str, str]]:
    """`skopeo copy` between the loopback registries, its blob-info cache in `home` (`--all` for an index)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    argv = [SKOPEO, "copy", "--src-tls-verify=false", "--dest-tls-verify=false"]
    if os.geteuid() == 0:
        argv = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *argv]
    if source.media_type.endswith("index.v1+json"):
        argv.append("--all")
    argv += [
        f"docker://{origin.host}/{source.repository}:{source.tag}",
        f"docker://{target.host}/{repo}:{source.tag}",
    ]
    return argv, env


def check(result: ProcessRun, argv: list[str]) -> None:
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr[-2000:]}")
