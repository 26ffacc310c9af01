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
from benchmarks.measure import ProcessRun, Spread, Traffic, TrafficMeter, median, run_process
from devtools.localregistry import LocalRegistry, start_registry

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
    in_process: Spread | None = None
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
    """ecr-promoter and skopeo between two registries A and B: same registry (A to A), cross (A to B) and
    re-run, each copy into a fresh repository. Every run (`start_run`) brings two new, empty registries with
    the images pushed into A anew; every contestant of every scenario copies once per run."""

    def __init__(self, workdir: Path, runs: int) -> None:
        self.runs = runs
        self.workdir = workdir
        self.names = itertools.count(1)
        self.rows: list[Row] = []
        self.index = 0
        self._tools: dict[tuple[str, str], list[str]] = {}
        self._samples: dict[tuple[str, str, str], list[tuple[ProcessRun, Traffic]]] = {}
        self._in_process: dict[tuple[str, str], list[float]] = {}
        self._floors: dict[str, list[float]] = {}

    def start_run(self, index: int, a: LocalRegistry, b: LocalRegistry) -> None:
        self.index, self.a, self.b = index, a, b
        self.sizes: dict[str, int] = {}
        self.meter = TrafficMeter([a, b], self.sizes)

    def register(self, image: Image) -> Image:
        for blob in image.blobs:
            self.sizes[blob.digest] = blob.size
        return image

    def fresh_repo(self, prefix: str) -> str:
        return f"{prefix}-{next(self.names)}"

    def target(self, path: str) -> LocalRegistry:
        return self.b if path == "cross" else self.a

    def warm_up(self, image: Image) -> None:
        """One unmeasured in-process copy (a mount), so the in-process figures are those of a warm Lambda: engine
        imported, the registry's lack of a referrers API already learnt."""
        from promoter.registry import RegistryClient, copy_image

        with RegistryClient.for_endpoint(self.a.url) as client:
            copy_image(client, image.repository, image.tag, client, self.fresh_repo("warmup"), (image.tag,))

    # ------------------------------------------------------------------ measurement

    def _measure_once(self, scenario: Scenario, contestants: list[tuple[str, Command]]) -> None:
        """Every contestant once, in alternating order from run to run, so that load from elsewhere on the machine
        weighs on all of them alike. A fresh target repository, except re-runs (populated beforehand)."""
        fixed: dict[str, str] = {}
        if scenario.path == "rerun":
            for tool, command in contestants:
                fixed[tool] = self.fresh_repo("rerun")
                argv, env = command(fixed[tool])
                check(run_process(argv, env, cwd=str(ROOT)), argv)
        for tool, command in contestants if self.index % 2 == 0 else contestants[::-1]:
            argv, env = command(fixed.get(tool) or self.fresh_repo(scenario.path))
            self.meter.start()
            result = run_process(argv, env, cwd=str(ROOT))
            traffic = self.meter.stop()
            check(result, argv)
            self._samples.setdefault((scenario.image, scenario.path, tool), []).append((result, traffic))
            print(
                f"  {tool:<28} {result.seconds:7.3f} s  {traffic.requests:4d} req  "
                f"{traffic.bytes_uploaded / 1e6:7.1f} MB up  {result.max_rss_kib * 1024 / 1e6:6.1f} MB RSS",
                flush=True,
            )

    def _in_process_once(self, scenario: Scenario) -> float:
        """Seconds of `copy_image` alone, the engine imported (a warm Lambda)."""
        from promoter.registry import RegistryClient, copy_image

        source = RegistryClient.for_endpoint(self.a.url)
        target = source if scenario.path != "cross" else RegistryClient.for_endpoint(self.b.url)
        image, tags = scenario.source, (scenario.source.tag,)
        repo = self.fresh_repo(f"inproc-{scenario.path}")
        if scenario.path == "rerun":
            copy_image(source, image.repository, image.tag, target, repo, tags)
        started = time.perf_counter()
        copy_image(source, image.repository, image.tag, target, repo, tags)
        seconds = time.perf_counter() - started
        source.close()
        target.close()
        return seconds

    def scenario(self, scenario: Scenario, *, skopeo_warm: bool = True, no_referrers_variant: bool = False) -> None:
        print(f"run {self.index + 1}: {scenario.image} — {PATH_LABELS[scenario.path]}", flush=True)
        target = self.target(scenario.path)
        image = scenario.source
        latency = self._in_process_once(scenario)
        self._in_process.setdefault((scenario.image, scenario.path), []).append(latency)
        print(f"  {'ecr-promoter in-process':<28} {latency:7.3f} s", flush=True)
        contestants: list[tuple[str, Command]] = [("ecr-promoter", lambda repo: self.promoter(image, target, repo))]
        if no_referrers_variant:

            def bare(repo: str) -> tuple[list[str], dict[str, str]]:
                argv, env = self.promoter(image, target, repo)
                return [*argv, "--no-referrers"], env

            contestants.append(("ecr-promoter --no-referrers", bare))
        contestants.append(
            (
                "skopeo (cold cache)",
                lambda repo: self.skopeo(image, target, repo, skopeo_home(self.workdir, "skopeo-cold-")),
            )
        )
        if skopeo_warm:
            home = skopeo_home(self.workdir, "skopeo-warm-")
            if scenario.path != "rerun":  # warm the blob-info cache with one unmeasured copy on the same path
                argv, env = self.skopeo(image, target, self.fresh_repo("warmup"), home)
                check(run_process(argv, env), argv)
            contestants.append(("skopeo (warm cache)", lambda repo: self.skopeo(image, target, repo, home)))
        self._tools[(scenario.image, scenario.path)] = [tool for tool, _ in contestants]
        self._measure_once(scenario, contestants)

    def promoter(self, source: Image, target: LocalRegistry, repo: str) -> tuple[list[str], dict[str, str]]:
        return promoter_copy(self.a, source, target, repo)

    def skopeo(self, source: Image, target: LocalRegistry, repo: str, home: Path) -> tuple[list[str], dict[str, str]]:
        return skopeo_copy(self.a, source, target, repo, home)

    def floor(self, label: str, image: Image) -> None:
        """The target registry's own ingest: the image's blobs uploaded in parallel threads into a new, empty
        registry, no download."""
        with start_registry() as empty:
            started = time.perf_counter()
            upload_parallel(empty.url, "floor", image.blobs)
            self._floors.setdefault(label, []).append(time.perf_counter() - started)

    def finish(self) -> dict[str, Spread]:
        """Summarise every run into `rows` (medians, spreads); return the ingest floor per image."""
        for (image, path), tools in self._tools.items():
            in_process = Spread.of(self._in_process[(image, path)])
            for tool in tools:
                runs = self._samples[(image, path, tool)]
                self.rows.append(
                    Row(
                        image=image,
                        path=PATH_LABELS[path],
                        tool=tool,
                        seconds=median(r.seconds for r, _ in runs),
                        seconds_min=min(r.seconds for r, _ in runs),
                        seconds_max=max(r.seconds for r, _ in runs),
                        requests=median(t.requests for _, t in runs),
                        mounts=median(t.mounts for _, t in runs),
                        blobs_uploaded=median(t.blobs_uploaded for _, t in runs),
                        bytes_uploaded=median(t.bytes_uploaded for _, t in runs),
                        rss_mb=median(r.max_rss_kib * 1024 / 1e6 for r, _ in runs),
                        in_process=in_process if tool == "ecr-promoter" else None,
                    )
                )
        return {label: Spread.of(values) for label, values in self._floors.items()}


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
