"""What the promotion attestation and the referrers probe cost a same-registry promotion (issues 14 and 18.4).

Why in-process: the function promotes with the engine imported and its clients kept for the life of the
environment, so requests and time per promotion depend on whether the process is new (its per-host memory of
"this registry has no referrers API" empty, new connections) or warm. *Cold* here: `REFERRERS_SUPPORT`
forgotten and new clients, which is what a new process starts with; *warm*: the same clients and memory,
after one promotion.

Every run starts a fresh registry with a 5-layer image pushed into it (stdlib HTTP, not the engine), and:
- mount path: `copy_image` with the tag into a new repository, cold, then again warm (a new repository);
- attestation: `copy_image` by digest, then `publish_attestation` (KMS key ECC_NIST_P256 on a moto server),
  cold, then warm; then the warm one again (a redelivery, which reuses the VSA: no write, no signing).
Requests come from the registry's access log; the subject is resolved outside the measured window (the
documented call resolves it with one HEAD: +1 request when the caller has no descriptor at hand).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from benchmarks.blobs import MIB, Blob, push_image
from benchmarks.measure import Spread
from devtools.localregistry import LocalRegistry, free_port, start_registry

LAYERS = 5
GOAL_MOUNT_WARM = 10  # issue 18: mount path ≤ 10 requests per promotion in a warm process


@dataclass(frozen=True)
class Step:
    seconds: float
    requests: int
    methods: str  # e.g. "4 GET"


@dataclass(frozen=True)
class Figure:
    label: str
    seconds: Spread
    requests: Spread
    methods: str  # of the last run, to show what the requests are


@dataclass(frozen=True)
class AttestationCost:
    runs: int
    mount_cold: Figure
    mount_warm: Figure
    copy_warm: Figure  # the copy that precedes a warm publish: what the attestation adds to
    publish_cold: Figure
    publish_warm: Figure
    redelivery: Figure

    @property
    def meets_mount_goal(self) -> bool:
        return self.mount_warm.requests.median <= GOAL_MOUNT_WARM

    def figures(self) -> list[Figure]:
        return [self.mount_cold, self.mount_warm, self.copy_warm, self.publish_cold, self.publish_warm, self.redelivery]


def _methods(entries: list[Any]) -> str:
    counts = Counter(entry.method for entry in entries)
    return ", ".join(f"{n} {method}" for method, n in sorted(counts.items()))


def _timed(registry: LocalRegistry, action: Callable[[], object]) -> Step:
    mark = registry.log_mark()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    entries = registry.access_log(mark)
    return Step(seconds, len(entries), _methods(entries))


@contextmanager
def kms_key() -> Iterator[tuple[Any, str]]:
    """A moto server with one ECC_NIST_P256 SIGN_VERIFY key: (kms client, key ARN)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        kms = boto3.client(
            "kms",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        yield kms, str(arn)
    finally:
        server.stop()


def _one_run(kms: Any, key_arn: str) -> dict[str, Step]:
    from promoter.attest.kms import KmsSigner
    from promoter.provenance import evidence_descriptor, publish_attestation
    from promoter.registry import RegistryClient, copy_image
    from promoter.registry.capabilities import REFERRERS_SUPPORT

    signer = KmsSigner(kms, key_arn)
    steps: dict[str, Step] = {}
    with start_registry() as registry:
        image = push_image(registry.url, "dev/app", "v1", [Blob.random_layer(MIB) for _ in range(LAYERS)])

        def publish(client: RegistryClient, repository: str) -> Callable[[], object]:
            subject = client.resolve(repository, image.digest)
            assert subject is not None
            return lambda: publish_attestation(
                client,
                repository,
                subject,
                rule="bench",
                policy={"rules": [{"name": "bench", "source": "dev/*", "target": "prod/{name}"}]},
                input_attestations=[evidence_descriptor(b"signed test result"), evidence_descriptor({"scan": []})],
                verifier_id="arn:aws:lambda:us-west-2:123456789012:function:bench",
                verifier_version={"ecr-promoter": "bench"},
                clock=lambda: dt.datetime.now(dt.UTC),
                signer=signer,
            )

        def new_process() -> RegistryClient:
            REFERRERS_SUPPORT.forget()
            return RegistryClient.for_endpoint(registry.url)

        client = new_process()
        for state in ("cold", "warm"):
            copy = partial(copy_image, client, "dev/app", "v1", client, f"prod/mount-{state}", ("v1",))
            steps[f"mount {state}"] = _timed(registry, copy)
        client.close()
        client = new_process()
        for state in ("cold", "warm"):
            repository = f"prod/attested-{state}"
            copy = partial(copy_image, client, "dev/app", image.digest, client, repository, ())
            steps[f"copy {state}"] = _timed(registry, copy)
            steps[f"publish {state}"] = _timed(registry, publish(client, repository))
        steps["redelivery"] = _timed(registry, publish(client, "prod/attested-warm"))
        client.close()
    return steps


def measure(runs: int, progress: Callable[[str], None] = print) -> AttestationCost:
    """`runs` rounds on fresh registries; medians and spreads per step."""
    samples: list[dict[str, Step]] = []
    with kms_key() as (kms, arn):
        for _ in range(runs):
            samples.append(_one_run(kms, arn))

    def figure(key: str, label: str) -> Figure:
        steps = [sample[key] for sample in samples]
        return Figure(
            label,
            Spread.of(step.seconds for step in steps),
            Spread.of(float(step.requests) for step in steps),
            steps[-1].methods,
        )

    cost = AttestationCost(
        runs=runs,
        mount_cold=figure("mount cold", "mount path promotion, cold process"),
        mount_warm=figure("mount warm", "mount path promotion, warm process"),
        copy_warm=figure("copy warm", "copy by digest before a warm publish"),
        publish_cold=figure("publish cold", "attestation, first promotion of a cold process"),
        publish_warm=figure("publish warm", "attestation, warm process"),
        redelivery=figure("redelivery", "attestation, redelivery (reused)"),
    )
    for item in cost.figures():
        progress(f"  {item.label:<50} {item.seconds.text()} s  {item.requests.median:3.0f} req ({item.methods})")
    return cost


def report_lines(cost: AttestationCost) -> list[str]:
    """The Markdown section: mount path requests cold/warm and what the attestation adds per promotion."""
    mark = "✓" if cost.meets_mount_goal else "✗"
    added = cost.publish_warm.seconds.median / cost.copy_warm.seconds.median
    return [
        "## Mount path and attestation cost per promotion (issues 18.4 and 14)",
        "",
        f"In-process, same registry, a {LAYERS}-layer image (+ config); median of {cost.runs} runs (min-max), a fresh",
        "registry per run. *Cold*: the first promotion of a process (per-host referrers memory empty, new",
        "clients); *warm*: a later one. The attestation is `publish_attestation` (SLSA VSA, DSSE, signed by a",
        "KMS key ECC_NIST_P256 on a moto server: the KMS round trip is local here, real KMS adds its own",
        "latency) after a copy by digest, before the tag. Its subject is resolved outside the window (+1 HEAD).",
        "",
        "| step | s | requests | what |",
        "|---|---:|---:|---|",
        *(f"| {f.label} | {f.seconds.text()} | {f.requests.text(0)} | {f.methods} |" for f in cost.figures()),
        "",
        f"- Mount path, warm process: {cost.mount_warm.requests.median:.0f} requests per promotion "
        f"(cold {cost.mount_cold.requests.median:.0f}); goal ≤ {GOAL_MOUNT_WARM}: {mark}.",
        f"- Attestation adds {cost.publish_warm.requests.median:.0f} requests and "
        f"{cost.publish_warm.seconds.median * 1000:.0f} ms to a warm promotion ({added:.1f} x its copy by digest;"
        f" cold: {cost.publish_cold.requests.median:.0f} requests, {cost.publish_cold.seconds.median * 1000:.0f} ms); "
        f"a redelivery adds {cost.redelivery.requests.median:.0f} ({cost.redelivery.methods}), nothing written.",
        "",
    ]
