"""`make bench`: ecr-promoter's copy against `skopeo copy` on two real local registries -> BENCHMARKS.md.

Every figure is a median of `BENCH_RUNS` (default 5) runs. Whole-process figures: wall time from fork to
reap, peak RSS from the child's rusage (`wait4`), HTTP requests and uploaded blob bytes from the access
logs of both registries. Nothing here asserts on time: it measures and reports.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.blobs import MIB, Blob, Image, push_image, push_index, upload_parallel
from benchmarks.measure import ProcessRun, Traffic, TrafficMeter, median, run_process
from devtools.localregistry import LocalRegistry, find_registry_binary, start_registry

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
RUNS = max(5, int(os.environ.get("BENCH_RUNS", "5")))
SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"
PYTHON = sys.executable
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
NOBODY = 65534
OUTPUT = ROOT / "BENCHMARKS.md"

sys.path.insert(0, str(LAMBDA_SRC))


Command = Callable[[str], tuple[list[str], dict[str, str]]]  # target repository -> (argv, env)


@dataclass(frozen=True)
class Row:
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
    def __init__(self, a: LocalRegistry, b: LocalRegistry, workdir: Path) -> None:
        self.a = a
        self.b = b
        self.workdir = workdir
        self.names = itertools.count(1)
        self.sizes: dict[str, int] = {}
        self.meter = TrafficMeter([a, b], self.sizes)
        self.rows: list[Row] = []
        self.base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

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
        env = {**self.base_env, "PYTHONPATH": str(LAMBDA_SRC)}
        argv = [PYTHON, "-m", "promoter", "copy", f"{self.a.host}/{source.repository}:{source.tag}"]
        return [*argv, f"{target.host}/{repo}:{source.tag}", "--json"], env

    def skopeo_home(self, prefix: str) -> Path:
        """A HOME of its own. As root, skopeo keeps its blob-info cache in /var/lib/containers/cache whatever
        HOME says, so there it runs as `nobody` (setpriv) to keep the cache in this HOME."""
        home = Path(tempfile.mkdtemp(dir=self.workdir, prefix=prefix))
        for sub in ("share", "config", "run"):
            (home / sub).mkdir()
        if os.geteuid() == 0:
            for path in (home, home / "share", home / "config", home / "run"):
                os.chown(path, NOBODY, NOBODY)
        return home

    def skopeo(self, source: Image, target: LocalRegistry, repo: str, home: Path) -> tuple[list[str], dict[str, str]]:
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
            f"docker://{self.a.host}/{source.repository}:{source.tag}",
            f"docker://{target.host}/{repo}:{source.tag}",
        ]
        return argv, env

    # ------------------------------------------------------------------ measurement

    def measure(self, scenario: Scenario, contestants: list[tuple[str, Command]]) -> list[Row]:
        """Run every contestant RUNS times, interleaved (run 1 of each, then run 2 of each, alternating the
        order), so that load from elsewhere on the machine weighs on all of them alike. A fresh target
        repository each run, except re-runs (one repository per contestant, populated beforehand)."""
        fixed: dict[str, str] = {}
        if scenario.path == "rerun":
            for tool, command in contestants:
                fixed[tool] = self.fresh_repo("rerun")
                argv, env = command(fixed[tool])
                self._check(run_process(argv, env, cwd=str(ROOT)), argv)
        samples: dict[str, list[tuple[ProcessRun, Traffic]]] = {tool: [] for tool, _ in contestants}
        for index in range(RUNS):
            for tool, command in contestants if index % 2 == 0 else contestants[::-1]:
                argv, env = command(fixed.get(tool) or self.fresh_repo(scenario.path))
                self.meter.start()
                result = run_process(argv, env, cwd=str(ROOT))
                traffic = self.meter.stop()
                self._check(result, argv)
                samples[tool].append((result, traffic))
        rows = []
        for tool, _ in contestants:
            runs = samples[tool]
            row = Row(
                image=scenario.image,
                path=PATH_LABELS[scenario.path],
                tool=tool,
                seconds=median(r.seconds for r, _ in runs),
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

    @staticmethod
    def _check(result: object, argv: list[str]) -> None:
        returncode = getattr(result, "returncode", 1)
        if returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {returncode}: {getattr(result, 'stderr', '')[-2000:]}")

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
        for _ in range(RUNS):
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
                self._check(run_process(argv, env), argv)
            contestants.append(("skopeo (warm cache)", lambda repo: self.skopeo(image, target, repo, home)))
        rows = self.measure(scenario, contestants)
        rows[0] = Row(**{**rows[0].__dict__, "in_process": latency})
        self.rows.extend(rows)

    def floor(self, image: Image) -> float:
        """The target registry's own ingest: the image's blobs uploaded in parallel threads, no download."""
        timings = []
        for _ in range(RUNS):
            repo = self.fresh_repo("floor")
            started = time.perf_counter()
            upload_parallel(self.b.url, repo, image.blobs)
            timings.append(time.perf_counter() - started)
        return median(timings)


# ---------------------------------------------------------------------- import time, asset size, machine


def import_times() -> dict[str, tuple[float, float]]:
    """(median wall seconds, median peak RSS MiB) of a fresh process importing each module."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(LAMBDA_SRC)
    env.setdefault("AWS_DEFAULT_REGION", "us-west-2")
    codes = {
        "python (nothing)": "pass",
        "import boto3": "import boto3",
        "import promoter.handler": "import promoter.handler",
    }
    for code in codes.values():  # writes the bytecode cache once; later runs measure the steady state
        run_process([PYTHON, "-c", code], env)
    runs: dict[str, list[ProcessRun]] = {label: [] for label in codes}
    for _ in range(max(RUNS, 7)):  # interleaved, like the copies
        for label, code in codes.items():
            result = run_process([PYTHON, "-c", code], env)
            if result.returncode != 0:
                raise RuntimeError(f"{code}: {result.stderr[-2000:]}")
            runs[label].append(result)
    out = {
        label: (median(r.seconds for r in results), median(r.max_rss_kib * 1024 / 1e6 for r in results))
        for label, results in runs.items()
    }
    return out


