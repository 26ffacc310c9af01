"""`python -m benchmarks.release_burst`: a release burst of N promotions against a PutImage-like rate quota.

Why (issue 18.1): a monorepo release brings hundreds of promotions within minutes, and ECR throttles manifest
writes per account and Region. This runs N distinct images through the real function (`build_services` +
`promoter.entry.handle`, local mode, real registry, DynamoDB from a moto server) in C worker processes (C = the
reserved concurrency under test: one process per concurrent Lambda environment, each cold-started once, fed
from one queue as Lambda's async queue feeds its environments). Between the function and the registry a small
proxy lets manifest PUTs through at `rate` per second (token bucket, one second of burst) and answers the rest
429 with `Retry-After`, as a throttled registry does. An invocation that raises or ends in an error is
re-delivered up to twice (Lambda's async retries); after that it would go to the failure queue.

Reported per C: total time against the quota floor (N / rate), per-promotion p50/p95 (one `handle` call, throttle
waits included), 429s answered (= retries spent), Lambda re-deliveries, failures, duplicate tag writes. Results
go to `.bench/release_burst.json` (untracked) and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import math
import multiprocessing
import os
import queue
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devtools import images
from devtools.eventfactory import push_event
from devtools.lambda_local import create_ledger_table
from devtools.localregistry import free_port, start_registry

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "dev/*"  # one repository per image, as a monorepo release pushes one per service
_MANIFEST_PUT = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/?]+)$")
_MAX_BODY = 8 * 1024 * 1024
_LAMBDA_RETRIES = 2


class TokenBucket:
    """`rate` tokens per second, at most `rate` (one second's worth) banked."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a token was taken; else the seconds until the next one."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


class QuotaProxy:
    """Forwards every request to the registry; manifest PUTs only within the bucket's rate, else 429."""

    def __init__(self, upstream_port: int, rate: float) -> None:
        self.upstream_port = upstream_port
        self.bucket = TokenBucket(rate)
        self.throttled = 0
        self.written: Counter[str] = Counter()  # successful manifest PUTs per path
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, _MAX_BODY)) if length else None
                path = self.path.split("?", 1)[0]
                is_manifest_put = self.command == "PUT" and _MANIFEST_PUT.match(path) is not None
                if is_manifest_put:
                    wait = proxy.bucket.take()
                    if wait > 0:
                        with proxy.lock:
                            proxy.throttled += 1
                        payload = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"rate exceeded"}]}'
                        self.send_response(429)
                        self.send_header("Retry-After", str(max(1, math.ceil(wait))))
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                if is_manifest_put and response.status == 201:
                    with proxy.lock:
                        proxy.written[path] += 1
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _forward  # noqa: N815

        return Handler


def _worker(env: dict[str, str], tasks: Any, results: Any) -> None:
    """One Lambda environment: cold start once, then one event at a time until the queue says stop."""
    os.environ.update(env)
    started = time.monotonic()
    from promoter.config import Settings
    from promoter.entry import handle
    from promoter.wiring import build_services

    services = build_services(Settings.from_environ(os.environ), None)
    results.put({"ready": time.monotonic() - started})
    while (task := tasks.get()) is not None:
        index, event = task
        begin = time.monotonic()
        try:
            response = handle(event, services)
            outcomes = [d.get("outcome") for d in response.get("decisions", [])]
            outcome = outcomes[0] if len(outcomes) == 1 else f"unexpected {response}"
        except Exception as error:
            outcome = f"raised {type(error).__name__}: {error}"
        results.put({"index": index, "outcome": outcome, "seconds": time.monotonic() - begin, "at": time.monotonic()})


@dataclass(frozen=True)
class BurstResult:
    concurrency: int
    images: int
    rate: float
    floor_s: float
    total_s: float
    p50_s: float
    p95_s: float
    throttled_429: int
    redeliveries: int
    failures: int
    duplicates: int
    wrong_targets: int
    cold_start_p50_s: float


def _target_of(image: images.PushedImage, target_prefix: str) -> str:
    return f"{target_prefix}/{image.repository.split('/', 1)[1]}"


