"""Duplicate deliveries of one event in separate processes, against a shared moto server and a real registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from devtools import images
from devtools.eventfactory import push_event
from devtools.localregistry import LocalRegistry, free_port
from tests.support.promotion import TABLE, create_ledger_table

ROOT = Path(__file__).resolve().parents[2]


def deliver_concurrently_and_check(
    registry: LocalRegistry, repo_name: Callable[[str], str], tmp_path: Path, processes: int
) -> None:
    """One push event delivered by `processes` processes at once: exactly one promotion, no errors."""
    # Given a moto server shared by every process, and an image that qualifies
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_REGION": "us-west-2",
            "AWS_ENDPOINT_URL": endpoint,
            # moto servers in one process share their state: every run gets its own table
            "LEDGER_TABLE": f"{TABLE}-{uuid.uuid4().hex[:8]}",
            "REGISTRY_ENDPOINT": registry.url,
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_NAMESPACE": "EcrPromoterTest",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}",
        }
        dynamodb = boto3.client(
            "dynamodb", region_name="us-west-2", endpoint_url=endpoint, aws_access_key_id="t", aws_secret_access_key="t"
        )
        create_ledger_table(dynamodb, env["LEDGER_TABLE"])
        dev, prod = repo_name("dev"), repo_name("prod")
        env["PROMOTION_POLICY"] = json.dumps({"rules": [{"name": "r", "source": dev, "target": prod}]})
        image = images.push_image(registry.url, dev, "v1", images.random_layers(4, 64 * 1024))
        event = json.dumps(push_event(dev, image.digest, "v1"))
        go = tmp_path / "go"

        # When the same event is delivered by several processes at the same moment
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.support.invoke_once", str(go)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ROOT,
                env=env,
                text=True,
            )
            for _ in range(processes)
        ]
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(event)
            worker.stdin.close()
        go.touch()
        results = []
        for worker in workers:
            stdout = worker.stdout.read() if worker.stdout else ""
            stderr = worker.stderr.read() if worker.stderr else ""
            assert worker.wait(timeout=120) == 0, stderr
            results.append(json.loads(stdout.strip().splitlines()[-1]))

        # Then exactly one promoted, the rest already-promoted, and one decision recorded
        outcomes = sorted(result["decisions"][0]["outcome"] for result in results)
        assert outcomes == ["already-promoted"] * (processes - 1) + ["promoted"]
        items = dynamodb.scan(TableName=env["LEDGER_TABLE"])["Items"]
        assert len([item for item in items if item["sk"]["S"].startswith("PROMOTED#")]) == 1
        assert len([item for item in items if item["sk"]["S"].startswith("DECISION#")]) == 1
        assert images.get_manifest(registry.url, prod, "v1")[2] == image.manifest
    finally:
        server.stop()