def heaviest_imports(limit: int = 8) -> list[tuple[str, float]]:
    """The costliest modules imported directly by `promoter.handler` (cumulative, `-X importtime`)."""
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC), "AWS_DEFAULT_REGION": "us-west-2"}
    result = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import promoter.handler"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, float] = {}
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 2 and name.strip() != "promoter.handler":
            found[name.strip()] = max(found.get(name.strip(), 0.0), int(parts[1]) / 1e6)
    return sorted(found.items(), key=lambda item: -item[1])[:limit]


def asset_zip_size() -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(LAMBDA_SRC.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(LAMBDA_SRC).as_posix())
    return len(buffer.getvalue())


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    skopeo = subprocess.run([SKOPEO, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    registry_bin = find_registry_binary()
    registry = subprocess.run([registry_bin, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs ({cpu}), {ram:.1f} GiB RAM, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "skopeo": skopeo or "unknown",
        "registry": registry or registry_bin,
    }


# ---------------------------------------------------------------------- the report


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else "✓" if ok else "✗"


def _find(rows: list[Row], image: str, path: str, tool: str) -> Row:
    return next(r for r in rows if r.image == image and r.path == PATH_LABELS[path] and r.tool == tool)


def write_report(
    bench: Bench,
    images: dict[str, Image],
    floors: dict[str, float],
    imports: dict[str, tuple[float, float]],
    heavy: list[tuple[str, float]],
    asset: int,
    info: dict[str, str],
    elapsed: float,
) -> tuple[str, list[tuple[str, bool | None]]]:
    rows = bench.rows
    img100, big = "5 layers / ~100 MB", "1 layer / ~500 MB"
    same = _find(rows, img100, "same", "ecr-promoter")
    same_skopeo = _find(rows, img100, "same", "skopeo (cold cache)")
    same_bare = _find(rows, img100, "same", "ecr-promoter --no-referrers")
    cross = _find(rows, img100, "cross", "ecr-promoter")
    cross_skopeo = _find(rows, img100, "cross", "skopeo (cold cache)")
    big_row = _find(rows, big, "cross", "ecr-promoter")
    blob_count = len(images[img100].blobs)
    boto3_s = imports["import boto3"][0]
    handler_s = imports["import promoter.handler"][0]
    goals: list[tuple[str, str, bool | None]] = [
        (
            "same registry, vs cold skopeo: 0 blob bytes uploaded",
            f"{same.bytes_uploaded:,.0f} B",
            same.bytes_uploaded == 0,
        ),
        (
            f"same registry: ≤ 9 requests for a {blob_count}-blob image",
            f"{same.requests:.0f} (--no-referrers: {same_bare.requests:.0f}; skopeo cold {same_skopeo.requests:.0f})",
            same.requests <= 9,
        ),
        (
            "same registry: wall ≤ 0.3 x skopeo (cold cache)",
            f"{same.seconds / same_skopeo.seconds:.2f} x ({same.seconds:.3f} s vs {same_skopeo.seconds:.3f} s)",
            same.seconds <= 0.3 * same_skopeo.seconds,
        ),
        (
            "cross registry ~100 MB: wall ≤ 0.85 x skopeo (cold cache)",
            f"{cross.seconds / cross_skopeo.seconds:.2f} x ({cross.seconds:.3f} s vs {cross_skopeo.seconds:.3f} s)",
            cross.seconds <= 0.85 * cross_skopeo.seconds,
        ),
        (
            "cross registry ~100 MB: near the ingest floor (informative: ratio to a raw parallel upload)",
            f"process {cross.seconds / floors[img100]:.2f} x, "
            f"in-process {(cross.in_process or 0) / floors[img100]:.2f} x "
            f"(floor {floors[img100]:.3f} s; skopeo {cross_skopeo.seconds / floors[img100]:.2f} x)",
            None,
        ),
        ("cross registry ~100 MB: peak RSS ≤ 80 MB", f"{cross.rss_mb:.1f} MB", cross.rss_mb <= 80),
        (
            "500 MB layer: peak RSS the same (≤ 80 MB, within 10 % of the 100 MB copy)",
            f"{big_row.rss_mb:.1f} MB vs {cross.rss_mb:.1f} MB",
            big_row.rss_mb <= 80 and big_row.rss_mb <= 1.1 * cross.rss_mb,
        ),
        (
            "handler cold import ≤ 1.3 x `import boto3`",
            f"{handler_s / boto3_s:.2f} x ({handler_s:.3f} s vs {boto3_s:.3f} s)",
            handler_s <= 1.3 * boto3_s,
        ),
        ("Lambda asset < 200 KB zipped", f"{asset / 1000:.1f} KB", asset < 200_000),
    ]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`benchmarks/run.py`); do not edit by hand. Ratios are the claim; absolute",
        "figures depend on the machine.",
        "",
        f"- date: {info['date']}",
        f"- machine: {info['machine']}",
        f"- versions: Python {info['python']}, {info['skopeo']}, registry `{info['registry']}`",
        f"- runs: median of {RUNS} per figure; `make bench` took {elapsed:.0f} s in all",
        "",
        "## Goals (issue 7)",
        "",
        "| goal | measured | met |",
        "|---|---|---|",
        *(f"| {goal} | {measured} | {_mark(ok)} |" for goal, measured, ok in goals),
        "",
        "## Copies",
        "",
        "Whole process unless noted. *requests*: every HTTP request in the access logs of both registries;",
        "*uploaded*: blobs whose upload session was completed (`PUT …?digest=`, 201) and the sum of their sizes;",
        "*in-process*: `copy_image` alone with the engine imported and clients created once (a warm Lambda).",
        "",
        "| image | path | tool | wall s | x skopeo cold | requests | mounts | blobs uploaded | MB uploaded "
        "| peak RSS MB | in-process s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        reference = _find(
            rows, row.image, next(k for k, v in PATH_LABELS.items() if v == row.path), "skopeo (cold cache)"
        )
        in_process = f"{row.in_process:.3f}" if row.in_process is not None else ""
        lines.append(
            f"| {row.image} | {row.path} | {row.tool} | {row.seconds:.3f} | {row.seconds / reference.seconds:.2f} "
            f"| {row.requests:.0f} | {row.mounts:.0f} | {row.blobs_uploaded:.0f} | {row.bytes_uploaded / 1e6:.1f} "
            f"| {row.rss_mb:.1f} | {in_process} |"
        )
    lines += [
        "",
        "## Target registry ingest floor (cross-registry path)",
        "",
        "The same blobs uploaded straight into a fresh repository of the target registry from memory /",
        "a generator, one thread per blob, no download: what no copier can beat.",
        "",
        "| image | floor s | ecr-promoter process / floor | in-process / floor | skopeo cold / floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, seconds in floors.items():
        mine = _find(rows, label, "cross", "ecr-promoter")
        theirs = _find(rows, label, "cross", "skopeo (cold cache)")
        lines.append(
            f"| {label} | {seconds:.3f} | {mine.seconds / seconds:.2f} | {(mine.in_process or 0) / seconds:.2f} "
            f"| {theirs.seconds / seconds:.2f} |"
        )
    lines += [
        "",
        "## Lambda cold start and asset",
        "",
        "A fresh `python -c …` process with `PYTHONPATH=lambda_src` (bytecode cache present), median wall time and",
        "peak RSS.",
        "",
        "| process | wall s | x `import boto3` | peak RSS MB |",
        "|---|---:|---:|---:|",
        *(f"| `{label}` | {s:.3f} | {s / boto3_s:.2f} | {rss:.1f} |" for label, (s, rss) in imports.items()),
        "",
        "Heaviest imports under `promoter.handler` (`-X importtime`, cumulative, one run):",
        "",
        *(f"- `{name}`: {seconds * 1000:.0f} ms" for name, seconds in heavy),
        "",
        f"Lambda asset (`lambda_src/` zipped, deflate level 9, without `__pycache__`): {asset:,} bytes.",
        "",
        "## Method",
        "",
        "- Two CNCF distribution registries on loopback (`devtools/localregistry.py`), filesystem storage in a",
        "  temporary directory. Images are pushed by the benchmark itself with stdlib HTTP (random OCI layers; the",
        "  500 MB layer is generated and streamed in 4 MiB blocks). Index: OCI index over 2 platform images.",
        "- ecr-promoter: `python -m promoter copy SRC DST --json` (default `--jobs 8`, referrers on).",
        "- skopeo: `skopeo copy --src-tls-verify=false --dest-tls-verify=false` (`--all` for the index). *Cold*:",
        "  a fresh `HOME`/`XDG_DATA_HOME` per run (empty blob-info cache: the Lambda/CI reality). *Warm*: one",
        "  `HOME` reused, warmed by one unmeasured copy on the same path.",
        "- The tools' runs are interleaved (run 1 of each, run 2 of each, ...), so background load weighs alike.",
        "- Every copy goes to a fresh target repository, except *re-run*, which copies again into a repository",
        "  that already holds the image. Same registry = both repositories in registry A; cross = A to B.",
        "- Wall time: `perf_counter` from fork to reap; peak RSS: GNU `time -f %M` around the command (not",
        "  `wait4` of a child of the benchmark: Linux would carry the benchmark's own RSS into it).",
        "- As root, skopeo runs as `nobody` (`setpriv`): otherwise its blob-info cache is always",
        "  `/var/lib/containers/cache`, whatever `HOME` says, and *cold* would not be cold.",
        "",
    ]
    OUTPUT.write_text("\n".join(lines))
    return "\n".join(lines), [(goal, ok) for goal, _, ok in goals]


def main() -> int:
    started = time.perf_counter()
    if not Path(SKOPEO).exists():
        print("skopeo is missing: run scripts/bootstrap.sh --with-skopeo", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-bench-"))
    workdir.chmod(0o711)  # skopeo may run as nobody (see Bench.skopeo_home) and must reach its HOME
    try:
        with start_registry(workdir / "a") as a, start_registry(workdir / "b") as b:
            bench = Bench(a, b, workdir)
            print(f"registries: A={a.url} B={b.url}; seeding images", flush=True)
            img100, index, big = "5 layers / ~100 MB", "2-platform index", "1 layer / ~500 MB"
            images = {
                img100: bench.register(
                    push_image(a.url, "bench/app", "v1", [Blob.random_layer(20 * MIB) for _ in range(5)])
                ),
                index: bench.register(
                    push_index(
                        a.url, "bench/multi", "v1", [[Blob.random_layer(8 * MIB) for _ in range(3)] for _ in range(2)]
                    )
                ),
                big: bench.register(push_image(a.url, "bench/big", "v1", [Blob.random_layer(500 * MIB)])),
            }
            for label in (img100, index):
                for path in ("same", "cross", "rerun"):
                    bench.scenario(
                        Scenario(label, images[label], path), no_referrers_variant=label == img100 and path == "same"
                    )
            bench.scenario(Scenario(big, images[big], "cross"), skopeo_warm=False)
            print("ingest floor", flush=True)
            floors = {img100: bench.floor(images[img100]), big: bench.floor(images[big])}
            print("  " + ", ".join(f"{k}: {v:.3f} s" for k, v in floors.items()), flush=True)
        print("import times", flush=True)
        imports = import_times()
        heavy = heaviest_imports()
        asset = asset_zip_size()
        info = machine()
        report, goals = write_report(bench, images, floors, imports, heavy, asset, info, time.perf_counter() - started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(report)
    judged = [ok for _, ok in goals if ok is not None]
    print(f"wrote {OUTPUT.relative_to(ROOT)}; goals met {sum(judged)}/{len(judged)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