def push_sources(registry_url: str, count: int) -> list[images.PushedImage]:
    """`count` distinct small images (2 layers each), `dev/svc-001:v1` ... (one repository each: the local
    image store resolves every tag of a repository per event, which ECR's DescribeImages does not)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(
            pool.map(
                lambda i: images.push_image(registry_url, f"dev/svc-{i:03d}", "v1", images.random_layers(2, 1024)),
                range(1, count + 1),
            )
        )


def run_burst(
    concurrency: int, pushed: list[images.PushedImage], registry_url: str, dynamo_url: str, rate: float
) -> BurstResult:
    target = f"prod-c{concurrency}"
    table = f"ledger-burst-c{concurrency}"
    import boto3

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=dynamo_url,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    create_ledger_table(dynamodb, table)
    proxy = QuotaProxy(int(registry_url.rsplit(":", 1)[1]), rate)
    policy = {
        "rules": [{"name": "burst", "source": SOURCE, "target": target + "/{name}", "tags": ["v*"], "require": {}}]
    }
    env = {
        "PROMOTION_POLICY": json.dumps(policy),
        "LEDGER_TABLE": table,
        "REGISTRY_ENDPOINT": proxy.url,
        "AWS_ENDPOINT_URL": dynamo_url,
        "AWS_REGION": "us-west-2",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "EcrPromoterBurst",
        "POWERTOOLS_SERVICE_NAME": "ecr-promoter",
    }
    context = multiprocessing.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    workers = [context.Process(target=_worker, args=(env, tasks, results)) for _ in range(concurrency)]
    for process in workers:
        process.start()
    cold = [results.get(timeout=120)["ready"] for _ in workers]
    events = {i: push_event(image.repository, image.digest, image.tag) for i, image in enumerate(pushed)}
    deliveries = Counter[int]()
    start = time.monotonic()
    for index, event in events.items():
        tasks.put((index, event))
        deliveries[index] += 1
    seconds: list[float] = []
    pending, failures, redeliveries = set(events), 0, 0
    while pending:
        try:
            done = results.get(timeout=300)
        except queue.Empty:
            raise RuntimeError(f"no progress for 300 s with {len(pending)} promotions pending") from None
        index = done["index"]
        if done["outcome"] in ("promoted", "already-promoted"):
            seconds.append(done["seconds"])
            pending.discard(index)
        elif deliveries[index] <= _LAMBDA_RETRIES:
            redeliveries += 1
            deliveries[index] += 1
            tasks.put((index, events[index]))
        else:
            failures += 1
            pending.discard(index)
            print(f"failed for good: {pushed[index].repository}: {done['outcome']}", file=sys.stderr)
        last = done["at"]
    total = last - start
    for _ in workers:
        tasks.put(None)
    for process in workers:
        process.join(timeout=30)
    proxy.close()
    wrong = sum(
        images.sha256_digest(images.get_manifest(registry_url, _target_of(image, target), "v1")[2]) != image.digest
        for image in pushed
    )
    tag_writes = {path: n for path, n in proxy.written.items() if not path.rsplit("/", 1)[1].startswith("sha256:")}
    ordered = sorted(seconds)
    return BurstResult(
        concurrency=concurrency,
        images=len(pushed),
        rate=rate,
        floor_s=len(pushed) / rate,
        total_s=total,
        p50_s=statistics.median(ordered) if ordered else math.nan,
        p95_s=ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else math.nan,
        throttled_429=proxy.throttled,
        redeliveries=redeliveries,
        failures=failures,
        duplicates=sum(n - 1 for n in tag_writes.values() if n > 1),
        wrong_targets=wrong,
        cold_start_p50_s=statistics.median(cold),
    )


def table(results: list[BurstResult]) -> str:
    lines = [
        "| reserved concurrency | images | PUT rate /s | floor s | total s | x floor | p50 s | p95 s "
        "| 429s (retries) | re-deliveries | failures | duplicates | wrong targets |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.concurrency} | {r.images} | {r.rate:g} | {r.floor_s:.1f} | {r.total_s:.1f} | "
            f"{r.total_s / r.floor_s:.2f} | {r.p50_s:.2f} | {r.p95_s:.2f} | {r.throttled_429} | {r.redeliveries} | "
            f"{r.failures} | {r.duplicates} | {r.wrong_targets} |"
        )
    return "\n".join(lines)


def burst(images_count: int, concurrencies: list[int], rate: float, progress: bool = False) -> list[BurstResult]:
    """Fresh registry and moto server; the same `images_count` images promoted once per concurrency setting."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's access log
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    results: list[BurstResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as work:
        registry = start_registry(Path(work) / "registry")
        try:
            pushed = push_sources(registry.url, images_count)
            for concurrency in concurrencies:
                results.append(run_burst(concurrency, pushed, registry.url, f"http://127.0.0.1:{moto_port}", rate))
                if progress:
                    print(table(results[-1:]).splitlines()[-1], flush=True)
        finally:
            registry.stop()
            moto.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="manifest PUTs per second let through")
    parser.add_argument("--concurrency", type=int, action="append", help="default: 2, 5, 10 and 20")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "release_burst.json")
    args = parser.parse_args(argv)
    results = burst(args.images, args.concurrency or [2, 5, 10, 20], args.rate, progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    args.out.write_text(json.dumps({"load": load, "results": [asdict(r) for r in results]}, indent=1))
    print(f"\nload average (1 min) at the end: {load:.1f}\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
