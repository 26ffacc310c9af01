"""A release burst (issue 18, first cut): N distinct images promoted by C concurrent function instances against
a registry that enforces a PutImage-like rate quota, with a moto server as the ledger.

    python -m benchmarks.burst [--images 200] [--rate 10] [--concurrency 2 4 8]

The registry sits behind `devtools.faultproxy.FaultProxy.limit_rate`: manifest PUTs above `--rate` per second
are answered 429 + `Retry-After: 1`, as a throttled ECR answers. Each instance (`benchmarks.burst_worker`) is
a process with warm services; an event whose handling raises is redelivered at most twice (Lambda's async
retries). Reported per concurrency: total time against the quota floor (N / rate), p50/p95 per promotion,
throttled requests (429s answered), Lambda redeliveries, failures and duplicate promotions (both must be 0).
The report goes to `.bench/burst.md`. The rate is a parameter: set it from the account's ECR service quotas.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from devtools import images
from devtools.eventfactory import push_event
from devtools.faultproxy import FaultProxy
from devtools.lambda_local import start_local_ledger
from devtools.localregistry import LocalRegistry, start_registry

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / ".bench" / "burst.md"
REGION = "us-west-2"
POLICY = {"rules": [{"name": "burst", "source": "dev-*", "target": "prod-{name}"}]}


@dataclass(frozen=True)
class BurstResult:
    concurrency: int
    images: int
    rate: float
    total: float
    p50: float
    p95: float
    throttled: int
    redeliveries: int
    failures: int
    duplicates: int
    promoted: int

    @property
    def floor(self) -> float:
        return self.images / self.rate


def seed(registry: LocalRegistry, count: int, batch: str) -> list[dict[str, object]]:
    """`count` distinct one-layer images, each in its own dev- repository, and their push events."""
    events = []
    for index in range(count):
        repository = f"dev-burst{batch}-{index:04d}"
        pushed = images.push_image(registry.url, repository, "v1", [os.urandom(2048)])
        events.append(push_event(repository, pushed.digest, "v1"))
    return events


def burst(
    registry: LocalRegistry, events: list[dict[str, object]], concurrency: int, rate: float, workdir: Path
) -> BurstResult:
    """Deliver every event once, spread over `concurrency` instances released together."""
    ledger = start_local_ledger(REGION, f"burst-{uuid.uuid4().hex[:8]}")
    proxy = FaultProxy(registry.url).start()
    proxy.limit_rate(rate, method="PUT", path=r"/manifests/")
    env = {
        **os.environ,
        "PROMOTION_POLICY": json.dumps(POLICY),
        "LEDGER_TABLE": ledger.table,
        "REGISTRY_ENDPOINT": proxy.url,
        "AWS_ENDPOINT_URL": ledger.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}",
    }
    go = workdir / f"go-{concurrency}-{uuid.uuid4().hex[:6]}"
    try:
        logs = [(workdir / f"{go.name}-{index}.err").open("w") for index in range(concurrency)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.burst_worker", str(go)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
                env=env,
                text=True,
            )
            for log in logs
        ]
        for index, worker in enumerate(workers):
            assert worker.stdin is not None
            worker.stdin.write(json.dumps(events[index::concurrency]))
            worker.stdin.close()
        time.sleep(3)  # every instance past its cold start (imports, clients) before the burst begins
        released = time.monotonic()
        go.touch()
        results = []
        for worker, log in zip(workers, logs, strict=True):
            assert worker.stdout is not None
            out = worker.stdout.read()
            worker.wait(timeout=600)
            log.close()
            if worker.returncode != 0:
                raise RuntimeError(f"burst worker exited {worker.returncode}: {Path(log.name).read_text()[-2000:]}")
            results += [json.loads(line) for line in out.splitlines() if line.strip()]
        total = max(r["started"] + r["seconds"] for r in results) - released
        latencies = sorted(r["seconds"] for r in results)
        promoted = [r["digest"] for r in results if r["outcome"] == "promoted"]
        return BurstResult(
            concurrency=concurrency,
            images=len(events),
            rate=rate,
            total=total,
            p50=float(statistics.median(latencies)),
            p95=latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
            throttled=proxy.injected["429"],
            redeliveries=sum(r["deliveries"] - 1 for r in results),
            failures=sum(1 for r in results if r["error"] or r["outcome"] not in {"promoted", "already-promoted"}),
            duplicates=len(promoted) - len(set(promoted)),
            promoted=len(set(promoted)),
        )
    finally:
        proxy.stop()
        ledger.stop()


def report(results: list[BurstResult]) -> str:
    lines = [
        "## Release burst (issue 18, first cut)",
        "",
        f"{results[0].images} distinct images, one push event each, manifest PUTs limited to {results[0].rate:g}/s "
        "(429 + `Retry-After: 1` above it); one process per function instance, warm; a raising event is "
        "redelivered at most twice.",
        "",
        "| instances | total s | quota floor s | x floor | p50 s | p95 s | 429s | redeliveries | failures "
        "| duplicates | promoted |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.concurrency} | {r.total:.1f} | {r.floor:.1f} | {r.total / r.floor:.2f} | {r.p50:.2f} | {r.p95:.2f} "
            f"| {r.throttled} | {r.redeliveries} | {r.failures} | {r.duplicates} | {r.promoted} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.burst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="manifest PUTs per second before 429 (default 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-burst-"))
    results = []
    try:
        with start_registry(workdir / "registry") as registry:
            for concurrency in args.concurrency:
                # fresh images per setting: every promotion is a first one
                events = seed(registry, args.images, f"c{concurrency}")
                print(f"{concurrency} instances: {len(events)} images", flush=True)
                results.append(burst(registry, events, concurrency, args.rate, workdir))
                print(report(results[-1:]).splitlines()[-1], flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(results)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text)
    print(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
